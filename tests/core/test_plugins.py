"""The plugin system as a user and a plugin author meet it, whatever else is installed.

These tests run in the core-only session and in environments holding every
package, so they fake their own entry points instead of relying on the real
ones; the tests that need a package to be absent are marked ``requires_absent``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

import lamella
import lamella.activations
import lamella.layers
import lamella.losses
import lamella.metrics
import lamella.plugins as P
from lamella import backend as K
from lamella import cli
from lamella.constraints import MaxNorm
from lamella.layers.core import Dense
from lamella.plugins import errors, hookimpl, manager
from lamella.plugins.errors import MissingPluginError, PluginError, UnknownNameError
from lamella.regularizers import l2

PLUGIN_VARIABLES = ("LAMELLA_PLUGINS", "LAMELLA_DISABLE_PLUGINS", "LAMELLA_STRICT_PLUGINS")
PLUGIN_PACKAGES = (
    "lamella.conv",
    "lamella.recurrent",
    "lamella.optim",
    "lamella.preproc",
    "lamella.hdf5",
)
SETTINGS = ("LAMELLA_FLOATX", "LAMELLA_EPSILON", "LAMELLA_IMAGE_DIM_ORDERING", "LAMELLA_DEVICE")
config_module = importlib.import_module("lamella.backend.config")


def clean_environ(**extra: str) -> dict[str, str]:
    """The environment for a child Python, without this shell's lamella settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")}
    return {**env, **extra}


# -- fake entry points ------------------------------------------------------------------


@dataclass
class FakeEntryPoint:
    """Stands in for an importlib.metadata.EntryPoint of the ``lamella`` group."""

    name: str
    module: ModuleType | BaseException
    distribution: str = "lamella-fake"
    version: str = "9.9"
    loads: int = 0

    @property
    def value(self) -> str:
        return f"{self.distribution.replace('-', '_')}.plugin"

    @property
    def dist(self) -> SimpleNamespace:
        return SimpleNamespace(name=self.distribution, version=self.version)

    def load(self) -> ModuleType:
        self.loads += 1
        if isinstance(self.module, BaseException):
            raise self.module
        return self.module


def plugin_module(*hooks, api: int | None = None) -> ModuleType:
    """A hook module holding ``hooks`` (already marked with ``@hookimpl``)."""
    module = ModuleType("fake_lamella_plugin")
    for function in hooks:
        setattr(module, function.__name__, function)
    if api is not None:
        module.LAMELLA_PLUGIN_API = api
    return module


def build() -> tuple[dict[str, P.PluginInfo], list[warnings.WarningMessage]]:
    """Load every plugin and build every registry, recording the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        infos = {info.name: info for info in P.plugins()}
    return infos, caught


@pytest.fixture
def fresh_host():
    """A plugin host built afresh for the test and forgotten after it."""
    P.reset()
    yield
    P.reset()


@pytest.fixture
def fake_plugins(monkeypatch, fresh_host):
    """Entry points of the ``lamella`` group are those the test appends to this list."""
    for variable in PLUGIN_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    installed: list[FakeEntryPoint] = []
    real = metadata.entry_points

    def entry_points(**params):
        return list(installed) if params.get("group") == "lamella" else real(**params)

    monkeypatch.setattr(manager.metadata, "entry_points", entry_points)
    return installed


# -- the namespace and laziness ---------------------------------------------------------


def test_lamella_is_a_namespace_package():
    """One stray lamella/__init__.py would hide every other distribution's portion."""
    assert lamella.__file__ is None
    portions = [Path(portion) for portion in lamella.__path__]
    assert portions
    assert [p for p in portions if (p / "__init__.py").exists()] == []


@pytest.fixture(scope="module")
def fresh_import(tmp_path_factory):
    """A new Python that imports the user-facing modules and reports what that did."""
    home = tmp_path_factory.mktemp("home")
    script = f"""
import json, sys
import lamella.models, lamella.layers, lamella.layers.convolutional, lamella.optimizers
import lamella.preprocessing.image, lamella.losses, lamella.callbacks
from lamella import backend as K
from lamella.plugins import manager
report = {{
    "host_built": manager._host is not None,
    "plugin_modules": sorted(
        m for m in sys.modules for p in {PLUGIN_PACKAGES!r} if m == p or m.startswith(p + ".")
    ),
}}
K.floatx()
report["config_path"] = str(K.config_path())
print(json.dumps(report))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_environ(HOME=str(home)),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return home, json.loads(result.stdout)


def test_importing_lamella_loads_no_plugin(fresh_import):
    """Imports stay cheap and safe: plugins are found at the first lookup, not before."""
    _, report = fresh_import
    assert report["host_built"] is False
    assert report["plugin_modules"] == []


def test_importing_and_reading_settings_writes_no_file(fresh_import):
    """Keras wrote ~/.keras/keras.json at import; lamella never writes unasked."""
    home, report = fresh_import
    assert Path(report["config_path"]) == home / ".lamella" / "lamella.json"
    assert [p for p in home.rglob("*") if "lamella" in p.name] == []


def test_the_host_is_built_at_the_first_lookup_and_one_kind_at_a_time(fresh_host):
    """Using a module's own names builds nothing; asking for a kind builds only that kind."""
    assert lamella.layers.Input is not None
    assert lamella.losses.mean_squared_error is not None
    assert manager._host is None
    P.registry("losses")
    assert manager._host is not None
    assert set(manager._host.registries) == {"losses"}


# -- lookups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("losses", "mse", lamella.losses.mean_squared_error),
        ("losses", "MSE", lamella.losses.mean_squared_error),
        ("losses", "Mean_Squared_Error", lamella.losses.mean_squared_error),
        ("losses", "kld", lamella.losses.kullback_leibler_divergence),
        ("metrics", "mae", lamella.metrics.mean_absolute_error),
        ("activations", "relu", lamella.activations.relu),
        ("activations", "ReLU", lamella.activations.relu),
        ("layers", "Dense", Dense),
        ("layers", "dense", Dense),
        ("regularizers", "activity_l2", l2),
        ("constraints", "maxnorm", MaxNorm),
    ],
)
def test_names_aliases_and_other_cases_find_the_object(kind, name, expected):
    """Keras spellings (aliases) work, and a wrong case still finds the one match."""
    assert P.get(kind, name) is expected


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [("Dense", "layers", True), ("Dens", "layers", False), ("mse", "losses", True)],
)
def test_available_lets_code_probe_without_catching(name, kind, expected):
    assert P.available(name, kind) is expected


def test_an_unknown_kind_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown registry kind 'loss'.*losses"):
        P.registry("loss")


@pytest.mark.parametrize(
    ("identifier", "custom_objects", "expected"),
    [
        ("mse", None, lamella.losses.mean_squared_error),
        (lamella.losses.hinge, None, lamella.losses.hinge),
        ("mse", {"mse": lamella.losses.hinge}, lamella.losses.hinge),
    ],
)
def test_resolve_takes_names_objects_and_custom_objects(identifier, custom_objects, expected):
    """custom_objects wins over the registry, as in Keras's load_model."""
    assert P.resolve("losses", identifier, custom_objects) is expected


def test_a_misspelled_string_lists_close_matches():
    """``loss='msee'`` tells the user what they probably meant."""
    with pytest.raises(UnknownNameError) as caught:
        P.get("losses", "msee")
    assert isinstance(caught.value, ValueError)
    assert "Did you mean: 'mse', 'msle'?" in str(caught.value)


def test_a_misspelled_layer_attribute_suggests_the_name():
    with pytest.raises(AttributeError, match="Did you mean: 'Dense'"):
        _ = lamella.layers.Dens


def test_a_misspelled_layer_import_is_an_import_error():
    with pytest.raises(ImportError) as caught:
        exec("from lamella.layers import Dens")
    assert caught.value.name == "lamella.layers"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Python 3.12 added import suggestions")
def test_a_misspelled_layer_import_suggests_the_name():
    """Python 3.12+ builds the suggestion from the facade's ``__dir__``."""
    with pytest.raises(ImportError) as caught:
        exec("from lamella.layers import Dens")
    assert "Did you mean: 'Dense'?" in "".join(traceback.format_exception_only(caught.value))


# -- install hints (core-only session) ----------------------------------------------------


def _absent(dist: str) -> pytest.MarkDecorator:
    return pytest.mark.requires_absent(dist)


@pytest.mark.parametrize(
    ("module", "name", "dist"),
    [
        pytest.param(module, name, dist, marks=_absent(dist), id=f"{module}.{name}")
        for module, name, dist in [
            ("lamella.layers", "Convolution2D", "lamella-layers-conv"),
            ("lamella.layers", "Conv2D", "lamella-layers-conv"),
            ("lamella.layers.pooling", "MaxPooling2D", "lamella-layers-conv"),
            ("lamella.layers", "LSTM", "lamella-layers-recurrent"),
            ("lamella.layers.wrappers", "TimeDistributed", "lamella-layers-recurrent"),
            ("lamella.optimizers", "SGD", "lamella-optimizers"),
            ("lamella.preprocessing.image", "ImageDataGenerator", "lamella-preprocessing"),
            ("lamella.preprocessing.text", "Tokenizer", "lamella-preprocessing"),
            ("lamella.utils.io_utils", "HDF5Matrix", "lamella-io-hdf5"),
            ("lamella.datasets.mnist", "load_data", "lamella-preprocessing"),
            ("lamella.applications", "VGG16", "lamella-applications"),
            ("lamella.applications.vgg16", "VGG16", "lamella-applications"),
            ("lamella.applications.imagenet_utils", "decode_predictions", "lamella-applications"),
        ]
    ],
)
def test_importing_a_missing_packages_name_says_what_to_install(module, name, dist):
    """The error of ``from ... import`` carries the pip command (docs/architecture.md §2)."""
    with pytest.raises(MissingPluginError) as caught:
        exec(f"from {module} import {name}")
    assert isinstance(caught.value, ImportError)
    assert caught.value.distribution == dist
    assert "which is not installed" in str(caught.value)
    assert f"pip install {dist}" in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "name", "dist"),
    [
        pytest.param(
            "layers", "Convolution2D", "lamella-layers-conv", marks=_absent("lamella-layers-conv")
        ),
        pytest.param(
            "optimizers", "adam", "lamella-optimizers", marks=_absent("lamella-optimizers")
        ),
    ],
)
def test_a_missing_packages_string_says_what_to_install(kind, name, dist):
    """``optimizer='adam'`` without lamella-optimizers names the package, and probing is quiet."""
    with pytest.raises(MissingPluginError, match=f"pip install {dist}"):
        P.get(kind, name)
    assert P.available(name, kind) is False


@pytest.mark.requires_absent("lamella-io-hdf5")
def test_saving_to_h5_without_the_serializer_says_what_to_install():
    with pytest.raises(MissingPluginError, match="pip install lamella-io-hdf5"):
        P.serializer_for("model.h5")


def test_a_file_without_an_ending_is_refused():
    with pytest.raises(ValueError, match="no ending"):
        P.serializer_for("model")


# -- isolation of broken plugins ----------------------------------------------------------


def _raising_plugin() -> ModuleType:
    """A hook module whose losses hook registers one name, then raises."""

    @hookimpl
    def lamella_register_losses(register):
        register(lamella.losses.hinge, name="half_registered")
        raise KeyError("boom")

    return plugin_module(lamella_register_losses)


@hookimpl
def lamella_register_layer(register):
    """Misspelled on purpose: the hook is lamella_register_layers."""


BROKEN = {
    "import fails": (ImportError("No module named 'lamella_fake'"), "failed", "import failed"),
    "hook raises": (_raising_plugin(), "failed", "lamella_register_losses raised"),
    "newer plugin API": (plugin_module(api=99), "incompatible", "plugin API 99"),
    "misspelled hook": (
        plugin_module(lamella_register_layer),
        "loaded",
        "unknown hook 'lamella_register_layer'",
    ),
}
#: How the warning words each outcome: a plugin with a misspelled hook still loads.
OUTCOME = {"failed": "failed", "incompatible": "was skipped", "loaded": "has a problem"}


@pytest.mark.parametrize(("module", "status", "message"), BROKEN.values(), ids=BROKEN)
def test_a_broken_plugin_is_one_warning_and_everything_else_works(
    fake_plugins, module, status, message
):
    fake_plugins.append(FakeEntryPoint("fake", module))
    infos, caught = build()
    runtime = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1
    assert message in runtime[0]
    assert f"plugin 'fake' from lamella-fake 9.9 {OUTCOME[status]}: " in runtime[0]
    assert infos["fake"].status == status
    assert [message in error for error in infos["fake"].errors] == [True]
    assert P.get("losses", "mse") is lamella.losses.mean_squared_error
    assert P.get("layers", "Dense") is Dense


@pytest.mark.parametrize(("module", "status", "message"), BROKEN.values(), ids=BROKEN)
def test_strict_mode_raises_instead_of_warning(fake_plugins, monkeypatch, module, status, message):
    """LAMELLA_STRICT_PLUGINS=1 is for CI: a plugin problem fails loudly."""
    monkeypatch.setenv("LAMELLA_STRICT_PLUGINS", "1")
    fake_plugins.append(FakeEntryPoint("fake", module))
    with pytest.raises(PluginError, match=f"'fake' from lamella-fake.*{re.escape(message)}"):
        P.plugins()


def test_the_newer_plugin_api_message_names_both_versions(fake_plugins):
    fake_plugins.append(FakeEntryPoint("fake", plugin_module(api=99)))
    _, caught = build()
    assert "plugin API 99, but this lamella-core speaks plugin API 1" in str(caught[0].message)


def test_a_hook_that_raises_leaves_no_partial_registration(fake_plugins):
    """Everything the failing hook registered is rolled back, overrides of core's names too."""

    @hookimpl
    def lamella_register_losses(register):
        register(lamella.losses.hinge, name="half_registered")
        register(lamella.losses.hinge, name="mean_squared_error", aliases=("mse",), override=True)
        raise RuntimeError("boom")

    fake_plugins.append(FakeEntryPoint("fake", plugin_module(lamella_register_losses)))
    infos, _ = build()
    assert not P.available("half_registered", "losses")
    assert P.get("losses", "mse") is lamella.losses.mean_squared_error
    assert P.get("losses", "mean_squared_error") is lamella.losses.mean_squared_error
    assert "losses" not in infos["fake"].registered


# -- a plugin may not end the program ------------------------------------------------------


def _exiting_plugin() -> ModuleType:
    @hookimpl
    def lamella_register_layers(register):
        raise SystemExit(3)

    return plugin_module(lamella_register_layers)


def _interrupting_plugin() -> ModuleType:
    @hookimpl
    def lamella_register_losses(register):
        register(lamella.losses.hinge, name="interrupted_half")
        raise KeyboardInterrupt

    return plugin_module(lamella_register_losses)


HOSTILE = {
    "sys.exit at import": (SystemExit("bye"), "import failed: SystemExit: 'bye'"),
    "bare sys.exit at import": (SystemExit(), "import failed: SystemExit"),
    "KeyboardInterrupt at import": (
        KeyboardInterrupt(),
        "import failed: KeyboardInterrupt raised by the plugin, not by a Ctrl-C",
    ),
    "SystemExit in a hook": (
        _exiting_plugin(),
        "lamella_register_layers raised SystemExit: 3",
    ),
    "KeyboardInterrupt in a hook": (
        _interrupting_plugin(),
        "lamella_register_losses raised KeyboardInterrupt raised by the plugin",
    ),
}


@pytest.mark.parametrize(("module", "message"), HOSTILE.values(), ids=HOSTILE)
def test_a_plugin_that_exits_or_interrupts_is_reported_like_any_broken_plugin(
    fake_plugins, module, message
):
    """The first lookup after ``import lamella.models`` must survive a plugin's sys.exit."""
    fake_plugins.append(FakeEntryPoint("fake", module))
    infos, caught = build()
    runtime = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1, runtime
    assert runtime[0].startswith("lamella: plugin 'fake' from lamella-fake 9.9 failed: ")
    assert message in runtime[0]
    assert "a plugin may not end the program" in runtime[0]
    assert infos["fake"].status == "failed"
    assert P.get("layers", "Dense") is Dense
    assert P.get("losses", "mse") is lamella.losses.mean_squared_error
    assert not P.available("interrupted_half", "losses")


def test_in_strict_mode_a_plugins_sys_exit_is_a_plugin_error(fake_plugins, monkeypatch):
    monkeypatch.setenv("LAMELLA_STRICT_PLUGINS", "1")
    fake_plugins.append(FakeEntryPoint("fake", SystemExit(0)))
    with pytest.raises(PluginError, match=r"'fake' from lamella-fake.*SystemExit: 0"):
        P.plugins()


def test_lamella_plugins_names_a_plugin_that_exits(fake_plugins, capsys):
    fake_plugins.append(FakeEntryPoint("fake", SystemExit(2)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "fake: lamella-fake 9.9 [failed]" in out
    assert "error: import failed: SystemExit: 2" in out


class _CtrlC:
    """An entry point whose import is cut short by a real SIGINT, as a Ctrl-C would."""

    name, value, loads = "fake", "lamella_fake.plugin", 0
    dist = SimpleNamespace(name="lamella-fake", version="9.9")

    def load(self):
        signal.raise_signal(signal.SIGINT)  # the handler raises KeyboardInterrupt here
        time.sleep(1)  # not reached: the interrupt ends the import at once
        return plugin_module()


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs Python's own SIGINT handler",
)
def test_a_ctrl_c_during_a_plugin_import_still_interrupts_the_program(fake_plugins):
    """The user pressed Ctrl-C: that is theirs, not the plugin's, and it propagates."""
    fake_plugins.append(_CtrlC())
    with pytest.raises(KeyboardInterrupt):
        P.registry("layers")
    assert manager._host is None  # nothing half-built is kept: the next lookup starts afresh
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    fake_plugins.clear()
    assert P.get("layers", "Dense") is Dense


def test_a_keyboard_interrupt_raised_in_a_thread_is_the_plugins(fake_plugins):
    """Python delivers a Ctrl-C to the main thread only, so this one came from the plugin."""
    fake_plugins.append(FakeEntryPoint("fake", KeyboardInterrupt()))
    found: list[object] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        worker = threading.Thread(target=lambda: found.append(P.get("layers", "Dense")))
        worker.start()
        worker.join()
    assert found == [Dense]
    assert _plugin("fake").status == "failed"


def test_lamella_plugins_reports_slow_plugins(fake_plugins, capsys, monkeypatch):
    """A plugin that takes long to import delays every program's first lookup: say which."""
    monkeypatch.setattr(manager, "SLOW_SECONDS", 0.05)

    class Slow(FakeEntryPoint):
        def load(self):
            time.sleep(0.1)
            return super().load()

    fake_plugins.append(Slow("sleepy", plugin_module()))
    fake_plugins.append(FakeEntryPoint("zippy", plugin_module()))
    assert cli.main(["plugins", "--json"]) == 0
    report = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert report["sleepy"]["seconds"]["import"] >= 0.1
    assert report["zippy"]["seconds"]["import"] < 0.05
    assert cli.main(["plugins"]) == 0
    out = capsys.readouterr().out
    slow_lines = [line for line in out.splitlines() if "slow:" in line]
    assert len(slow_lines) == 1, out
    assert re.search(r"slow: 0\.1\d s to load \(import 0\.1\d s\)", slow_lines[0])
    assert out.index("sleepy: lamella-fake") < out.index(slow_lines[0]) < out.index("zippy:")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("not installed", "which is not installed"),
        ("installed", "installed but failed to load: import failed: ImportError: no torch"),
    ],
)
def test_a_first_party_plugin_that_fails_to_load_is_told_apart(
    fake_plugins, monkeypatch, status, expected
):
    """A broken install must not read as 'not installed', or the user reinstalls in vain."""
    version = "0.1.0" if status == "installed" else None
    monkeypatch.setattr(errors, "installed_version", lambda dist: version)
    fake_plugins.append(
        FakeEntryPoint("optimizers", ImportError("no torch"), distribution="lamella-optimizers")
    )
    build()
    with pytest.raises(MissingPluginError, match=expected):
        exec("from lamella.optimizers import SGD")


def test_an_installed_first_party_plugin_that_lacks_a_name_says_upgrade(fake_plugins, monkeypatch):
    monkeypatch.setattr(errors, "installed_version", lambda dist: "0.0.1")
    fake_plugins.append(
        FakeEntryPoint("optimizers", plugin_module(), distribution="lamella-optimizers")
    )
    with pytest.raises(MissingPluginError, match="pip install -U lamella-optimizers"):
        P.get("optimizers", "sgd")


# -- conflicts ----------------------------------------------------------------------------


def _custom_loss(y_true, y_pred):
    return y_pred


@pytest.mark.parametrize(
    ("name", "aliases"),
    [("mean_squared_error", ()), ("custom_loss", ("mse",))],
    ids=["same name", "same alias"],
)
def test_a_plugin_cannot_silently_take_a_core_name(fake_plugins, name, aliases):
    """Without override=True core's entry stays, and the warning names both distributions."""

    @hookimpl
    def lamella_register_losses(register):
        register(_custom_loss, name=name, aliases=aliases)

    fake_plugins.append(FakeEntryPoint("fake", plugin_module(lamella_register_losses)))
    infos, caught = build()
    (clash,) = [str(w.message) for w in caught]
    assert clash.startswith("lamella: loss ")
    assert "lamella-fake" in clash
    assert "lamella-core" in clash
    assert P.get("losses", "mse") is lamella.losses.mean_squared_error
    assert not P.available("custom_loss", "losses")
    assert "losses" not in infos["fake"].registered


def test_override_lets_a_plugin_replace_a_core_name(fake_plugins):
    @hookimpl
    def lamella_register_losses(register):
        register(_custom_loss, name="mean_squared_error", override=True)

    fake_plugins.append(FakeEntryPoint("fake", plugin_module(lamella_register_losses)))
    infos, caught = build()
    assert [str(w.message) for w in caught] == []
    assert P.get("losses", "mean_squared_error") is _custom_loss
    assert P.get("losses", "mse") is _custom_loss
    assert infos["fake"].registered == {"losses": ["mean_squared_error"]}


def test_first_party_wins_a_clash_whatever_the_plugin_names(fake_plugins):
    """A third-party plugin sorting first cannot take a first-party name."""

    class Theirs:
        pass

    class Ours:
        pass

    def hooks(cls):
        @hookimpl
        def lamella_register_layers(register):
            register(cls, name="Convolution2D")

        return plugin_module(lamella_register_layers)

    fake_plugins.append(FakeEntryPoint("aaa", hooks(Theirs)))
    fake_plugins.append(
        FakeEntryPoint("layers-conv", hooks(Ours), distribution="lamella-layers-conv")
    )
    build()
    assert P.get("layers", "Convolution2D") is Ours


# -- switching plugins on and off ---------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "third_party", "first_party"),
    [
        ("LAMELLA_PLUGINS", "", "disabled", "disabled"),
        ("LAMELLA_PLUGINS", "fake", "loaded", "disabled"),
        ("LAMELLA_PLUGINS", "lamella-fake, layers-conv", "loaded", "loaded"),
        ("LAMELLA_DISABLE_PLUGINS", "fake", "disabled", "loaded"),
        ("LAMELLA_DISABLE_PLUGINS", "lamella-layers-conv", "loaded", "disabled"),
        ("LAMELLA_DISABLE_PLUGINS", "all", "disabled", "loaded"),
    ],
)
def test_environment_variables_switch_plugins_off(
    fake_plugins, monkeypatch, variable, value, third_party, first_party
):
    """Allow-list by entry point or distribution, block-list, and 'all' for third-party only."""
    monkeypatch.setenv(variable, value)
    fake = FakeEntryPoint("fake", plugin_module())
    conv = FakeEntryPoint("layers-conv", plugin_module(), distribution="lamella-layers-conv")
    fake_plugins.extend([fake, conv])
    infos, _ = build()
    assert (infos["fake"].status, infos["layers-conv"].status) == (third_party, first_party)
    expected_loads = [int(status == "loaded") for status in (third_party, first_party)]
    assert [fake.loads, conv.loads] == expected_loads  # a disabled plugin's code never runs
    assert infos["core"].status == "loaded"
    assert P.get("losses", "mse") is lamella.losses.mean_squared_error


# -- registering from running code --------------------------------------------------------


def swish(x):
    return x


def _plugin(name: str) -> P.PluginInfo:
    (info,) = [info for info in P.plugins() if info.name == name]
    return info


def test_register_and_unregister_at_runtime(fresh_host):
    """A notebook can add an activation that ``activation='swish'`` then finds."""
    P.register("activations", swish)
    assert lamella.activations.get("swish") is swish
    P.unregister("activations", "swish")
    with pytest.raises(UnknownNameError, match="swish"):
        lamella.activations.get("swish")


def test_unregister_brings_back_what_an_override_shadowed(fresh_host):
    P.register("losses", _custom_loss, name="mean_squared_error", override=True)
    assert P.get("losses", "mse") is _custom_loss
    P.unregister("losses", "mean_squared_error")
    assert P.get("losses", "mse") is lamella.losses.mean_squared_error


def test_unregister_leaves_the_plugin_report_unchanged(fresh_host):
    """Rebuilding a registry after unregister must not list core's names twice."""
    before = {kind: list(names) for kind, names in _plugin("core").registered.items()}
    P.register("activations", swish)
    P.unregister("activations", "swish")
    after = _plugin("core").registered
    assert after == before


def test_a_runtime_serializer_is_found_by_file_ending(fresh_host):
    serializer = P.Serializer("npz", (".npz",))
    P.register("serializers", serializer, aliases=(".npz",))
    assert P.serializer_for("weights/Model.NPZ") is serializer


# -- the lamella command ------------------------------------------------------------------


def _core_entry(report: list[dict]) -> dict:
    (core,) = [entry for entry in report if entry["name"] == "core"]
    return core


def _check_core(core: dict) -> None:
    assert core["distribution"] == "lamella-core"
    assert core["version"] == metadata.version("lamella-core")
    assert core["status"] == "loaded"
    assert "Dense" in core["registered"]["layers"]
    assert "mean_squared_error" in core["registered"]["losses"]


def test_lamella_plugins_json_lists_core_and_its_names(fresh_host, capsys):
    assert cli.main(["plugins", "--json"]) == 0
    _check_core(_core_entry(json.loads(capsys.readouterr().out)))


def test_lamella_plugins_json_from_the_command_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "lamella.cli", "plugins", "--json"],
        env=clean_environ(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    _check_core(_core_entry(json.loads(result.stdout)))


def test_lamella_plugins_shows_a_broken_plugins_error(fake_plugins, capsys):
    fake_plugins.append(FakeEntryPoint("fake", ImportError("No module named 'lamella_fake'")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cli.main(["plugins"])
    out = capsys.readouterr().out
    assert "fake: lamella-fake 9.9 [failed]" in out
    assert "error: import failed: ImportError: No module named 'lamella_fake'" in out


def test_lamella_info_json_reports_versions_device_and_settings(capsys):
    assert cli.main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["versions"]["torch"] == importlib.import_module("torch").__version__
    assert info["versions"]["lamella-core"] == metadata.version("lamella-core")
    assert info["device"]["selected"] == str(K.device())
    assert info["config"]["image_dim_ordering"] == K.image_dim_ordering()


# -- backend settings ---------------------------------------------------------------------


@pytest.fixture
def settings_file(monkeypatch, tmp_path):
    """A settings file of the test's own; the settings are read again after the test."""
    for variable in SETTINGS:
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "lamella.json"
    monkeypatch.setenv("LAMELLA_HOME", str(tmp_path))
    K.reload_config()
    yield path
    K.reload_config()


@pytest.mark.parametrize(
    ("stored", "env", "expected"),
    [
        (None, None, "th"),
        (None, "tf", "tf"),
        ({"image_dim_ordering": "tf"}, None, "tf"),
        ({"image_dim_ordering": "tf"}, "th", "th"),
    ],
)
def test_image_dim_ordering_comes_from_the_file_then_the_environment(
    settings_file, monkeypatch, stored, env, expected
):
    if stored is not None:
        settings_file.write_text(json.dumps(stored))
    if env is not None:
        monkeypatch.setenv("LAMELLA_IMAGE_DIM_ORDERING", env)
    K.reload_config()
    assert K.image_dim_ordering() == expected


@pytest.mark.parametrize(("setting", "value"), [("floatx", "float8"), ("image_dim_ordering", "xy")])
@pytest.mark.parametrize("source", ["environment", "file", "setter"])
def test_an_invalid_setting_is_refused_naming_it_and_its_source(
    settings_file, monkeypatch, setting, value, source
):
    origin = {
        "environment": f"LAMELLA_{setting.upper()}",
        "file": str(settings_file),
        "setter": f"set_{setting}",
    }[source]
    if source == "environment":
        monkeypatch.setenv(origin, value)
    elif source == "file":
        settings_file.write_text(json.dumps({setting: value}))
    with pytest.raises(ValueError, match=f"{setting} must be") as caught:
        if source == "setter":
            getattr(K, f"set_{setting}")(value)
        else:
            K.settings()
    assert origin in str(caught.value)


def test_an_unreadable_settings_file_names_the_file(settings_file):
    settings_file.write_text("{not json")
    with pytest.raises(ValueError, match="Cannot read lamella settings"):
        K.settings()


def test_save_config_round_trips(settings_file):
    K.set_image_dim_ordering("tf")
    K.set_epsilon(1e-4)
    assert K.save_config() == settings_file
    assert [p.name for p in settings_file.parent.iterdir()] == ["lamella.json"]
    K.reload_config()
    assert (K.image_dim_ordering(), K.epsilon(), K.floatx()) == ("tf", 1e-4, "float32")


def test_save_config_never_leaves_a_half_written_file(settings_file, monkeypatch):
    """A crash while writing keeps the previous file whole (write, then rename)."""
    settings_file.write_text(json.dumps({"image_dim_ordering": "tf"}))
    before = settings_file.read_text()

    def broken_dump(obj, handle, **kwargs):
        handle.write('{"floatx": ')
        raise OSError("disk full")

    monkeypatch.setattr(config_module.json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        K.save_config()
    assert settings_file.read_text() == before
    assert [p.name for p in settings_file.parent.iterdir()] == ["lamella.json"]
