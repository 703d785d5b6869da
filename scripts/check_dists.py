"""Check the wheels and sdists that ``nox -s build`` made, as an index would show them.

For every package under packages/ there must be one wheel and one sdist, and each wheel's
metadata must be complete: the MIT licence expression with the repository's LICENSE file
inside, classifiers naming the oldest supported Python, project URLs, a Markdown
description, version ranges rather than pins (only constraints.txt pins), and a
requirement for everything its code imports. Reading the built files, not the
pyproject.toml files, checks what users get.

    python scripts/check_dists.py DIST_DIR
"""

from __future__ import annotations

import ast
import re
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LICENSE = (ROOT / "LICENSE").read_text()
#: Import names that differ from the distribution that provides them.
DISTRIBUTION_OF = {"PIL": "pillow", "yaml": "pyyaml", "sklearn": "scikit-learn"}
#: Imports a package guards and leaves for the user to install, with the reason.
USER_INSTALLED = {
    # lamella.wrappers.scikit_learn wraps a model for scikit-learn: whoever imports it has
    # scikit-learn, and without it the import says `pip install scikit-learn`.
    ("lamella-core", "scikit-learn"),
}
URLS = ("Homepage", "Source", "Issues")
OLDEST_PYTHON = "3.10"


def normal(name: str) -> str:
    """A distribution name in its canonical form (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(meta: Message) -> tuple[set[str], set[str], list[str]]:
    """The names a wheel requires, those only its extras require, and any exact pins."""
    required: set[str] = set()
    extras: set[str] = set()
    pins = []
    for line in meta.get_all("Requires-Dist") or []:
        spec, _, marker = line.partition(";")
        name = normal(re.match(r"[A-Za-z0-9._-]+", spec.strip()).group())
        (extras if "extra ==" in marker else required).add(name)
        if "==" in spec:
            pins.append(line)
    return required, extras, pins


def is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and ast.unparse(test).endswith("TYPE_CHECKING")


def imports(source: str) -> list[tuple[str, bool]]:
    """Each module a file imports at run time, and whether the import is guarded (inside a
    function, a ``try`` or an ``if``, so the module may load without it).

    Imports under ``if TYPE_CHECKING`` never run and are left out.
    """
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, guarded) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from lamella import backend` imports the module lamella.backend
            if node.module == "lamella":
                found.extend((f"lamella.{alias.name}", guarded) for alias in node.names)
            else:
                found.append((node.module, guarded))
        inner = guarded or isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Try, ast.If)
        )
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def wheel_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as wheel:
        return {name: wheel.read(name) for name in wheel.namelist()}


def lamella_modules(files: dict[str, bytes]) -> set[str]:
    """The ``lamella.<name>`` modules and packages a wheel ships."""
    names = set()
    for name in files:
        parts = name.split("/")
        if parts[0] == "lamella" and len(parts) > 1:
            names.add("lamella." + parts[1].removesuffix(".py"))
    return names


def check_wheel(
    dist: str, files: dict[str, bytes], owners: dict[str, str], python: str
) -> list[str]:
    """Problems with one wheel; ``owners`` maps each lamella.<name> to its distribution."""
    info = next(name for name in files if name.endswith(".dist-info/METADATA"))
    meta = HeaderParser().parsestr(files[info].decode())
    problems = []
    if meta.get("License-Expression") != "MIT":
        problems.append(f"License-Expression is {meta.get('License-Expression')!r}, not 'MIT'")
    licence = info.replace("METADATA", "licenses/LICENSE")
    if meta.get_all("License-File") != ["LICENSE"] or licence not in files:
        problems.append("the LICENSE file is not in the wheel's metadata")
    elif files[licence].decode() != LICENSE:
        problems.append("its LICENSE differs from the repository's")
    classifiers = meta.get_all("Classifier") or []
    if f"Programming Language :: Python :: {python}" not in classifiers:
        problems.append(f"no classifier for Python {python}, the oldest it supports")
    typed = any(name.endswith("/py.typed") for name in files)
    if typed != ("Typing :: Typed" in classifiers):
        problems.append("the 'Typing :: Typed' classifier and the py.typed file disagree")
    labels = {url.split(",")[0].strip() for url in meta.get_all("Project-URL") or []}
    problems += [f"no {label} project URL" for label in URLS if label not in labels]
    if meta.get("Requires-Python") != f">={python}":
        problems.append(f"Requires-Python is {meta.get('Requires-Python')!r}")
    if meta.get("Description-Content-Type") != "text/markdown" or not meta.get_payload():
        problems.append("no Markdown description (the package's README)")
    if "lamella/__init__.py" in files:
        problems.append("ships lamella/__init__.py, which hides every other lamella package")
    required, extras, pins = requirements(meta)
    problems += [f"pins an exact version, {pin!r}: give a range" for pin in pins]
    undeclared: dict[str, set[str]] = {}
    for name, source in files.items():
        if not name.endswith(".py"):
            continue
        for module, guarded in imports(source.decode()):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            if top == "lamella":
                owner = owners.get(".".join(module.split(".")[:2]))
                if owner is None:
                    problems.append(f"{name} imports {module}, which no lamella package ships")
                    continue
            else:
                owner = normal(DISTRIBUTION_OF.get(top, top))
            allowed = required | (extras if guarded else set()) | {dist}
            if owner not in allowed and (dist, owner) not in USER_INSTALLED:
                undeclared.setdefault(owner, set()).add(name)
    for owner, names in sorted(undeclared.items()):
        problems.append(f"imports {owner} without requiring it: {', '.join(sorted(names))}")
    return problems


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as sdist:
        names = {name.split("/", 1)[-1] for name in sdist.getnames()}
        top = sdist.getnames()[0].split("/")[0]
        licence = sdist.extractfile(f"{top}/LICENSE") if "LICENSE" in names else None
        text = licence.read().decode() if licence else None
    needed = ("PKG-INFO", "pyproject.toml", "README.md")
    problems = [f"no {need}" for need in needed if need not in names]
    if text != LICENSE:
        problems.append("no LICENSE, or one that differs from the repository's")
    return problems


def main(dist_dir: Path) -> int:
    wheels: dict[str, dict[str, bytes]] = {}
    problems: list[str] = []
    for package in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        stem = f"lamella_{package.parent.name.replace('-', '_')}"
        dist = f"lamella-{package.parent.name}"
        found = sorted(dist_dir.glob(f"{stem}-*.whl")), sorted(dist_dir.glob(f"{stem}-*.tar.gz"))
        if [len(paths) for paths in found] != [1, 1]:
            problems.append(f"{dist}: want one wheel and one sdist in {dist_dir}, found {found}")
            continue
        wheels[dist] = wheel_files(found[0][0])
        problems += [f"{found[1][0].name}: {p}" for p in check_sdist(found[1][0])]
    shipped: dict[str, str] = {}
    for dist, files in wheels.items():
        for name in files:
            if ".dist-info/" not in name and shipped.setdefault(name, dist) != dist:
                problems.append(f"{dist} and {shipped[name]} both ship {name}")
    owners = {module: dist for dist, files in wheels.items() for module in lamella_modules(files)}
    for dist, files in wheels.items():
        problems += [f"{dist} wheel: {p}" for p in check_wheel(dist, files, owners, OLDEST_PYTHON)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{len(wheels)} wheels and sdists: metadata complete")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
