"""Fail when the first-party packages drift apart in version or in their core pin.

All lamella-* packages are released in lockstep under one version, and every
plugin requires lamella-core>=X.Y,<X.(Y+1) of that version.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10, the oldest lamella supports: the same parser, as a package
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    projects = {
        path.parent.name: tomllib.loads(path.read_text())["project"]
        for path in sorted((ROOT / "packages").glob("*/pyproject.toml"))
    }
    versions = {name: project["version"] for name, project in projects.items()}
    problems = []
    if len(set(versions.values())) != 1:
        problems.append(f"versions differ: {versions}")
    core = versions.get("core", "")
    major, minor = (int(part) for part in core.split(".")[:2])
    wanted = f"lamella-core>={major}.{minor},<{major}.{minor + 1}"
    for name, project in projects.items():
        if name == "core":
            continue
        pins = [d for d in project.get("dependencies", []) if re.match(r"lamella-core\b", d)]
        if pins != [wanted]:
            problems.append(f"{name} must depend on {wanted!r}, has {pins}")
    for problem in problems:
        print(problem)
    if not problems:
        print(f"all {len(projects)} packages at {core}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
