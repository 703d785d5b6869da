"""The package as the plugin manager meets it, in a fresh Python with the package installed:
its entry point loads (registering nothing), and loading it looks no layer up, which
would wait on the registries being built."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lamella.apps import VGG16, vgg16

pytestmark = pytest.mark.requires("lamella-applications")


def run(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")}
    result = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_lamella_plugins_lists_it_loaded():
    report = json.loads(run("-m", "lamella.cli", "plugins", "--json"))
    (entry,) = [entry for entry in report if entry["name"] == "applications"]
    assert (entry["distribution"], entry["status"], entry["errors"]) == (
        "lamella-applications",
        "loaded",
        [],
    )


def test_a_layer_lookup_first_then_the_models():
    """The first lookup builds the registries and imports every plugin, this one too."""
    code = (
        "import lamella.layers as L; L.Dense; "
        "from lamella.applications import VGG16; import lamella.applications as A; "
        "print(VGG16.__module__, A.vgg16.VGG16 is VGG16, A.resnet50.__name__)"
    )
    facade = "lamella.applications.resnet50"
    assert run("-c", code).split() == ["lamella.apps.vgg16", "True", facade]
    assert VGG16 is vgg16.VGG16
