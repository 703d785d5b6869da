"""The first-party plugins together: found, loaded, in lockstep, and true to core's table.

Runs in the 'all' session, where every first-party package is installed.  The
table in lamella.plugins.first_party words the install hints of the core-only
session, so these tests keep it equal to what the packages really register.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib import metadata

import pytest

import lamella.layers
import lamella.plugins as P
from lamella.plugins.first_party import APPLICATIONS, FIRST_PARTY

#: Entry-point name -> distribution, for every first-party plugin (docs/architecture.md §2).
ENTRY_POINTS = {
    "layers-conv": "lamella-layers-conv",
    "layers-recurrent": "lamella-layers-recurrent",
    "optimizers": "lamella-optimizers",
    "preprocessing": "lamella-preprocessing",
    "io-hdf5": "lamella-io-hdf5",
    "applications": "lamella-applications",
}
PLUGIN_DISTRIBUTIONS = sorted(ENTRY_POINTS.values())
#: Core's module facades and the plugin modules behind them.
DATASETS = ("mnist", "cifar10", "cifar100", "imdb", "reuters")
MODULE_FACADES = {
    "lamella.preprocessing.image": "lamella.preproc.image",
    "lamella.preprocessing.sequence": "lamella.preproc.sequence",
    "lamella.preprocessing.text": "lamella.preproc.text",
    "lamella.utils.io_utils": "lamella.hdf5.matrix",
    **{f"lamella.datasets.{n}": f"lamella.preproc.datasets.{n}" for n in DATASETS},
    "lamella.applications": "lamella.apps",
    **{f"lamella.applications.{m}": f"lamella.apps.{m}" for m in APPLICATIONS},
}


@pytest.fixture(scope="module")
def report():
    """What ``lamella plugins --json`` prints in a fresh Python, by entry-point name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")}
    result = subprocess.run(
        [sys.executable, "-m", "lamella.cli", "plugins", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


@pytest.fixture
def fresh_host(monkeypatch):
    """Every installed plugin, whatever the shell's LAMELLA_* switches say."""
    for variable in ("LAMELLA_PLUGINS", "LAMELLA_DISABLE_PLUGINS", "LAMELLA_STRICT_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    P.reset()
    yield
    P.reset()


def test_the_table_covers_every_first_party_distribution():
    assert set(FIRST_PARTY) == {"lamella-core", *ENTRY_POINTS.values()}


@pytest.mark.parametrize(("name", "distribution"), ENTRY_POINTS.items())
def test_lamella_plugins_lists_each_first_party_plugin_loaded(report, name, distribution):
    """Each package's entry point is found and loads cleanly, at core's own version."""
    entry = report[name]
    assert (entry["distribution"], entry["status"], entry["errors"]) == (distribution, "loaded", [])
    assert entry["version"] == metadata.version(distribution)
    assert entry["version"] == report["core"]["version"] == metadata.version("lamella-core")


def _registered_names(distribution: str) -> dict[str, set[str]]:
    """Per kind, the names and aliases of the registry entries ``distribution`` provides."""
    names: dict[str, set[str]] = {}
    for kind in P.KINDS:
        for entry in P.registry(kind).entries.values():
            if entry.provider.distribution == distribution:
                names.setdefault(kind, set()).update((entry.name, *entry.aliases))
    return names


@pytest.mark.parametrize("distribution", PLUGIN_DISTRIBUTIONS)
def test_the_first_party_table_is_what_each_package_registers(fresh_host, distribution):
    """An install hint for a name the package does not register would send users astray."""
    (info,) = [info for info in P.plugins() if info.distribution == distribution]
    registered = _registered_names(distribution)
    canonical = {
        kind: {n for n in names if P.registry(kind).lookup.get(n) == n}
        for kind, names in registered.items()
    }
    assert {kind: sorted(names) for kind, names in info.registered.items()} == {
        kind: sorted(names) for kind, names in canonical.items()
    }
    table = {kind: set(names) for kind, names in FIRST_PARTY[distribution].names.items() if names}
    if table and not registered:
        pytest.xfail(f"{distribution} is still a skeleton")
    assert registered == table


def test_every_registered_layer_resolves_through_lamella_layers(fresh_host):
    layers = P.registry("layers")
    for name in layers.lookup:
        assert getattr(lamella.layers, name) is layers.get(name), name
    assert set(layers.lookup) <= set(dir(lamella.layers))


@pytest.mark.parametrize(
    ("module", "distribution"),
    [
        (module, distribution)
        for distribution in PLUGIN_DISTRIBUTIONS
        for module in sorted(FIRST_PARTY[distribution].modules)
        if module not in MODULE_FACADES  # they forward a module, not registry names
    ],
)
def test_each_keras_module_path_imports_and_serves_its_packages_names(
    fresh_host, module, distribution
):
    """``from lamella.layers.pooling import MaxPooling2D`` and friends, as in Keras 1."""
    facade = importlib.import_module(module)
    for kind, names in _registered_names(distribution).items():
        for name in names:
            assert getattr(facade, name) is P.get(kind, name), f"{module}.{name}"


@pytest.mark.parametrize(("facade", "target"), MODULE_FACADES.items())
def test_module_facades_forward_every_public_name(facade, target):
    """``lamella.preprocessing.image.ImageDataGenerator`` is the plugin's own object."""
    facade_module = importlib.import_module(facade)
    target_module = importlib.import_module(target)
    assert target_module.__all__
    for name in target_module.__all__:
        assert getattr(facade_module, name) is getattr(target_module, name), f"{facade}.{name}"
    assert set(target_module.__all__) <= set(dir(facade_module))
