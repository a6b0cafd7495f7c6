#!/usr/bin/env python3
"""The layers of DESIGN.md, checked: a module's code includes only its own headers and those of the modules below
it. Tests (*_test.cpp) may include what their CMake target links. Exits 1 and names each include that crosses a
layer the wrong way. Usage: check_layers.py [SRC_DIR]
"""
import os
import re
import sys

# Who may include whom (DESIGN.md: core <- io <- engines <- brain <- server <- apps; the server calls facades only).
ALLOWED = {
    "core": set(),
    "io": {"core"},
    "traffic": {"core", "io"},
    "incident": {"core"},
    "dispatch": {"core", "io"},
    "nlp": {"core"},
    "vision": {"core", "incident"},
    "clinic": {"core"},
    "vault": {"core"},
    "agents": {"core", "incident", "nlp", "vault"},
    "district": {"core", "io", "traffic", "incident", "dispatch", "nlp"},
    "zones": {"core", "incident"},
    "web": set(),
    "server": {"core", "incident", "agents", "vision", "clinic", "vault", "zones", "web"},
    "apps": {"core", "io", "traffic", "incident", "dispatch", "nlp", "vision", "clinic", "vault", "district", "zones", "agents", "web", "server"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    bad = []
    for module in sorted(os.listdir(src)):
        path = os.path.join(src, module)
        if not os.path.isdir(path):
            continue
        if module not in ALLOWED:
            bad.append(f"{module}/: a module that check_layers.py does not know; add it to ALLOWED")
            continue
        for root, _, files in os.walk(path):
            for name in files:
                if not name.endswith((".cpp", ".hpp", ".in")) or name.endswith("_test.cpp"):
                    continue
                text = open(os.path.join(root, name), encoding="utf-8").read()
                for target in INCLUDE.findall(text):
                    if target != module and target not in ALLOWED[module]:
                        rel = os.path.relpath(os.path.join(root, name), src)
                        bad.append(f"{rel}: includes {target}/, which {module}/ may not use "
                                   f"(allowed: {', '.join(sorted(ALLOWED[module])) or 'nothing'})")
    for line in bad:
        print(line)
    if bad:
        return 1
    print(f"layers: every include in {len(ALLOWED)} modules points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
