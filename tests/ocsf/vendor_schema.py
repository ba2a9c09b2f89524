#!/usr/bin/env python3
"""Copies the OCSF schema files the connector's output is validated against into tests/data/ocsf-schema.

Usage: vendor_schema.py GIT_DIR TAG DEST
GIT_DIR is a clone of github.com/ocsf/ocsf-schema; TAG the release (1.3.0). Copies dictionary.json,
categories.json, version.json, the event classes below with everything they extend or include, the
profiles the connector declares, and every object those reach (transitively, with what they extend).
Run once when the target version changes; record the commit in tests/data/PROVENANCE.md.
"""
import json
import os
import subprocess
import sys

CLASSES = [
    "events/base_event.json", "events/iam/iam.json", "events/iam/account_change.json",
    "events/iam/user_access.json", "events/iam/group_management.json", "events/iam/authentication.json",
    "events/iam/entity_management.json",
    "events/application/application.json", "events/application/api.json",
    "events/findings/finding.json", "events/findings/detection_finding.json",
    "events/discovery/discovery.json", "events/discovery/user_inventory.json",
]
PROFILES = ["profiles/cloud.json"]  # the profiles the mappings declare in metadata.profiles


def main():
    git_dir, tag, dest = sys.argv[1:4]

    def show(path):
        return subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{path}"],
                              check=True, capture_output=True).stdout

    files = {}

    def take(path):
        if path not in files:
            files[path] = show(path)
        return json.loads(files[path])

    dictionary = take("dictionary.json")
    take("categories.json")
    take("version.json")
    objects_needed = set()

    def scan(doc, dict_attrs):
        attrs = doc.get("attributes", {})
        for inc in attrs.get("$include", []):
            if inc.startswith("profiles/") and inc not in PROFILES:
                continue  # an undeclared profile's attributes are not allowed anyway
            scan(take(inc), dict_attrs)
        for name, spec in attrs.items():
            if name == "$include":
                continue
            t = spec.get("type") or dict_attrs.get(name, {}).get("type", "")
            if t and not t.endswith("_t") and t != "object":
                objects_needed.add(t)

    for c in CLASSES:
        scan(take(c), dictionary["attributes"])
    done = set()
    while objects_needed - done:
        name = sorted(objects_needed - done)[0]
        done.add(name)
        obj = take(f"objects/{name}.json")
        if "extends" in obj:
            objects_needed.add(obj["extends"])
        scan(obj, dictionary["attributes"])
    for path, data in files.items():
        out = os.path.join(dest, path)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as f:
            f.write(data)
    print(f"{len(files)} files")


if __name__ == "__main__":
    main()
