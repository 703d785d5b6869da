"""plot / model_to_dot through pydot (an optional extra)."""

from __future__ import annotations

import shutil
import sys

import pytest

from lamella.layers import Dense, Input, merge
from lamella.models import Model, Sequential
from lamella.utils import visualize_util


def two_branch_model() -> Model:
    a, b = Input(shape=(3,), name="a"), Input(shape=(4,), name="b")
    joined = merge([Dense(2, name="da")(a), Dense(2, name="db")(b)], mode="concat", name="join")
    return Model([a, b], Dense(1, name="out")(joined))


def test_model_to_dot_has_a_node_per_layer_and_an_edge_per_connection():
    pytest.importorskip("pydot")
    model = two_branch_model()
    dot = visualize_util.model_to_dot(model, show_shapes=True)
    labels = {
        n.get_label().strip('"').split("\n")[0]
        for n in dot.get_nodes()
        if n.get_name() not in ("node", "edge", "graph")
    }
    assert labels == {
        "a: InputLayer",
        "b: InputLayer",
        "da: Dense",
        "db: Dense",
        "join: Merge",
        "out: Dense",
    }
    ids = {layer.name: str(id(layer)) for layer in model.layers}
    edges = {(e.get_source(), e.get_destination()) for e in dot.get_edges()}
    expected = {("a", "da"), ("b", "db"), ("da", "join"), ("db", "join"), ("join", "out")}
    assert edges == {(ids[s], ids[d]) for s, d in expected}
    assert "(None, 2)" in dot.to_string()


def test_sequential_drawing_starts_at_its_input():
    pytest.importorskip("pydot")
    model = Sequential([Dense(2, input_dim=3), Dense(1)])
    dot = visualize_util.model_to_dot(model, show_layer_names=False)
    assert len(dot.get_edges()) == 2


def test_missing_pydot_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match=r"pip install 'lamella-core\[visualize\]'"):
        visualize_util.plot(two_branch_model(), to_file="model.png")


@pytest.mark.skipif(shutil.which("dot") is not None, reason="Graphviz is installed")
def test_missing_graphviz_says_what_to_install(tmp_path):
    pytest.importorskip("pydot")
    with pytest.raises(RuntimeError, match="needs Graphviz's 'dot' program"):
        visualize_util.plot(two_branch_model(), to_file=str(tmp_path / "model.png"))
