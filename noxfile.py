"""Test sessions for the lamella monorepo.  `nox` runs every session but `bench` and
`demo` (the examples session runs the demo's program too).

Each package's tests run in a virtualenv holding only lamella-core, that package
and its dependencies, so a package that quietly needs another one fails here.
Every install passes `-c constraints.txt` (the tested torch, a CPU build).
pip, not uv: uv ignores the pip configuration that finds the local torch wheel.
The first-party projects are built into wheels once, by the `wheels` session that
the others require, and each session installs those wheels.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox

# virtualenv (nox's own dependency) makes an environment in a second; venv's ensurepip
# takes four, in each of the sixteen sessions.
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = False
# A machine without python3.10 or python3.13 still runs `nox`: the summary lists those
# `pythons` sessions as skipped (nox would fail them where the CI variable is set).
nox.options.error_on_missing_interpreters = False
nox.options.sessions = [
    "wheels",
    "lint",
    "pythons",
    "tests",
    "all",
    "third_party",
    "plugin_example",
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
#: Every first-party project a session installs: the wheels session builds them all.
PROJECTS = (*(f"packages/{name}" for name in PACKAGES), "examples/plugin-swish", *FIXTURES)


def wheelhouse(session: nox.Session) -> Path:
    """Where the wheels session leaves the first-party wheels for the other sessions."""
    return session.cache_dir / "wheels"


def wheel(session: nox.Session, project: str) -> str:
    """The wheel the wheels session built from the project folder ``project``."""
    name = nox.project.load_toml(Path(project, "pyproject.toml"))["project"]["name"]
    found = sorted(wheelhouse(session).glob(re.sub(r"[-_.]+", "_", name).lower() + "-*.whl"))
    if len(found) != 1:
        session.error(f"no single wheel of {name} in {wheelhouse(session)}: run `nox -s wheels`")
    return str(found[0])


def install(
    session: nox.Session,
    *packages: str,
    projects: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> None:
    """Install first-party packages (names under packages/) and other project folders from
    their wheels, with ``extra`` from the indexes, in one pip command, with the pins.

    ``--no-compile``: byte-compiling all of torch takes pip longer than the rest of the
    install (45 s against 19 s for lamella-core on two cores); Python compiles the
    modules a session imports on first use instead, and keeps them in the virtualenv, so
    every later Python of the session (an example, a test's child) loads them compiled,
    also where PYTHONDONTWRITEBYTECODE is set (each import of torch compiled it again:
    15 s for mnist_mlp.py against 7 s).
    """
    session.env["PYTHONDONTWRITEBYTECODE"] = ""  # empty: off
    session.env["PYTHONPYCACHEPREFIX"] = str(Path(session.virtualenv.location, "pycache"))
    folders = (*(f"packages/{name}" for name in packages), *projects)
    wheels = [wheel(session, folder) for folder in folders]
    session.install("--no-compile", *CONSTRAINTS, *wheels, *extra)


@nox.session
def wheels(session: nox.Session) -> None:
    """Build every first-party project's wheel once, for all the sessions that install it.

    From a source folder pip builds a wheel anyway, each in a fresh environment of its own
    (3 to 4 s apiece, 56 of them in a full run); here hatchling is installed once and every
    wheel built with it. The build session still builds each wheel from its sdist.
    """
    session.install(*CONSTRAINTS, "hatchling")
    house = wheelhouse(session)
    for stale in house.glob("*.whl"):
        stale.unlink()
    session.run("pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(house), *PROJECTS)


@nox.session(requires=["wheels"])
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests, with only lamella-core, that package and the packages it needs."""
    # core's drawing tests need pydot, its scikit-learn wrapper tests scikit-learn
    extra = (*TEST_TOOLS, "pydot", "scikit-learn") if package == "core" else TEST_TOOLS
    install(session, *dict.fromkeys(["core", *DEPENDS.get(package, []), package]), extra=extra)
    session.run("pip", "check")
    session.run("pytest", f"tests/{package.replace('-', '_')}", *session.posargs)


@nox.session(name="all", requires=["wheels"])
def all_packages(session: nox.Session) -> None:
    """Every package together: the tests no package's own session can run, those marked
    ``requires`` (cross-package) and those outside the package folders (the seeds'
    programs end to end, plugin discovery).  The rest already ran, each with only its
    package installed (``--cross-package`` in tests/conftest.py)."""
    install(session, *PACKAGES, extra=TEST_TOOLS)
    session.run("pip", "check")
    session.run("pytest", "tests", "--cross-package", *session.posargs)


@nox.session(requires=["wheels"])
def third_party(session: nox.Session) -> None:
    """Broken third-party plugins (tests/fixtures/, installed by pip) never break lamella."""
    install(session, "core", projects=tuple(FIXTURES), extra=(*TEST_TOOLS, "pytest-xdist"))
    session.run("pip", "check")
    # Nearly every test waits on child Pythons that import torch: one pytest worker per
    # core (pytest-xdist) halves the time (90 s to 58 s on two cores).
    session.run("pytest", "-n", "auto", "tests/third_party", *session.posargs)


@nox.session(requires=["wheels"])
def plugin_example(session: nox.Session) -> None:
    """examples/plugin-swish installed as a user would, with its own tests (HDF5 included)."""
    install(session, "core", "io-hdf5", projects=("examples/plugin-swish",), extra=TEST_TOOLS)
    session.run("pip", "check")
    session.run("pytest", "examples/plugin-swish/tests", *session.posargs)


DEMO = ("python", "examples/digits_mlp.py", "--out", "demo-output")


@nox.session(default=False, requires=["wheels"])
def demo(session: nox.Session) -> None:
    """Train an MLP on the 8x8 digits that ship with scikit-learn; writes demo-output/.
    Not in the default run: the examples session runs the same program."""
    install(session, *PACKAGES, extra=("scikit-learn", "pillow"))
    session.run(*DEMO, *session.posargs)


@nox.session(requires=["wheels"])
def examples(session: nox.Session) -> None:
    """Every example in examples/ with its defaults; one that misses its result fails.
    Then the demo's program, as `nox -s demo` runs it (the same install)."""
    install(session, *PACKAGES, extra=("scikit-learn", "pillow"))
    for script, expect in EXAMPLES.items():
        session.run("python", f"examples/{script}", "--expect", str(expect), *session.posargs)
    session.run(*DEMO)


@nox.session(requires=["wheels"])
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


@nox.session(default=False, requires=["wheels"])
def bench(session: nox.Session) -> None:
    """Benchmarks against a hand-written PyTorch loop (and Keras 3 where installed)."""
    # Keras's ImageDataGenerator transforms images with scipy, which keras does not require.
    keras = ("keras", "scipy") if "--keras" in session.posargs else ()
    install(session, *PACKAGES, extra=keras)
    # Each case in its own process; writes bench/RESULTS.md and bench/results.json.
    session.run("python", "bench/run_all.py", *(a for a in session.posargs if a != "--keras"))
