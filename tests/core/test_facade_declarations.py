"""The facades' declarations for type checkers agree with the registry.

``lamella.layers``, ``lamella.optimizers`` and the Keras 1 module paths give the
plugins' names at run time through the registry (a module ``__getattr__``), which
type checkers and IDEs cannot follow.  Each such facade therefore declares those
names in an ``if TYPE_CHECKING:`` block that never runs (docs/architecture.md §2).
These tests read those blocks from the source and fail when they and the registry
drift apart: a name declared that no package provides, a name provided that is not
declared, or a declaration that is not the object the registry hands out.

With lamella-core alone, the plugins' names are checked against core's table of which
package provides which name (``lamella.plugins.first_party``), which the all-packages
session checks against what the packages really register; with the plugins installed,
against the registry itself.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import runpy
from pathlib import Path

import pytest

import lamella.plugins as P
from lamella.plugins.errors import MissingPluginError
from lamella.plugins.first_party import FIRST_PARTY

CORE = Path(P.__file__).resolve().parents[1]  # lamella-core's portion of the namespace
#: Where each plugin distribution's code lives (docs/architecture.md §1).
CODE = {
    "lamella-layers-conv": "lamella.conv",
    "lamella-layers-recurrent": "lamella.recurrent",
    "lamella-optimizers": "lamella.optim",
    "lamella-preprocessing": "lamella.preproc",
    "lamella-io-hdf5": "lamella.hdf5",
    "lamella-applications": "lamella.apps",
}
Declared = dict[str, tuple[str, str]]  # name -> (module, attribute)


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _facade_calls(function: str) -> dict[str, str]:
    """Core's modules that call ``function(__name__, "<argument>", ...)``, with the argument."""
    found = {}
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == function
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "__name__"
            ):
                found[_module_name(path)] = node.args[1].value
    return found


REGISTRY_FACADES = _facade_calls("registry_facade")  # module -> kind
MODULE_FACADES = _facade_calls("module_facade")  # module -> the plugin module behind it


def _type_checking_blocks(module: str) -> list[list[ast.stmt]]:
    origin = importlib.util.find_spec(module).origin
    tree = ast.parse(Path(origin).read_text(encoding="utf-8"))
    return [
        node.body
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]


def declarations(module: str) -> Declared:
    """What ``module``'s ``if TYPE_CHECKING:`` block declares: ``Name = _plugin.Attribute``
    lines, ``_plugin`` being a module the block imports."""
    modules: dict[str, str] = {}
    declared: Declared = {}
    for block in _type_checking_blocks(module):
        for statement in block:
            if isinstance(statement, ast.ImportFrom):
                for alias in statement.names:
                    modules[alias.asname or alias.name] = f"{statement.module}.{alias.name}"
                continue
            assert isinstance(statement, ast.Assign), ast.unparse(statement)
            (target,) = statement.targets
            value = statement.value
            assert isinstance(target, ast.Name), ast.unparse(statement)
            assert isinstance(value, ast.Attribute), ast.unparse(statement)
            assert isinstance(value.value, ast.Name), ast.unparse(statement)
            declared[target.id] = (modules[value.value.id], value.attr)
    return declared


def _star_imports(module: str) -> list[str]:
    return [
        statement.module
        for block in _type_checking_blocks(module)
        for statement in block
        if isinstance(statement, ast.ImportFrom) and statement.names[0].name == "*"
    ]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _table(distribution: str, kind: str) -> set[str]:
    return set(FIRST_PARTY[distribution].names.get(kind, ()))


def _plugin_distributions(kind: str) -> list[str]:
    return [d for d in FIRST_PARTY if d != "lamella-core" and _table(d, kind)]


def _runtime_names(module: str) -> set[str]:
    return {n for n in vars(importlib.import_module(module)) if not n.startswith("_")}


@pytest.fixture
def fresh_host(monkeypatch):
    """Every installed plugin, whatever the shell's LAMELLA_* switches say."""
    for variable in ("LAMELLA_PLUGINS", "LAMELLA_DISABLE_PLUGINS", "LAMELLA_STRICT_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    P.reset()
    yield
    P.reset()


def _core_registered(kind: str) -> dict[str, object]:
    registry = P.registry(kind)
    return {
        key: registry.entries[canonical].obj
        for key, canonical in registry.lookup.items()
        if registry.entries[canonical].provider.distribution == "lamella-core"
    }


def test_the_facades_are_found():
    """The scan sees the facades this file is about, so the tests below cannot pass empty."""
    assert REGISTRY_FACADES["lamella.layers"] == "layers"
    assert REGISTRY_FACADES["lamella.layers.pooling"] == "layers"
    assert REGISTRY_FACADES["lamella.optimizers"] == "optimizers"
    assert MODULE_FACADES["lamella.preprocessing.image"] == "lamella.preproc.image"
    assert declarations("lamella.layers")["Conv2D"] == (
        "lamella.conv.convolutional",
        "Convolution2D",
    )


@pytest.mark.parametrize("module", sorted(REGISTRY_FACADES))
def test_each_declared_name_is_one_its_package_provides(fresh_host, module):
    """A declaration no package backs would let a type checker pass an import that fails."""
    kind = REGISTRY_FACADES[module]
    declared = declarations(module)
    assert declared, f"{module} declares nothing for type checkers"
    registry = P.registry(kind)
    wrong = []
    for name, (source, attribute) in declared.items():
        canonical = registry.lookup.get(name)
        if canonical is not None:
            provider = registry.entries[canonical].provider.distribution
        else:
            providers = [d for d in _plugin_distributions(kind) if name in _table(d, kind)]
            provider = providers[0] if providers else None
        if provider not in CODE or not _within(source, CODE[provider]):
            wrong.append(f"{name} = {source}.{attribute} (provided by {provider})")
        elif attribute not in _table(provider, kind):
            wrong.append(f"{name} = {source}.{attribute} ({attribute} is not {provider}'s)")
    assert wrong == []


@pytest.mark.parametrize("module", sorted(REGISTRY_FACADES))
def test_declarations_do_not_hide_what_the_module_defines(fresh_host, module):
    """A name defined at run time needs no declaration: a second one could disagree."""
    assert set(declarations(module)) & _runtime_names(module) == set()


def test_lamella_layers_defines_core_layers_and_declares_every_plugin_layer(fresh_host):
    """``from lamella.layers import X`` type checks for every name the registry can give."""
    module = importlib.import_module("lamella.layers")
    for name, obj in _core_registered("layers").items():
        assert vars(module).get(name) is obj, f"core's {name} is not imported in lamella.layers"
    plugins = set().union(*(_table(d, "layers") for d in _plugin_distributions("layers")))
    assert set(declarations("lamella.layers")) == plugins


@pytest.mark.parametrize(
    ("distribution", "kind"),
    [
        (d, kind)
        for kind in sorted(set(REGISTRY_FACADES.values()))
        for d in _plugin_distributions(kind)
    ],
)
def test_keras_module_paths_together_declare_their_packages_names(distribution, kind):
    """lamella.layers.convolutional, .pooling and .local between them declare all of
    lamella-layers-conv's layers; lamella.optimizers all of lamella-optimizers'."""
    paths = [m for m, k in REGISTRY_FACADES.items() if k == kind]
    own = [m for m in paths if m in FIRST_PARTY[distribution].modules]
    assert own, f"no module path of {distribution} serves its {kind}"
    declared = set().union(*(declarations(m) for m in own))
    assert declared == _table(distribution, kind)


@pytest.mark.parametrize("module", sorted(MODULE_FACADES))
def test_module_facades_show_type_checkers_the_module_behind_them(module):
    """``lamella.preprocessing.image`` forwards to lamella.preproc.image: static tools
    read that module through a star import of the same target."""
    assert _star_imports(module) == [MODULE_FACADES[module]]


@pytest.mark.parametrize("module", sorted(REGISTRY_FACADES))
def test_a_declared_name_whose_package_is_missing_still_says_what_to_install(fresh_host, module):
    """The declarations are for static tools only: at run time a missing package's name
    still raises the error naming the package."""
    kind = REGISTRY_FACADES[module]
    registry = P.registry(kind)
    checked = 0
    for name in declarations(module):
        if name in registry.lookup:
            continue
        distribution = next(d for d in _plugin_distributions(kind) if name in _table(d, kind))
        with pytest.raises(MissingPluginError) as caught:
            exec(f"from {module} import {name}", {})
        assert isinstance(caught.value, ImportError)
        assert caught.value.distribution == distribution
        assert distribution in str(caught.value)
        checked += 1
    if checked == 0:
        pytest.skip("every package behind these names is installed")


# -- with the plugins installed (the all-packages session) -------------------------------


@pytest.mark.requires("lamella-layers-conv", "lamella-layers-recurrent", "lamella-optimizers")
@pytest.mark.parametrize("module", sorted(REGISTRY_FACADES))
def test_each_declaration_is_the_object_the_registry_gives(fresh_host, module):
    """What the type checker reads is what ``from ... import`` returns."""
    registry = P.registry(REGISTRY_FACADES[module])
    facade = importlib.import_module(module)
    for name, (source, attribute) in declarations(module).items():
        declared = getattr(importlib.import_module(source), attribute)
        assert declared is registry.get(name) is getattr(facade, name), f"{module}.{name}"


@pytest.mark.requires("lamella-layers-conv", "lamella-layers-recurrent", "lamella-optimizers")
@pytest.mark.parametrize("module", sorted(REGISTRY_FACADES))
def test_each_module_path_declares_every_name_registered_from_its_code(fresh_host, module):
    """``lamella.layers.pooling`` declares every layer of lamella.conv.pooling, aliases
    included; ``lamella.layers`` every first-party layer."""
    registry = P.registry(REGISTRY_FACADES[module])
    declared = declarations(module)
    sources = {source for source, _ in declared.values()}
    registered = {
        key
        for entry in registry.entries.values()
        if entry.provider.first_party
        and entry.provider.distribution != "lamella-core"
        and (module == "lamella.layers" or any(_within(entry.obj.__module__, s) for s in sources))
        for key in (entry.name, *entry.aliases)
    }
    assert set(declared) == registered


@pytest.mark.requires(*CODE)
def test_the_everyday_imports_that_mypy_checks_run():
    """``nox -s lint`` type checks tests/typing/everyday_imports.py; with every package
    installed (and scikit-learn, for the wrappers) the same imports work at run time."""
    pytest.importorskip("sklearn")
    path = Path(__file__).parents[1] / "typing" / "everyday_imports.py"
    names = runpy.run_path(str(path))
    assert len(names["EVERYDAY"]) >= 60
    assert names["Conv2D"] is names["Convolution2D"] is P.get("layers", "Conv2D")
