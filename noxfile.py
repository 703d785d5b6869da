"""Test sessions for the lamella monorepo.  `nox` runs every session but `bench`.

Each package's tests run in a virtualenv holding only lamella-core, that package
and its dependencies, so a package that quietly needs another one fails here.
Every install passes `-c constraints.txt` (the tested torch, a CPU build).
pip, not uv: uv ignores the pip configuration that finds the local torch wheel.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["lint", "tests", "all", "demo"]

PACKAGES = ["core", "layers-conv", "layers-recurrent", "optimizers", "preprocessing", "io-hdf5"]
CONSTRAINTS = ("-c", "constraints.txt")
TEST_TOOLS = ("pytest",)


def install(session: nox.Session, *packages: str, extra: tuple[str, ...] = ()) -> None:
    """Install local packages non-editable, in one pip command, with the pins."""
    session.install(*CONSTRAINTS, *(f"packages/{name}" for name in packages), *extra)


@nox.session
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests, with only lamella-core and that package installed."""
    extra = (*TEST_TOOLS, "pydot") if package == "core" else TEST_TOOLS  # drawing tests
    install(session, *dict.fromkeys(["core", package]), extra=extra)
    session.run("pip", "check")
    session.run("pytest", f"tests/{package.replace('-', '_')}", *session.posargs)


@nox.session(name="all")
def all_packages(session: nox.Session) -> None:
    """Every package together: plugin discovery, the seeds' programs, cross-package tests."""
    install(session, *PACKAGES, extra=TEST_TOOLS)
    session.run("pip", "check")
    session.run("pytest", "tests/plugins", "tests/e2e", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Train an MLP on the 8x8 digits that ship with scikit-learn; writes demo-output/."""
    install(session, *PACKAGES, extra=("scikit-learn", "pillow"))
    session.run("python", "examples/digits_mlp.py", "--out", "demo-output", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, and the check that every package carries the same version."""
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "scripts/check_versions.py")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks against a hand-written PyTorch loop (and Keras 3 where installed)."""
    install(session, *PACKAGES, extra=("keras",) if "--keras" in session.posargs else ())
    for script in sorted(__import__("pathlib").Path("bench").glob("bench_*.py")):
        session.run("python", str(script))
