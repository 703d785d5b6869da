"""Broken third-party plugins, installed for real, never break lamella.

Runs in the 'third_party' nox session, where lamella-core and every package
under tests/fixtures/ are installed with pip.  Each fixture is broken in one
way; each must cost exactly one warning naming it, leave lamella importable and
training, and be switched off by the LAMELLA_* variables.  Those variables are
read when the plugin host is built, so they are checked in child Pythons.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from importlib import metadata

import numpy as np
import pytest
import torch

import lamella.activations
import lamella.plugins as P
from lamella.layers.core import Dense
from lamella.models import Sequential

#: Entry-point name -> distribution of every fixture.
FIXTURES = {
    "fixture-broken-import": "lamella-fixture-broken-import",
    "fixture-conflict": "lamella-fixture-conflict",
    "fixture-exit-hook": "lamella-fixture-exit-hook",
    "fixture-exit-import": "lamella-fixture-exit-import",
    "fixture-interrupt": "lamella-fixture-interrupt",
    "fixture-misspelled": "lamella-fixture-misspelled",
    "fixture-old-api": "lamella-fixture-old-api",
    "fixture-raising-hook": "lamella-fixture-raising-hook",
    "fixture-slow": "lamella-fixture-slow",
}
#: What a plugin says when it tries to end the program and lamella goes on without it.
CONTAINED = "(a plugin may not end the program; lamella went on without it)"
#: The fixtures whose problem is a plugin failure (strict mode raises for these).
FAILING = {
    "fixture-broken-import": (
        "failed",
        "import failed: ModuleNotFoundError: No module named "
        "'lamella_fixture_dependency_that_is_not_installed'",
    ),
    "fixture-raising-hook": (
        "failed",
        "lamella_register_activations raised RuntimeError: the fixture's hook fails after "
        "registering one name",
    ),
    "fixture-exit-import": (
        "failed",
        "import failed: SystemExit: 'lamella-fixture-exit-import ends the program at import' "
        + CONTAINED,
    ),
    "fixture-exit-hook": ("failed", "lamella_register_layers raised SystemExit: 3 " + CONTAINED),
    "fixture-interrupt": (
        "failed",
        "import failed: KeyboardInterrupt raised by the plugin, not by a Ctrl-C " + CONTAINED,
    ),
    "fixture-old-api": ("was skipped", "it declares plugin API 99"),
    "fixture-misspelled": (
        "has a problem",
        "unknown hook 'lamella_register_activation' (misspelled?)",
    ),
}
PLUGIN_VARIABLES = ("LAMELLA_PLUGINS", "LAMELLA_DISABLE_PLUGINS", "LAMELLA_STRICT_PLUGINS")


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


if not any(_installed(dist) for dist in FIXTURES.values()):
    pytest.skip(
        "the plugin fixtures are not installed; run: nox -s third_party", allow_module_level=True
    )


def version(entry_point: str) -> str:
    return metadata.version(FIXTURES[entry_point])


def expected_warning(entry_point: str) -> str:
    """The start of a failure warning: entry point, distribution and version, then outcome."""
    outcome, _ = FAILING[entry_point]
    return (
        f"lamella: plugin {entry_point!r} from {FIXTURES[entry_point]} "
        f"{version(entry_point)} {outcome}: "
    )


def child_python(script: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh Python with only the given LAMELLA_* variables set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")}
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def loaded() -> tuple[dict[str, P.PluginInfo], list[str]]:
    """Every installed plugin loaded once in this process, and the warnings that gave."""
    with pytest.MonkeyPatch.context() as env:
        for variable in PLUGIN_VARIABLES:
            env.delenv(variable, raising=False)
        P.reset()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            infos = {info.name: info for info in P.plugins()}
    return infos, [str(w.message) for w in caught]


def test_every_fixture_is_installed():
    """The session must install them all, or the tests below prove less than they say."""
    assert [dist for dist in FIXTURES.values() if not _installed(dist)] == []


# -- one warning per broken plugin, and lamella goes on ----------------------------------


@pytest.mark.parametrize("entry_point", sorted(FAILING))
def test_each_failing_plugin_is_one_warning_naming_it_and_its_version(loaded, entry_point):
    _, messages = loaded
    about = [m for m in messages if FIXTURES[entry_point] in m]
    assert len(about) == 1, about
    _, detail = FAILING[entry_point]
    assert about[0].startswith(expected_warning(entry_point))
    assert detail in about[0]


def test_a_name_clash_is_one_warning_naming_both_distributions(loaded):
    _, messages = loaded
    about = [m for m in messages if "lamella-fixture-conflict" in m]
    assert len(about) == 1, about
    assert "'relu'" in about[0]
    assert "lamella-core" in about[0]
    assert "keeping the latter" in about[0]


def test_each_fixture_gives_one_warning_and_nothing_else_warns(loaded):
    """The deliberate override of 'tanh' is silent, the slow plugin is quick here (its
    sleep is off), and core itself warns about nothing."""
    _, messages = loaded
    assert len(messages) == len(FIXTURES) - 1, messages


def test_relu_stays_cores_and_tanh_is_the_fixtures_override(loaded):
    from lamella_fixture_conflict import plugin as conflict

    assert P.get("activations", "relu") is lamella.activations.relu
    assert P.get("activations", "tanh") is conflict.tanh
    assert P.registry("activations").find("tanh").provider.distribution == (
        "lamella-fixture-conflict"
    )
    assert P.registry("activations").find("relu").provider.distribution == "lamella-core"


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("activations", "fixture_half_registered"),  # rolled back when the hook raised
        ("activations", "fixture_future"),  # its plugin API is not ours
        ("activations", "fixture_never_registered"),  # behind a misspelled hook
        ("layers", "FixtureExitLayer"),  # rolled back when the hook exited
    ],
)
def test_nothing_a_failed_or_skipped_hook_registered_is_left(loaded, kind, name):
    assert P.available(name, kind) is False


def test_a_misspelled_hook_leaves_the_plugins_other_hooks_working(loaded):
    infos, _ = loaded
    assert infos["fixture-misspelled"].registered == {"losses": ["misspelled_plugin_loss"]}
    assert P.available("misspelled_plugin_loss", "losses")


def test_the_old_api_plugin_is_incompatible_and_says_both_versions(loaded):
    infos, _ = loaded
    info = infos["fixture-old-api"]
    assert info.status == "incompatible"
    assert info.registered == {}
    (error,) = info.errors
    assert "plugin API 99, but this lamella-core speaks plugin API 1" in error
    assert "built for plugin API 1" in error


def test_a_tiny_model_still_trains(loaded):
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = Sequential([Dense(8, input_dim=3, activation="relu"), Dense(1)])
    model.compile(optimizer=torch.optim.Adam, loss="mse", device="cpu")
    losses = model.fit(x, y, nb_epoch=5, batch_size=8, verbose=0).history["loss"]
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0]


def test_lamella_plugins_reports_each_fixture():
    """``lamella plugins --json`` runs with every fixture installed and tells what each did."""
    result = child_python("from lamella.cli import main; main(['plugins', '--json'])")
    assert result.returncode == 0, result.stderr
    report = {entry["name"]: entry for entry in json.loads(result.stdout)}
    summary = {
        name: (report[name]["distribution"], report[name]["status"], report[name]["registered"])
        for name in FIXTURES
    }
    assert summary == {
        "fixture-broken-import": ("lamella-fixture-broken-import", "failed", {}),
        "fixture-conflict": ("lamella-fixture-conflict", "loaded", {"activations": ["tanh"]}),
        "fixture-misspelled": (
            "lamella-fixture-misspelled",
            "loaded",
            {"losses": ["misspelled_plugin_loss"]},
        ),
        "fixture-exit-hook": ("lamella-fixture-exit-hook", "failed", {}),
        "fixture-exit-import": ("lamella-fixture-exit-import", "failed", {}),
        "fixture-interrupt": ("lamella-fixture-interrupt", "failed", {}),
        "fixture-old-api": ("lamella-fixture-old-api", "incompatible", {}),
        "fixture-raising-hook": ("lamella-fixture-raising-hook", "failed", {}),
        "fixture-slow": (
            "lamella-fixture-slow",
            "loaded",
            {"activations": ["fixture_slow_identity"]},
        ),
    }
    for name in FAILING:
        assert len(report[name]["errors"]) == 1
        assert report[name]["version"] == version(name)
    assert report["core"]["status"] == "loaded"


# -- switching plugins off (child Pythons) ----------------------------------------------

STATUS_SCRIPT = """
import json
import lamella.plugins as P
report = {info.name: info.status for info in P.plugins()}
tanh = P.registry("activations").find("tanh").provider.distribution
print(json.dumps({"status": report, "tanh": tanh}))
"""


@pytest.mark.parametrize(
    ("variable", "value", "disabled"),
    [
        pytest.param(
            "LAMELLA_DISABLE_PLUGINS",
            # entry-point names and distribution names both work
            "fixture-broken-import, lamella-fixture-raising-hook,fixture-conflict,"
            "lamella-fixture-old-api,fixture-misspelled,fixture-exit-hook,"
            "lamella-fixture-exit-import,fixture-interrupt,fixture-slow",
            set(FIXTURES),
            id="disable-by-name",
        ),
        pytest.param("LAMELLA_DISABLE_PLUGINS", "all", set(FIXTURES), id="disable-all"),
        pytest.param(
            "LAMELLA_DISABLE_PLUGINS",
            "lamella-fixture-conflict",
            {"fixture-conflict"},
            id="disable-one",
        ),
        pytest.param(
            "LAMELLA_PLUGINS",
            "fixture-misspelled",
            set(FIXTURES) - {"fixture-misspelled"},
            id="allow-one",
        ),
    ],
)
def test_the_environment_switches_plugins_off(variable, value, disabled):
    result = child_python(STATUS_SCRIPT, **{variable: value})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {name for name in FIXTURES if report["status"][name] == "disabled"} == disabled
    assert report["status"]["core"] == "loaded"
    lines = result.stderr.splitlines()
    for name, dist in FIXTURES.items():
        # a disabled plugin is silent; one left on still warns, once (the slow one never)
        warned = [line for line in lines if dist in line]
        expected = 0 if name in disabled or name == "fixture-slow" else 1
        assert len(warned) == expected, result.stderr
    expected_tanh = "lamella-core" if "fixture-conflict" in disabled else "lamella-fixture-conflict"
    assert report["tanh"] == expected_tanh


STRICT_SCRIPT = """
import lamella.models
print("imported", flush=True)
import lamella.plugins as P
P.plugins()
"""


@pytest.mark.parametrize(
    ("only", "first_failure"),
    [
        (None, "fixture-broken-import"),  # every fixture on: the first one in name order
        ("fixture-raising-hook", "fixture-raising-hook"),
        ("fixture-old-api", "fixture-old-api"),
        ("fixture-misspelled", "fixture-misspelled"),
        ("fixture-exit-import", "fixture-exit-import"),
        ("fixture-exit-hook", "fixture-exit-hook"),
        ("fixture-interrupt", "fixture-interrupt"),
    ],
)
def test_strict_mode_turns_the_first_failure_into_an_error(only, first_failure):
    variables = {"LAMELLA_STRICT_PLUGINS": "1"}
    if only is not None:
        variables["LAMELLA_PLUGINS"] = only
    result = child_python(STRICT_SCRIPT, **variables)
    assert result.returncode != 0
    assert result.stdout == "imported\n"  # importing lamella never loads plugins
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        "lamella.plugins.errors.PluginError: " + expected_warning(first_failure)
    ), result.stderr
    others = set(FIXTURES.values()) - {FIXTURES[first_failure]}
    assert [dist for dist in others if dist in result.stderr] == []


# -- a plugin may not end the program (child Pythons) -------------------------------------

FIRST_LOOKUP_SCRIPT = """
import lamella.models
print("imported", flush=True)
import lamella.plugins
Dense = lamella.plugins.get("layers", "Dense")
print("looked up", Dense.__name__, flush=True)
"""


@pytest.mark.parametrize(
    "hostile", ["fixture-exit-import", "fixture-exit-hook", "fixture-interrupt"]
)
def test_a_plugin_that_exits_does_not_end_the_program_at_the_first_lookup(hostile):
    """The issue's reproduction: ``import lamella.models`` works, then the first registry
    lookup ran the plugin, and its sys.exit (or KeyboardInterrupt) ended the program."""
    result = child_python(FIRST_LOOKUP_SCRIPT, LAMELLA_PLUGINS=hostile)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported\nlooked up Dense\n"
    warned = [line for line in result.stderr.splitlines() if FIXTURES[hostile] in line]
    assert len(warned) == 1, result.stderr
    assert expected_warning(hostile) + FAILING[hostile][1] in warned[0]


def test_lamella_plugins_names_the_plugins_that_exit():
    """With every fixture installed the command runs to the end and names each culprit."""
    result = subprocess.run(
        [sys.executable, "-m", "lamella.cli", "plugins"],
        env={k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for hostile in ("fixture-exit-import", "fixture-exit-hook", "fixture-interrupt"):
        header = f"{hostile}: {FIXTURES[hostile]} {version(hostile)} [failed]"
        assert header in result.stdout
        block = result.stdout.split(header)[1]
        assert block.splitlines()[1] == f"    error: {FAILING[hostile][1]}"


def test_lamella_plugins_says_which_plugin_is_slow():
    """A plugin whose import takes 1.2 s gets a 'slow' line naming where the time went."""
    script = "from lamella.cli import main; main(['plugins'])"
    result = child_python(
        script, LAMELLA_PLUGINS="fixture-slow", LAMELLA_FIXTURE_SLOW_SECONDS="1.2"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    where = lines.index(f"fixture-slow: lamella-fixture-slow {version('fixture-slow')} [loaded]")
    assert lines[where + 1].startswith("    slow: 1.2")
    assert "(import 1.2" in lines[where + 1]
    assert [line for line in lines if line.startswith("    slow:")] == [lines[where + 1]]


#: A program run from a terminal: Ctrl-C raises KeyboardInterrupt.  Python sets that up at
#: start only where SIGINT is not ignored, and a test run started as a background job
#: (``nox &``) hands its children SIGINT ignored; such a child would rightly sleep on.
CTRL_C_SCRIPT = (
    "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
    + FIRST_LOOKUP_SCRIPT
)
SLEEPING = "the slow plugin sleeps"


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
@pytest.mark.parametrize(
    ("when", "catches"),
    [
        pytest.param("sleeping", "0", id="during-the-slow-import"),
        pytest.param("sleeping", "1", id="swallowed-by-the-plugin"),
        pytest.param("imported", "0", id="as-discovery-begins"),
    ],
)
def test_a_ctrl_c_during_a_slow_plugin_import_still_interrupts_the_program(when, catches):
    """The user's Ctrl-C is the user's: lamella lets it end the program, as without plugins,
    even where the plugin swallows the KeyboardInterrupt; and wherever in discovery a
    Ctrl-C lands, it is never taken for a plugin's failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")}
    env.update(
        LAMELLA_PLUGINS="fixture-slow",
        LAMELLA_FIXTURE_SLOW_SECONDS="60",
        LAMELLA_FIXTURE_SLOW_ANNOUNCE=SLEEPING,
        LAMELLA_FIXTURE_SLOW_CATCHES=catches,
    )
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "imported\n"
        if when == "sleeping":
            assert child.stdout.readline() == SLEEPING + "\n"
        started = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert time.monotonic() - started < 30
    assert child.returncode != 0
    assert "looked up" not in out
    assert err.strip().splitlines()[-1] == "KeyboardInterrupt", err
    assert "lamella-fixture-slow" not in err  # no "plugin failed" warning: it was a Ctrl-C
