#!/usr/bin/env python3
"""Validates OCSF events (one JSON object per line) against the vendored OCSF schema.

Usage: ocsf_validate.py SCHEMA_DIR [FILE ...]   (no FILE: standard input)

For every event: its class (class_uid) must be one of the vendored classes and category_uid its
category; type_uid = class_uid * 100 + activity_id; every attribute the class requires (and the
profiles the event declares in metadata.profiles) is present; every attribute is one the class, a
declared profile or the referenced object defines; each value has the dictionary's type
(string/integer/long/float/boolean/timestamp/json/object, arrays where is_array); ip_t values are IP
addresses; every enumerated attribute (the *_id ones) holds one of its enum values; objects'
required attributes and at_least_one/just_one constraints hold. Prints FILE:LINE: path: problem for
each violation and exits 1 when there is any (2 for a usage or schema error).
Only the Python standard library is used; the schema files are read as the OCSF server reads them
(extends, $include of includes/ and profiles/, dictionary types and enums).
"""
import ipaddress
import json
import os
import sys

PRIMITIVES = {"string_t", "integer_t", "long_t", "float_t", "boolean_t", "json_t", "object"}
MAX_DEPTH = 32


class Schema:
    def __init__(self, root):
        self.root = root
        self.dictionary = self.load("dictionary.json")
        self.dict_attrs = self.dictionary["attributes"]
        self.types = self.dictionary["types"]["attributes"]
        self.categories = {name: c["uid"] for name, c in self.load("categories.json")["attributes"].items()}
        self.version = self.load("version.json")["version"]
        self.classes = {}  # class_uid -> resolved class
        self.by_name = {}
        for dirpath, _, names in os.walk(os.path.join(root, "events")):
            for n in sorted(names):
                doc = self.load(os.path.relpath(os.path.join(dirpath, n), root))
                self.by_name[doc["name"]] = doc
        self.objects = {}
        for n in os.listdir(os.path.join(root, "objects")):
            doc = self.load(os.path.join("objects", n))
            self.objects[doc["name"]] = doc
        for name in self.by_name:
            cls = self.resolve_class(name)
            if cls["uid"] is not None:
                self.classes[cls["class_uid"]] = cls
        self.resolved_objects = {}

    def load(self, rel):
        with open(os.path.join(self.root, rel), encoding="utf-8") as f:
            return json.load(f)

    def merge_attributes(self, into, attrs, profile=None):
        for inc in attrs.get("$include", []):
            path = os.path.join(self.root, inc)
            if not os.path.exists(path):
                continue  # a profile that was not vendored: its attributes are not allowed
            inc_doc = self.load(inc)
            prof = inc_doc.get("name") if inc.startswith("profiles/") else profile
            self.merge_attributes(into, inc_doc.get("attributes", {}), prof)
        for name, spec in attrs.items():
            if name == "$include":
                continue
            merged = dict(into.get(name, {}))
            merged.update(spec)
            if profile is None:
                merged.pop("_profile", None)  # defined by the class or object itself
            elif name not in into:
                merged["_profile"] = profile
            into[name] = merged

    def resolve_class(self, name):
        doc = self.by_name[name]
        if "extends" in doc:
            parent = self.resolve_class(doc["extends"])
            attrs = {k: dict(v) for k, v in parent["attributes"].items()}
            category = doc.get("category", parent["category"])
        else:
            attrs, category = {}, doc.get("category", "other")
        self.merge_attributes(attrs, doc.get("attributes", {}))
        cat_uid = self.categories.get(category, 0)
        uid = doc.get("uid", 0 if name == "base_event" else None)
        return {"name": name, "uid": uid, "category": category, "category_uid": cat_uid,
                "class_uid": cat_uid * 1000 + uid if uid is not None else None,
                "attributes": attrs, "constraints": doc.get("constraints", {})}

    def resolve_object(self, name):
        if name in self.resolved_objects:
            return self.resolved_objects[name]
        doc = self.objects.get(name)
        if doc is None:
            return None
        attrs = {}
        constraints = {}
        if "extends" in doc and doc["extends"] != "object":
            parent = self.resolve_object(doc["extends"])
            attrs = {k: dict(v) for k, v in parent["attributes"].items()}
            constraints = dict(parent["constraints"])
        self.merge_attributes(attrs, doc.get("attributes", {}))
        constraints.update(doc.get("constraints", {}))
        obj = {"name": name, "attributes": attrs, "constraints": constraints}
        self.resolved_objects[name] = obj
        return obj

    def base_type(self, t):
        seen = 0
        while t not in PRIMITIVES and t in self.types and seen < 10:
            nxt = self.types[t].get("type")
            if nxt is None:
                break
            t, seen = nxt, seen + 1
        return t


class Validator:
    def __init__(self, schema):
        self.s = schema
        self.problems = []

    def problem(self, path, text):
        self.problems.append(f"{path}: {text}")

    def spec_of(self, name, spec):
        d = self.s.dict_attrs.get(name, {})
        t = spec.get("type") or d.get("type")
        is_array = spec.get("is_array", d.get("is_array", False))
        enum = None
        if "enum" in d or "enum" in spec:
            enum = set(d.get("enum", {})) | set(spec.get("enum", {}))
        return t, is_array, enum

    def check_attributes(self, path, value, attrs, constraints, profiles, depth, top=False):
        here = path.rstrip(".") or "event"
        if not isinstance(value, dict):
            self.problem(here, f"expected an object, got {type(value).__name__}")
            return
        if depth > MAX_DEPTH:
            self.problem(here, "nested too deeply")
            return
        allowed = {k: v for k, v in attrs.items() if v.get("_profile") is None or v["_profile"] in profiles}
        for name, spec in allowed.items():
            if spec.get("requirement") == "required" and name not in value:
                self.problem(f"{path}{name}", "required attribute missing")
        for group in constraints.get("at_least_one", []) and [constraints["at_least_one"]]:
            if not any(k in value for k in group):
                self.problem(here, f"needs at least one of {', '.join(group)}")
        if "just_one" in constraints and sum(k in value for k in constraints["just_one"]) != 1:
            self.problem(here, f"needs exactly one of {', '.join(constraints['just_one'])}")
        for name, v in value.items():
            where = f"{path}{name}"
            if name not in allowed:
                hint = " (attribute of a profile not declared in metadata.profiles)" if name in attrs else ""
                self.problem(where, f"not an attribute of {'the class' if top else 'this object'}{hint}")
                continue
            t, is_array, enum = self.spec_of(name, allowed[name])
            if v is None:
                self.problem(where, "null value (leave the attribute out instead)")
                continue
            if is_array:
                if not isinstance(v, list):
                    self.problem(where, f"expected an array, got {type(v).__name__}")
                    continue
                for i, item in enumerate(v):
                    self.check_value(f"{where}[{i}]", item, t, enum, profiles, depth + 1)
            else:
                self.check_value(where, v, t, enum, profiles, depth + 1)

    def check_value(self, where, v, t, enum, profiles, depth):
        base = self.s.base_type(t) if t else "json_t"
        ok = True
        if base == "string_t":
            ok = isinstance(v, str)
        elif base in ("integer_t", "long_t"):
            ok = isinstance(v, int) and not isinstance(v, bool)
            if ok and base == "integer_t" and not -2**31 <= v < 2**31:
                self.problem(where, f"{v} does not fit integer_t")
        elif base == "float_t":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif base == "boolean_t":
            ok = isinstance(v, bool)
        elif base == "json_t":
            ok = True
        elif base == "object":
            ok = isinstance(v, dict)
        else:
            obj = self.s.resolve_object(base)
            if obj is None:
                self.problem(where, f"type {t} is not a vendored object")
                return
            self.check_attributes(where + ".", v, obj["attributes"], obj["constraints"], profiles, depth)
            return
        if not ok:
            self.problem(where, f"expected {t}, got {json.dumps(v)[:80]}")
            return
        if t == "ip_t":
            try:
                ipaddress.ip_address(v)
            except ValueError:
                self.problem(where, f"not an IP address: {v!r}")
        if enum is not None and str(v) not in enum:
            self.problem(where, f"{v} is not a value of the enum ({', '.join(sorted(enum, key=int))})")

    def check_event(self, event):
        if not isinstance(event, dict):
            self.problem("event", "not a JSON object")
            return
        class_uid = event.get("class_uid")
        cls = self.s.classes.get(class_uid)
        if cls is None:
            self.problem("class_uid", f"{class_uid!r} is not a vendored OCSF {self.s.version} class")
            return
        if event.get("category_uid") != cls["category_uid"]:
            self.problem("category_uid", f"{event.get('category_uid')!r}, class {class_uid} is in category {cls['category_uid']}")
        activity = event.get("activity_id")
        if isinstance(activity, int) and event.get("type_uid") != class_uid * 100 + activity:
            self.problem("type_uid", f"{event.get('type_uid')!r} is not class_uid * 100 + activity_id = {class_uid * 100 + activity}")
        meta = event.get("metadata")
        profiles = set(meta.get("profiles", [])) if isinstance(meta, dict) and isinstance(meta.get("profiles"), list) else set()
        if isinstance(meta, dict) and meta.get("version") != self.s.version:
            self.problem("metadata.version", f"{meta.get('version')!r}, the vendored schema is {self.s.version}")
        attrs = {k: v for k, v in cls["attributes"].items() if k not in ("class_uid", "category_uid", "type_uid")}
        # class_uid / category_uid / type_uid are checked above (their enums are filled per class)
        rest = {k: v for k, v in event.items() if k not in ("class_uid", "category_uid", "type_uid")}
        for k in ("class_uid", "category_uid", "type_uid"):
            if not isinstance(event.get(k), int) or isinstance(event.get(k), bool):
                self.problem(k, "required integer missing")
        self.check_attributes("", rest, attrs, cls["constraints"], profiles, 0, top=True)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        schema = Schema(sys.argv[1])
    except (OSError, ValueError, KeyError) as e:
        print(f"cannot read the schema in {sys.argv[1]}: {e}", file=sys.stderr)
        return 2
    inputs = sys.argv[2:] or ["-"]
    failed = events = 0
    for name in inputs:
        f = sys.stdin if name == "-" else open(name, encoding="utf-8")
        with f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                events += 1
                v = Validator(schema)
                try:
                    v.check_event(json.loads(line))
                except ValueError as e:
                    v.problem("event", f"invalid JSON: {e}")
                for p in v.problems:
                    print(f"{name}:{lineno}: {p}")
                failed += bool(v.problems)
    print(f"{events} events, {failed} invalid (OCSF {schema.version})", file=sys.stderr)
    return 1 if failed or not events else 0


if __name__ == "__main__":
    sys.exit(main())
