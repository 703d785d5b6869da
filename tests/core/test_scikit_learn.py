"""lamella.wrappers.scikit_learn: Keras 1's KerasClassifier and KerasRegressor.

Each wrapper is checked against the same lamella model built and trained directly with the
same seed, and against numpy's accuracy and squared error; then inside scikit-learn's
GridSearchCV, cross_val_score and Pipeline.  Models use torch.optim optimizers, so these
tests need only lamella-core (and scikit-learn).
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from lamella.callbacks import History  # noqa: E402
from lamella.engine.optimizer import TorchOptimizer  # noqa: E402
from lamella.layers import Dense, Input  # noqa: E402
from lamella.models import Model, Sequential  # noqa: E402
from lamella.plugins import MissingPluginError  # noqa: E402
from lamella.utils.np_utils import to_categorical  # noqa: E402
from lamella.wrappers.scikit_learn import KerasClassifier, KerasRegressor  # noqa: E402

RNG = np.random.default_rng(7)


def xor_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Four clusters whose class is the XOR of the signs: no linear model separates them."""
    signs = RNG.choice([-1.0, 1.0], size=(n, 2))
    x = (signs * 1.5 + RNG.normal(scale=0.4, size=(n, 2))).astype("float32")
    return x, (signs[:, 0] * signs[:, 1] > 0).astype("int64")


X, Y = xor_data(240)
X_TEST, Y_TEST = xor_data(60)


def build_classifier(hidden: int = 8, activation: str = "tanh", lr: float = 0.05) -> Sequential:
    torch.manual_seed(3)  # the same initial weights and shuffling at every build
    model = Sequential(
        [Dense(hidden, input_dim=2, activation=activation), Dense(2, activation="softmax")]
    )
    model.compile(
        TorchOptimizer(torch.optim.Adam, lr=lr), "categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def build_binary(hidden: int = 8) -> Model:
    """A functional model with one sigmoid output (Keras 1 had predict_classes only on
    Sequential)."""
    torch.manual_seed(4)
    inputs = Input(shape=(2,))
    outputs = Dense(1, activation="sigmoid")(Dense(hidden, activation="tanh")(inputs))
    model = Model(input=inputs, output=outputs)
    model.compile(TorchOptimizer(torch.optim.Adam, lr=0.05), "binary_crossentropy", ["accuracy"])
    return model


def build_regressor(hidden: int = 8) -> Sequential:
    torch.manual_seed(5)
    model = Sequential([Dense(hidden, input_dim=2, activation="tanh"), Dense(1)])
    model.compile(TorchOptimizer(torch.optim.Adam, lr=0.02), "mse")
    return model


class CallableBuilder:
    """Keras 1's second form: an object whose ``__call__`` builds the model."""

    def __call__(self, hidden: int = 8, activation: str = "tanh") -> Sequential:
        return build_classifier(hidden, activation)


class SelfBuildingClassifier(KerasClassifier):
    """Keras 1's third form: build_fn=None and the subclass's own ``__call__``."""

    def __call__(self, hidden: int = 8, activation: str = "tanh") -> Sequential:
        return build_classifier(hidden, activation)


class Net(Sequential):
    """A class as build_fn: its constructor builds and compiles the model."""

    def __init__(self, hidden: int = 8, activation: str = "tanh"):
        torch.manual_seed(3)
        super().__init__(
            [Dense(hidden, input_dim=2, activation=activation), Dense(2, activation="softmax")]
        )
        self.compile(
            TorchOptimizer(torch.optim.Adam, lr=0.05),
            "categorical_crossentropy",
            metrics=["accuracy"],
        )


FIT = {"nb_epoch": 4, "batch_size": 32, "verbose": 0}


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probs.argmax(axis=1) == labels))


@pytest.mark.parametrize(
    "make",
    [
        lambda: KerasClassifier(build_classifier, hidden=6, **FIT),
        lambda: KerasClassifier(CallableBuilder(), hidden=6, **FIT),
        lambda: SelfBuildingClassifier(hidden=6, **FIT),
        lambda: KerasClassifier(Net, hidden=6, **FIT),
    ],
    ids=["function", "callable-object", "subclass-call", "class"],
)
def test_a_classifier_gives_the_numbers_of_the_model_trained_directly(make):
    clf = make()
    history = clf.fit(X, Y)
    proba = clf.predict_proba(X_TEST)

    direct = build_classifier(hidden=6)  # the same seed: initial weights, then shuffling
    direct_history = direct.fit(X, to_categorical(Y), **FIT)
    expected = direct.predict(X_TEST)

    np.testing.assert_allclose(proba, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(history.history["loss"], direct_history.history["loss"], rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X_TEST), expected.argmax(axis=1))
    assert clf.score(X_TEST, Y_TEST) == pytest.approx(accuracy(expected, Y_TEST), abs=1e-6)
    np.testing.assert_array_equal(clf.classes_, [0, 1])


def test_a_single_sigmoid_output_gives_two_probability_columns():
    clf = KerasClassifier(build_binary, **FIT)
    clf.fit(X, Y)
    direct = build_binary()
    direct.fit(X, Y, **FIT)
    p = direct.predict(X_TEST)

    proba = clf.predict_proba(X_TEST)
    assert proba.shape == (len(X_TEST), 2)
    np.testing.assert_allclose(proba, np.hstack([1 - p, p]), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(clf.predict(X_TEST), (p > 0.5).astype("int32"))
    expected = float(np.mean((p[:, 0] > 0.5) == Y_TEST))
    assert clf.score(X_TEST, Y_TEST) == pytest.approx(expected, abs=1e-6)


def test_a_regressor_predicts_the_direct_model_and_scores_minus_its_loss():
    target = (X[:, 0] - 0.5 * X[:, 1]).astype("float32")
    reg = KerasRegressor(build_regressor, hidden=4, **FIT)
    reg.fit(X, target)
    direct = build_regressor(hidden=4)
    direct.fit(X, target[:, None], **FIT)

    expected = direct.predict(X_TEST)[:, 0]
    predicted = reg.predict(X_TEST)
    assert predicted.shape == (len(X_TEST),)
    np.testing.assert_allclose(predicted, expected, rtol=1e-6, atol=1e-6)
    truth = X_TEST[:, 0] - 0.5 * X_TEST[:, 1]
    mse = float(np.mean((expected - truth) ** 2))
    assert reg.score(X_TEST, truth) == pytest.approx(-mse, rel=1e-5)
    assert is_regressor(reg) and not is_classifier(reg)


class Recorder(Sequential):
    """A model that notes the keyword arguments each of its methods receives."""

    calls: list[tuple[str, dict]] = []

    def fit(self, x, y, **kwargs):
        Recorder.calls.append(("fit", kwargs))
        self.targets = y
        return super().fit(x, y, **kwargs)

    def predict_classes(self, *args, **kwargs):
        Recorder.calls.append(("predict_classes", kwargs))
        return super().predict_classes(*args, **kwargs)

    def predict_proba(self, *args, **kwargs):
        Recorder.calls.append(("predict_proba", kwargs))
        return super().predict_proba(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        Recorder.calls.append(("evaluate", kwargs))
        return super().evaluate(*args, **kwargs)


def build_recorder(hidden: int = 3, classes: int = 2) -> Recorder:
    Recorder.calls.append(("build", {"hidden": hidden, "classes": classes}))
    model = Recorder([Dense(hidden, input_dim=2), Dense(classes, activation="softmax")])
    model.compile(torch.optim.SGD(model.parameters(), lr=0.1), "categorical_crossentropy", ["acc"])
    return model


def test_sk_params_go_to_each_call_by_its_signature_and_call_arguments_win():
    Recorder.calls.clear()
    clf = KerasClassifier(build_recorder, hidden=5, nb_epoch=2, batch_size=7, verbose=0)
    clf.fit(X, Y, nb_epoch=1)
    clf.predict(X, batch_size=9)
    clf.predict_proba(X)
    clf.score(X, Y)
    assert Recorder.calls == [
        ("build", {"hidden": 5, "classes": 2}),
        ("fit", {"nb_epoch": 1, "batch_size": 7, "verbose": 0}),
        ("predict_classes", {"batch_size": 9, "verbose": 0}),
        ("predict_proba", {"batch_size": 7, "verbose": 0}),
        ("evaluate", {"batch_size": 7, "verbose": 0}),
    ]


def test_class_indices_become_one_hot_rows_as_wide_as_the_model():
    """A fold without the last class still trains a 3-way model (Keras 1 made 2 columns)."""
    labels = np.array([0, 1, 1, 0])
    clf = KerasClassifier(build_recorder, classes=3, nb_epoch=1, verbose=0)
    clf.fit(X[:4], labels)
    np.testing.assert_array_equal(clf.model.targets, np.eye(3)[labels])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict_proba(X[:4]).shape == (4, 3)
    assert clf.score(X[:4], labels) == pytest.approx(
        accuracy(clf.model.predict(X[:4]), labels), abs=1e-6
    )
    one_hot = np.eye(3)[labels]  # given one-hot rows pass unchanged
    clf.fit(X[:4], one_hot)
    np.testing.assert_array_equal(clf.model.targets, one_hot)


def test_unknown_parameters_are_refused_with_the_legal_ones_named():
    with pytest.raises(ValueError, match=r"'hiden'.*not a legal parameter.*hidden"):
        KerasClassifier(build_classifier, hiden=4)
    clf = KerasClassifier(build_classifier)
    with pytest.raises(ValueError, match="'nb_epochs'"):
        clf.set_params(nb_epochs=3)
    with pytest.raises(TypeError, match="must define __call__"):
        KerasClassifier(None, hidden=4)


def test_get_params_set_params_and_clone():
    clf = KerasClassifier(build_classifier, hidden=4, activation="relu", **FIT)
    params = clf.get_params()
    assert params == {"build_fn": build_classifier, "hidden": 4, "activation": "relu", **FIT}
    assert clf.set_params(hidden=9, verbose=0) is clf
    assert clf.get_params()["hidden"] == 9

    copy = clone(clf)
    assert copy is not clf and copy.get_params() == clf.get_params()
    assert not hasattr(copy, "model")
    # clone checks that get_params returns the objects given (Keras 1 returned deep copies,
    # so a list such as callbacks could not be cloned)
    callbacks = [History()]
    cloned = clone(KerasRegressor(build_regressor, callbacks=callbacks))
    assert [type(c) for c in cloned.get_params()["callbacks"]] == [History]
    assert KerasClassifier(build_classifier).set_params(build_fn=build_binary).build_fn is (
        build_binary
    )


def test_predicting_before_fit_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="KerasRegressor is not fitted"):
        KerasRegressor(build_regressor).predict(X)


def test_score_needs_an_accuracy_metric():
    def no_metrics() -> Sequential:
        model = Sequential([Dense(2, input_dim=2, activation="softmax")])
        model.compile(torch.optim.Adam, "categorical_crossentropy")
        return model

    clf = KerasClassifier(no_metrics, nb_epoch=1, verbose=0)
    clf.fit(X, Y)
    with pytest.raises(ValueError, match=r"metrics=\['accuracy'\]"):
        clf.score(X, Y, verbose=0)


def test_grid_search_picks_the_activation_that_can_learn_xor():
    search = GridSearchCV(
        KerasClassifier(build_classifier, nb_epoch=10, batch_size=40, verbose=0),
        {"activation": ["linear", "tanh"]},
        cv=3,
    )
    search.fit(X, Y)
    results = search.cv_results_
    scores = dict(zip(results["param_activation"], results["mean_test_score"], strict=True))
    assert search.best_params_ == {"activation": "tanh"}
    assert scores["tanh"] > 0.95 and scores["linear"] < 0.8, scores
    best = search.best_estimator_
    assert best.get_params()["activation"] == "tanh"
    assert best.score(X_TEST, Y_TEST, verbose=0) == pytest.approx(
        accuracy(best.model.predict(X_TEST), Y_TEST), abs=1e-6
    )


def test_cross_val_score_matches_training_each_stratified_fold_directly():
    clf = KerasClassifier(build_classifier, hidden=4, nb_epoch=3, batch_size=32, verbose=0)
    scores = cross_val_score(clf, X, Y, cv=3)

    expected = []
    for train, test in StratifiedKFold(3).split(X, Y):  # a classifier gets stratified folds
        model = build_classifier(hidden=4)
        model.fit(X[train], to_categorical(Y[train]), nb_epoch=3, batch_size=32, verbose=0)
        expected.append(accuracy(model.predict(X[test]), Y[test]))
    np.testing.assert_allclose(scores, expected, atol=1e-6)

    proba_scores = cross_val_score(clone(clf), X, Y, cv=3, scoring="neg_log_loss")
    assert np.all(proba_scores < 0) and np.all(np.isfinite(proba_scores))


def test_a_pipeline_scales_then_trains_and_takes_nested_parameters():
    shifted = X * 10.0 + 40.0  # a scaler is what makes this learnable in a few epochs
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("clf", KerasClassifier(build_classifier, verbose=0))]
    )
    pipeline.set_params(clf__nb_epoch=10, clf__batch_size=40, clf__hidden=6)
    assert pipeline.named_steps["clf"].get_params()["hidden"] == 6
    pipeline.fit(shifted, Y)

    scaler = StandardScaler().fit(shifted)
    direct = build_classifier(hidden=6)
    direct.fit(scaler.transform(shifted), to_categorical(Y), nb_epoch=10, batch_size=40, verbose=0)
    test = X_TEST * 10.0 + 40.0
    expected = direct.predict(scaler.transform(test).astype("float32"))
    np.testing.assert_allclose(pipeline.predict_proba(test), expected, rtol=1e-5, atol=1e-6)
    assert pipeline.score(test, Y_TEST) == pytest.approx(accuracy(expected, Y_TEST), abs=1e-6)
    assert pipeline.score(test, Y_TEST) > 0.9


def test_without_scikit_learn_the_import_error_says_how_to_install_it(monkeypatch):
    import lamella.plugins.errors as errors

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now fails
    monkeypatch.setitem(sys.modules, "sklearn.base", None)
    monkeypatch.delitem(sys.modules, "lamella.wrappers.scikit_learn")
    monkeypatch.setattr(errors, "installed_version", lambda distribution: None)
    with pytest.raises(MissingPluginError, match="pip install scikit-learn") as caught:
        importlib.import_module("lamella.wrappers.scikit_learn")
    assert isinstance(caught.value, ImportError)
    assert caught.value.distribution == "scikit-learn"
