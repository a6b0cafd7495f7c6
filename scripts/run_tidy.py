#!/usr/bin/env python3
"""clang-tidy over every non-test source, skipping translation units already verified clean.

A translation unit's key is a hash of what clang-tidy reads for it: its compile command, the content of every file
it includes (the build's dependency record from ninja, written by the compiler; where a unit has no valid record,
its preprocessed text with comments kept), the .clang-tidy file and the compilers' and clang-tidy's versions.
The repository's path is replaced by a placeholder, so a clean clone elsewhere gets the same keys. A unit whose key
is in the record (.ci/tidy-verified) was linted clean with exactly that input and is not linted again; any change to
it or to anything it includes changes the key, and it is linted. After a clean run the record is rewritten with the
keys of every current unit, so committing it carries the work forward; a stale or missing record only costs time.

Usage: scripts/run_tidy.py [BUILD_DIR] [JOBS]
"""
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORD = os.path.join(ROOT, ".ci", "tidy-verified")
# Our sources, not the tests' and not generated ones (the build folder is not ours to lint).
SOURCE = re.compile(re.escape(ROOT) + r"/src/.*(?<!_test)\.cpp$")
EXTRA = "-extra-arg=-Wno-unknown-warning-option"  # gcc's -Wno-restrict is unknown to clang


def preprocess_command(entry):
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a == "-c":
            continue
        out.append(a)
    return out + ["-E", "-C"]


def object_of(entry):
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    return args[args.index("-o") + 1] if "-o" in args else None


def ninja_deps(build):
    """{object: [included files]} for the objects whose dependency record is valid."""
    proc = subprocess.run(["ninja", "-C", build, "-t", "deps"], capture_output=True, text=True)
    deps, current = {}, None
    for line in proc.stdout.splitlines():
        if not line.strip():
            current = None
        elif not line.startswith(" "):
            obj, _, rest = line.partition(": ")
            current = deps.setdefault(obj, []) if rest.endswith("(VALID)") else None
        elif current is not None:
            current.append(line.strip())
    return deps


_contents = {}


def content_hash(path):
    if path not in _contents:
        with open(path, "rb") as f:
            _contents[path] = hashlib.sha256(f.read().replace(ROOT.encode(), b"@ROOT@")).hexdigest()
    return _contents[path]


def key_of(entry, salt, deps):
    h = hashlib.sha256(salt)
    h.update(entry.get("command", " ".join(entry.get("arguments", []))).replace(ROOT, "@ROOT@").encode())
    h.update(b"\0")
    files = deps.get(object_of(entry))
    if files:
        try:
            for path in files:
                h.update(f"{path.replace(ROOT, '@ROOT@')} {content_hash(path)}\n".encode())
            return h.hexdigest()
        except OSError:
            pass
    proc = subprocess.run(preprocess_command(entry), cwd=entry["directory"], capture_output=True)
    if proc.returncode != 0:
        return None  # let clang-tidy report it
    h.update(b"E\0")
    h.update(proc.stdout.replace(ROOT.encode(), b"@ROOT@"))
    return h.hexdigest()


def lint(build, path):
    proc = subprocess.run(["clang-tidy", "-p", build, "--quiet", EXTRA.replace("-extra-arg", "--extra-arg"), path],
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "release"))
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count() or 1
    db = os.path.join(build, "compile_commands.json")
    if not os.path.exists(db):
        sys.exit(f"no {db}: configure first")
    entries = [e for e in json.load(open(db)) if SOURCE.match(os.path.join(e["directory"], e["file"]))]
    version = "".join(subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
                      for tool in ("clang-tidy", "c++", "clang++"))
    salt = (version + open(os.path.join(ROOT, ".clang-tidy")).read() + EXTRA).encode()
    verified = set()
    if os.path.exists(RECORD):
        verified = {line.split()[0] for line in open(RECORD) if line.strip() and not line.startswith("#")}

    with ThreadPoolExecutor(jobs) as pool:
        deps = ninja_deps(build)
        keys = list(pool.map(lambda e: key_of(e, salt, deps), entries))
        todo = [e["file"] for e, k in zip(entries, keys) if k is None or k not in verified]
        print(f"clang-tidy: {len(entries) - len(todo)} of {len(entries)} units verified clean before, "
              f"linting {len(todo)}", flush=True)
        results = list(pool.map(lambda f: (f, *lint(build, f)), todo))

    log = os.path.join(build, "clang-tidy.log")
    failed = [(f, text) for f, rc, text in results if rc != 0]
    with open(log, "w") as out:
        for f, rc, text in results:
            out.write(f"== {f} (exit {rc})\n{text}\n")
    if failed:
        strip = re.compile(r"\x1b\[[0-9;]*m")
        lines = sorted({strip.sub("", l) for _, t in failed for l in t.splitlines()
                        if re.search(r"(warning|error):", l)})
        print("\n".join(lines[:50]))
        sys.exit(f"clang-tidy failed in {len(failed)} units; the whole log is {log}")
    if all(k is not None for k in keys):
        rows = sorted((os.path.relpath(e["file"], ROOT), k) for e, k in zip(entries, keys))
        os.makedirs(os.path.dirname(RECORD), exist_ok=True)
        with open(RECORD, "w") as out:
            out.write("# clang-tidy verified these translation units clean (scripts/run_tidy.py writes it)\n")
            out.writelines(f"{k} {path}\n" for path, k in rows)
    print("clang-tidy: clean")


if __name__ == "__main__":
    main()
