"""Keras 1's scikit-learn wrappers: a lamella model as a scikit-learn classifier or regressor.

``KerasClassifier(build_fn, **sk_params)`` and ``KerasRegressor`` build a new model with
``build_fn`` at every ``fit``, so scikit-learn can clone them, search their parameters
(``GridSearchCV``), cross-validate them (``cross_val_score``) and end a ``Pipeline`` with
them.  ``sk_params`` holds the arguments of ``build_fn`` and those of the model's ``fit``,
``predict``, ``predict_classes``, ``predict_proba`` and ``evaluate`` (``nb_epoch``,
``batch_size``, ``verbose`` ...): each call gets the ones its signature names, and
keyword arguments given to the call itself take precedence.

scikit-learn is an optional dependency: importing this module without it raises an
``ImportError`` that says ``pip install scikit-learn``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lamella.callbacks import History
from lamella.engine.training import Model
from lamella.models import Sequential
from lamella.plugins import MissingPluginError
from lamella.plugins.errors import installed_version
from lamella.utils.np_utils import to_categorical

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import NotFittedError
except ImportError as exc:  # the message names the package and the pip command
    broken = installed_version("scikit-learn") is not None
    failure = f"{type(exc).__name__}: {exc}" if broken else None
    raise MissingPluginError(__name__, "scikit-learn", failure) from exc

__all__ = ["BaseWrapper", "KerasClassifier", "KerasRegressor", "Sequential", "to_categorical"]

#: The model methods whose arguments ``sk_params`` may hold besides ``build_fn``'s.
MODEL_METHODS: tuple[Callable[..., Any], ...] = (
    Sequential.fit,
    Sequential.predict,
    Sequential.predict_classes,
    Sequential.predict_proba,
    Sequential.evaluate,
)


def _arguments(fn: Callable[..., Any]) -> list[str]:
    """The names ``fn`` takes by keyword: not ``self``, not ``*args`` or ``**kwargs``."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature takes no sk_params
        return []
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in parameters if p.kind in keyword and p.name != "self"]


class BaseWrapper(BaseEstimator):
    """What both wrappers share: building the model, routing ``sk_params``, parameters.

    ``build_fn`` returns a compiled model.  It may be a function, an object with a
    ``__call__`` method, or a class whose constructor builds and compiles the model; or
    None, and then the subclass's own ``__call__`` builds it.  Its arguments need
    defaults, as scikit-learn creates estimators without parameters.
    """

    def __init__(self, build_fn: Callable[..., Any] | None = None, **sk_params: Any) -> None:
        self.build_fn = build_fn
        self.sk_params = sk_params
        self.check_params(sk_params)

    # -- parameters ---------------------------------------------------------------------

    def _builder(self) -> Callable[..., Any]:
        """What builds the model: ``build_fn``, else this object's ``__call__``."""
        name = type(self).__name__
        if self.build_fn is None:
            if not callable(self):
                raise TypeError(
                    f"{name}: build_fn is None, so {name} must define __call__ returning a "
                    "compiled model; pass build_fn=<a function returning one> or subclass "
                    f"{name} with such a __call__"
                )
            return self.__call__
        if not callable(self.build_fn):
            raise TypeError(
                f"{name}: build_fn must be a function, a callable object or a class that "
                f"returns a compiled model, got {self.build_fn!r}"
            )
        return self.build_fn

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Refuse names that neither ``build_fn`` nor the model's methods take (typos)."""
        builder = set(_arguments(self._builder()))
        methods = {name for fn in MODEL_METHODS for name in _arguments(fn)}
        unknown = sorted(set(params) - builder - methods)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: {', '.join(map(repr, unknown))} is not a legal "
                f"parameter; sk_params takes the arguments of build_fn "
                f"({', '.join(sorted(builder)) or 'none'}) and of the model's fit, predict, "
                f"predict_classes, predict_proba and evaluate ({', '.join(sorted(methods))})"
            )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """``build_fn`` and ``sk_params``, the very objects (``clone`` checks identity)."""
        return {**self.sk_params, "build_fn": self.build_fn}

    def set_params(self, **params: Any) -> BaseWrapper:
        """Change ``sk_params`` (or ``build_fn``); the next ``fit`` uses them."""
        if "build_fn" in params:
            self.build_fn = params.pop("build_fn")
        self.check_params(params)
        self.sk_params.update(params)
        return self

    def filter_sk_params(
        self, fn: Callable[..., Any], override: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The ``sk_params`` that ``fn`` takes, updated with ``override``."""
        names = _arguments(fn)
        chosen = {name: value for name, value in self.sk_params.items() if name in names}
        chosen.update(override or {})
        return chosen

    # -- training -----------------------------------------------------------------------

    def fit(self, x: Any, y: Any, **kwargs: Any) -> History:
        """Build a new model with ``build_fn`` and train it on ``(x, y)``.

        ``kwargs`` are arguments of the model's ``fit`` and take precedence over
        ``sk_params``.  Returns the ``History``, as Keras 1 does.
        """
        builder = self._builder()
        model = builder(**self.filter_sk_params(builder))
        if not isinstance(model, Model):
            raise TypeError(
                f"{type(self).__name__}.fit: build_fn must return a compiled lamella model, "
                f"got {type(model).__name__}"
            )
        self.model = model
        fit_args = copy.deepcopy(self.filter_sk_params(Sequential.fit))  # callbacks: fresh
        fit_args.update(kwargs)
        return model.fit(x, self._targets(y), **fit_args)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model")

    def _fitted(self) -> Model:
        if not hasattr(self, "model"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit first")
        return self.model

    def _targets(self, y: Any) -> Any:
        """Class indices become one-hot rows for a model trained with categorical_crossentropy."""
        loss = getattr(self.model.loss, "__name__", self.model.loss)
        y = np.asarray(y)
        if loss == "categorical_crossentropy" and y.ndim != 2:
            width = self.model.output_shape[-1]
            return to_categorical(y, width if isinstance(width, int) else None)
        return y


class KerasClassifier(ClassifierMixin, BaseWrapper):
    """scikit-learn's classifier interface to a model built by ``build_fn``.

    Labels are class indices (0, 1, ...): one-hot targets for categorical_crossentropy
    are made from them.  ``predict`` returns indices and ``classes_`` lists them.
    """

    def fit(self, x: Any, y: Any, **kwargs: Any) -> History:
        history = super().fit(x, y, **kwargs)
        width = self.model.output_shape[-1]
        self.classes_ = np.arange(max(2, width if isinstance(width, int) else 1))
        return history

    def _outputs(self, method: str, x: Any, kwargs: dict[str, Any]) -> np.ndarray:
        """The model's ``method`` (a Sequential's); a functional Model has only ``predict``."""
        model = self._fitted()
        own = getattr(model, method, None)
        if own is not None:
            return own(x, **kwargs)
        probs = model.predict(x, **kwargs)
        if method == "predict_classes":
            return probs.argmax(axis=-1) if probs.shape[-1] > 1 else (probs > 0.5).astype("int32")
        return probs

    def predict(self, x: Any, **kwargs: Any) -> np.ndarray:
        """Class indices: the argmax of the outputs, or ``p > 0.5`` for one sigmoid output."""
        kwargs = self.filter_sk_params(Sequential.predict_classes, kwargs)
        return self._outputs("predict_classes", x, kwargs)

    def predict_proba(self, x: Any, **kwargs: Any) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)``; a single sigmoid output
        ``p`` gives the two columns ``1 - p, p`` that scikit-learn expects."""
        kwargs = self.filter_sk_params(Sequential.predict_proba, kwargs)
        probs = self._outputs("predict_proba", x, kwargs)
        if probs.shape[1] == 1:
            probs = np.hstack([1 - probs, probs])
        return probs

    def score(self, x: Any, y: Any, **kwargs: Any) -> float:
        """The model's accuracy on ``(x, y)``, from ``evaluate`` (compile it with
        ``metrics=['accuracy']``)."""
        kwargs = self.filter_sk_params(Sequential.evaluate, kwargs)
        model = self._fitted()
        outputs = model.evaluate(x, self._targets(y), **kwargs)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for name, value in zip(model.metrics_names, outputs, strict=False):
            if name == "acc":
                return value
        raise ValueError(
            f"KerasClassifier.score: model {model.name!r} computes no accuracy (its metrics "
            f"are {model.metrics_names}); compile it with metrics=['accuracy']"
        )


class KerasRegressor(RegressorMixin, BaseWrapper):
    """scikit-learn's regressor interface to a model built by ``build_fn``."""

    def predict(self, x: Any, **kwargs: Any) -> np.ndarray:
        """The model's predictions with axes of length 1 removed: ``(n_samples,)``."""
        kwargs = self.filter_sk_params(Sequential.predict, kwargs)
        return np.squeeze(self._fitted().predict(x, **kwargs))

    def score(self, x: Any, y: Any, **kwargs: Any) -> float:
        """Minus the model's loss on ``(x, y)``: scikit-learn takes the highest score as
        the best (Keras 1.2.2 returned the loss itself, so a search kept the worst)."""
        kwargs = self.filter_sk_params(Sequential.evaluate, kwargs)
        loss = self._fitted().evaluate(x, self._targets(y), **kwargs)
        return -(loss[0] if isinstance(loss, list) else loss)
