"""Test sessions for the lamella monorepo.  `nox` runs every session but `bench`.

Each package's tests run in a virtualenv holding only lamella-core, that package
and its dependencies, so a package that quietly needs another one fails here.
Every install passes `-c constraints.txt` (the tested torch, a CPU build).
pip, not uv: uv ignores the pip configuration that finds the local torch wheel.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
# A machine without python3.10 or python3.13 still runs `nox`: the summary lists those
# `pythons` sessions as skipped (nox would fail them where the CI variable is set).
nox.options.error_on_missing_interpreters = False
nox.options.sessions = [
    "lint",
    "pythons",
    "tests",
    "all",
    "third_party",
    "plugin_example",
    "demo",
    "examples",
    "build",
]

PACKAGES = [
    "core",
    "layers-conv",
    "layers-recurrent",
    "optimizers",
    "preprocessing",
    "io-hdf5",
    "applications",
]
#: The other first-party packages a package depends on: its session installs them from
#: packages/ with it (pip would look for them on an index otherwise).
DEPENDS = {"applications": ["layers-conv", "io-hdf5"]}
CONSTRAINTS = ("-c", "constraints.txt")
#: The oldest and the newest Python that lamella supports (requires-python = ">=3.10").
OLDEST_NEWEST = ["3.10", "3.13"]
#: tomllib's parser for Python 3.10, where tomllib is missing.
TOMLI = ("tomli; python_version < '3.11'",)
#: Every folder and file of Python code in the repository.
SOURCES = ("packages", "scripts", "tests", "examples", "bench", "noxfile.py")
TEST_TOOLS = ("pytest",)
#: Each example program and the accuracy below which it fails (`--expect`): a little under
#: what its docstring says it reaches, so float noise between machines does not fail it.
EXAMPLES = {
    "mnist_mlp.py": 0.96,
    "mnist_cnn.py": 0.97,
    "keras2_mnist_cnn.py": 0.97,
    "cifar10_cnn.py": 0.92,
    "imdb_lstm.py": 0.94,
    "reuters_mlp.py": 0.77,
    "lstm_text_generation.py": 0.50,
    "addition_rnn.py": 0.96,
    "custom_layer.py": 0.96,
    "save_and_resume.py": 0.96,
    "network_from_scratch.py": 0.96,
}
#: The broken third-party plugins of the third_party session, each a folder pip installs.
FIXTURES = sorted(str(path.parent) for path in Path("tests/fixtures").glob("*/pyproject.toml"))


def install(session: nox.Session, *packages: str, extra: tuple[str, ...] = ()) -> None:
    """Install local packages non-editable, in one pip command, with the pins.

    ``--no-compile``: byte-compiling all of torch takes pip longer than the rest of the
    install (45 s against 19 s for lamella-core on two cores); Python compiles the
    modules a session imports on first use instead.
    """
    packages = tuple(f"packages/{name}" for name in packages)
    session.install("--no-compile", *CONSTRAINTS, *packages, *extra)


@nox.session
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests, with only lamella-core, that package and the packages it needs."""
    # core's drawing tests need pydot, its scikit-learn wrapper tests scikit-learn
    extra = (*TEST_TOOLS, "pydot", "scikit-learn") if package == "core" else TEST_TOOLS
    install(session, *dict.fromkeys(["core", *DEPENDS.get(package, []), package]), extra=extra)
    session.run("pip", "check")
    session.run("pytest", f"tests/{package.replace('-', '_')}", *session.posargs)


@nox.session(name="all")
def all_packages(session: nox.Session) -> None:
    """Every package together: the tests no package's own session can run, those marked
    ``requires`` (cross-package) and those outside the package folders (the seeds'
    programs end to end, plugin discovery).  The rest already ran, each with only its
    package installed (``--cross-package`` in tests/conftest.py)."""
    install(session, *PACKAGES, extra=TEST_TOOLS)
    session.run("pip", "check")
    session.run("pytest", "tests", "--cross-package", *session.posargs)


@nox.session
def third_party(session: nox.Session) -> None:
    """Broken third-party plugins (tests/fixtures/, installed by pip) never break lamella."""
    install(session, "core", extra=(*FIXTURES, *TEST_TOOLS))
    session.run("pip", "check")
    session.run("pytest", "tests/third_party", *session.posargs)


@nox.session
def plugin_example(session: nox.Session) -> None:
    """examples/plugin-swish installed as a user would, with its own tests (HDF5 included)."""
    install(session, "core", "io-hdf5", extra=("./examples/plugin-swish", *TEST_TOOLS))
    session.run("pip", "check")
    session.run("pytest", "examples/plugin-swish/tests", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Train an MLP on the 8x8 digits that ship with scikit-learn; writes demo-output/."""
    install(session, *PACKAGES, extra=("scikit-learn", "pillow"))
    session.run("python", "examples/digits_mlp.py", "--out", "demo-output", *session.posargs)


@nox.session
def examples(session: nox.Session) -> None:
    """Every example in examples/ with its defaults; one that misses its result fails."""
    install(session, *PACKAGES, extra=("scikit-learn", "pillow"))
    for script, expect in EXAMPLES.items():
        session.run("python", f"examples/{script}", "--expect", str(expect), *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, the check that every package carries the same version, and mypy on the names
    the README and docs import (tests/typing/everyday_imports.py)."""
    session.install(*CONSTRAINTS, "ruff", *TOMLI)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "scripts/check_versions.py")
    # Lenient for a start: mypy's defaults, run on that one file, with every package installed
    # from its wheel as a user has them. No --ignore-missing-imports: it would also hide a
    # wheel that lost its py.typed, and every name would pass as Any.
    install(session, *PACKAGES, extra=("mypy",))
    cache = session.create_tmp()
    session.run("mypy", "--cache-dir", cache, "tests/typing/everyday_imports.py")


@nox.session(python=OLDEST_NEWEST)
def pythons(session: nox.Session) -> None:
    """The oldest and newest Python lamella supports compile every file and run the
    repository's scripts: they catch code newer than a Python allows (3.10 lacks tomllib).

    The tests run only on the Python that runs nox (3.11 on the test machines). They need
    torch, and the pinned CPU build in constraints.txt is on those machines' disk for 3.11
    alone; for another Python pip would fetch PyPI's CUDA build, about 5 GB a session.
    """
    session.install(*CONSTRAINTS, *TOMLI)
    cache = {"PYTHONPYCACHEPREFIX": session.create_tmp()}  # no .pyc files in the tree
    session.run("python", "-W", "error", "-m", "compileall", "-q", *SOURCES, env=cache)
    session.run("python", "scripts/check_versions.py")


@nox.session
def build(session: nox.Session) -> None:
    """Every package's sdist and wheel into dist/, then their metadata checked.

    Each wheel is built from its sdist, so a file the sdist leaves out fails here;
    scripts/check_dists.py then reads what an index would show: licence, classifiers,
    URLs, and a requirement for everything the code imports.
    """
    session.install(*CONSTRAINTS, "build", "hatchling")
    for stale in Path("dist").glob("lamella_*"):
        stale.unlink()
    for package in PACKAGES:
        session.run("python", "-m", "build", "--no-isolation", "-o", "dist", f"packages/{package}")
    session.run("python", "scripts/check_dists.py", "dist")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks against a hand-written PyTorch loop (and Keras 3 where installed)."""
    # Keras's ImageDataGenerator transforms images with scipy, which keras does not require.
    keras = ("keras", "scipy") if "--keras" in session.posargs else ()
    install(session, *PACKAGES, extra=keras)
    # Each case in its own process; writes bench/RESULTS.md and bench/results.json.
    session.run("python", "bench/run_all.py", *(a for a in session.posargs if a != "--keras"))
