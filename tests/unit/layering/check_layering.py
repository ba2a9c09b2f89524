#!/usr/bin/env python3
"""The include graph of the connector's libraries (docs/architecture.md, "Include graph"):

    app -> {sources, sinks, processors, enrichment -> mapping -> record} -> core -> {config, state, buffer}

Every `#include "connector/..."` or `#include "sinks/..."` of a library's files must name a module
its layer may use (ALLOWED), and that module's library must be among the DEPS its CMakeLists.txt
declares (a library declares what it links). Exits 1 and names file:line for each violation.
Usage: check_layering.py SOURCE_DIR
"""
import pathlib
import re
import sys

# Module (a folder) -> the modules it may include. A module may always include itself.
ALLOWED = {
    "connector/record": set(),
    "connector/state": set(),
    # the disk buffer writes its segments through the state store's file-operation seam (StateFileOps)
    "connector/buffer": {"connector/state"},
    "connector/http": set(),
    "connector/config": {"connector/record"},
    "connector/auth": {"connector/config", "connector/http"},
    "connector/core": {"connector/config", "connector/state", "connector/buffer"},
    "connector/mapping": {"connector/core", "connector/config", "connector/record"},
    "connector/enrichment": {"connector/mapping", "connector/core", "connector/config", "connector/record",
                             "connector/state"},
    "connector/processors": {"connector/core", "connector/config", "connector/state"},
    "connector/observability": {"connector/core"},
    "sources": {"connector/core", "connector/record", "connector/config", "connector/state", "connector/http",
                "connector/auth",
                # the librdkafka client settings the eventhub_kafka source shares with the Kafka sink
                "sinks/kafka"},
    "sinks": {"connector/core", "connector/config", "connector/state", "connector/http", "connector/auth"},
    "connector/app": None,  # the top: anything
}
# Modules whose layer is a family of plugin folders.
FAMILIES = {"connector/sources": "sources", "sinks": "sinks"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"((?:connector|sinks)/[^"]+)"')
MODULE_CALL = re.compile(r"siem_module\((\w+)(.*?)\)", re.S)


def module_of(rel):
    parts = rel.split("/")
    if parts[0] == "connector" and len(parts) > 2 and parts[1] == "sources":
        return "/".join(parts[:3])
    if parts[0] == "sinks" and len(parts) > 2:
        return "/".join(parts[:2])
    if parts[0] == "connector" and len(parts) > 2:
        return "/".join(parts[:2])
    return None


def layer_of(module):
    for prefix, layer in FAMILIES.items():
        if module.startswith(prefix + "/"):
            return layer
    return module


def libraries(root):
    """module -> (names of the libraries it builds, the DEPS they declare)."""
    out = {}
    for cm in list(root.glob("connector/*/CMakeLists.txt")) + list(root.glob("connector/sources/*/CMakeLists.txt")) \
            + list(root.glob("sinks/*/CMakeLists.txt")):
        module = str(cm.parent.relative_to(root))
        text = re.sub(r"#[^\n]*", "", cm.read_text())
        names, deps = set(), set()
        for m in MODULE_CALL.finditer(text):
            names.add(m.group(1))
            body = m.group(2)
            if "DEPS" in body:
                deps |= set(re.findall(r"siem_\w+", body.split("DEPS", 1)[1]))
        out[module] = (names, deps)
    return out


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    libs = libraries(root)
    errors = []
    files = [p for d in ("connector", "sinks") for p in (root / d).rglob("*") if p.suffix in (".h", ".cc")]
    for path in sorted(files):
        rel = str(path.relative_to(root))
        module = module_of(rel)
        if module is None:
            continue
        layer = layer_of(module)
        if layer not in ALLOWED:
            errors.append(f"{rel}: module {module} is not in the include graph (tests/unit/layering/check_layering.py)")
            continue
        allowed = ALLOWED[layer]
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = module_of(m.group(1))
            if target is None or target == module:
                continue
            if allowed is not None and target not in allowed and layer_of(target) not in allowed:
                errors.append(f"{rel}:{lineno}: {module} must not include {m.group(1)} "
                              f"(the include graph lets {layer} use: {', '.join(sorted(allowed)) or 'nothing'})")
                continue
            names, deps = libs.get(module, (set(), set()))
            target_names = libs.get(target, (set(), set()))[0]
            if names and target_names and not (deps & target_names) and not (names & target_names):
                errors.append(f"{rel}:{lineno}: includes {m.group(1)} but {module}/CMakeLists.txt does not declare "
                              f"{' or '.join(sorted(target_names))} in DEPS")
    for e in errors:
        print(e)
    if errors:
        print(f"layering: {len(errors)} violation(s)")
        return 1
    print(f"layering: {len(files)} files checked, include graph respected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
