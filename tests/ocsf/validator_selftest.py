#!/usr/bin/env python3
"""The OCSF validator must accept a valid event and reject each kind of fault it is meant to find.
Usage: validator_selftest.py SCHEMA_DIR"""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocsf_validate  # noqa: E402

GOOD = {
    "class_uid": 3005, "category_uid": 3, "activity_id": 1, "type_uid": 300501, "time": 1734366736087,
    "severity_id": 4, "status_id": 1, "message": "m",
    "metadata": {"version": "1.3.0", "uid": "PIM_1", "product": {"name": "Entra ID", "vendor_name": "Microsoft"},
                 "profiles": ["cloud"]},
    "cloud": {"provider": "Azure", "account": {"uid": "t"}},
    "user": {"uid": "u", "name": "Malenia"}, "privileges": ["Global Administrator"],
    "src_endpoint": {"ip": "1.2.3.4"},
    "enrichments": [{"name": "privileged_access", "value": "tier0", "data": {"tier": 0}}],
    "unmapped": {"anything": {"goes": [1, "x"]}},
}


def mutate(path, value=None, delete=False):
    e = copy.deepcopy(GOOD)
    cur = e
    keys = path.split(".")
    for k in keys[:-1]:
        cur = cur[int(k)] if isinstance(cur, list) else cur[k]
    if delete:
        del cur[keys[-1]]
    elif isinstance(cur, list):
        cur[int(keys[-1])] = value
    else:
        cur[keys[-1]] = value
    return e


BAD = [
    ("time as a string", mutate("time", "2024-12-16T16:32:16Z"), "time: expected timestamp_t"),
    ("severity_id missing", mutate("severity_id", delete=True), "severity_id: required attribute missing"),
    ("status_id outside its enum", mutate("status_id", 7), "status_id: 7 is not a value of the enum"),
    ("activity_id outside the class enum", mutate("activity_id", 3), "activity_id: 3 is not a value"),
    ("type_uid inconsistent", mutate("type_uid", 300502), "type_uid: 300502 is not class_uid * 100 + activity_id"),
    ("category_uid of another category", mutate("category_uid", 6), "category_uid"),
    ("unknown class", mutate("class_uid", 9999), "class_uid: 9999 is not a vendored"),
    ("attribute unknown to the class", mutate("group", {"name": "g"}), "group: not an attribute of the class"),
    ("attribute unknown to an object", mutate("user.bogus", 1), "user.bogus: not an attribute of this object"),
    ("required object attribute missing", mutate("metadata.product.vendor_name", delete=True), "metadata.product.vendor_name: required"),
    ("array expected", mutate("privileges", "Global Administrator"), "privileges: expected an array"),
    ("object expected", mutate("user", "Malenia"), "user: expected an object"),
    ("integer given a boolean", mutate("severity_id", True), "severity_id: expected integer_t"),
    ("not an IP address", mutate("src_endpoint.ip", "<IP ADDRESS>"), "src_endpoint.ip: not an IP address"),
    ("class attribute of an undeclared profile", mutate("metadata.profiles", []), "cloud: not an attribute of the class"),
    ("object constraint at_least_one", mutate("user", {"full_name": "x"}), "needs at least one of"),
    ("required class attribute missing", mutate("privileges", delete=True), "privileges: required attribute missing"),
    ("schema version", mutate("metadata.version", "1.1.0"), "metadata.version"),
    ("null value", mutate("message", None), "message: null value"),
]


def problems(schema, event):
    v = ocsf_validate.Validator(schema)
    v.check_event(json.loads(json.dumps(event)))
    return v.problems


def main():
    schema = ocsf_validate.Schema(sys.argv[1])
    failed = 0
    got = problems(schema, GOOD)
    if got:
        print(f"FAIL the valid event was rejected: {got}")
        failed += 1
    for name, event, expected in BAD:
        got = problems(schema, event)
        if not any(expected in p for p in got):
            print(f"FAIL {name}: expected a problem containing {expected!r}, got {got}")
            failed += 1
    print(f"{len(BAD) + 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
