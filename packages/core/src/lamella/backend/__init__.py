"""The backend, imported by users as ``from lamella import backend as K``.

Keras 1 code calls these functions on tensors inside custom layers, activations,
losses and metrics.  Here they take and return ``torch.Tensor``s, and accept the
symbolic tensors of ``Input`` and layer calls too (see ``lamella.backend.symbolic``):
``K.sum(model.output)`` records a graph node, ``K.function`` and ``K.gradients``
evaluate such graphs.
"""

from lamella.backend.config import (
    backend,
    cast_to_floatx,
    config_path,
    data_budget,
    device,
    epsilon,
    floatx,
    image_data_format,
    image_dim_ordering,
    reload_config,
    save_config,
    set_data_budget,
    set_device,
    set_epsilon,
    set_floatx,
    set_image_data_format,
    set_image_dim_ordering,
    settings,
    torch_dtype,
)
from lamella.backend.control_flow import *  # noqa: F403
from lamella.backend.control_flow import __all__ as _control_flow_all
from lamella.backend.convolution import *  # noqa: F403
from lamella.backend.convolution import __all__ as _convolution_all
from lamella.backend.ctc import *  # noqa: F403
from lamella.backend.ctc import __all__ as _ctc_all
from lamella.backend.ops import *  # noqa: F403
from lamella.backend.ops import __all__ as _ops_all
from lamella.backend.sparse import *  # noqa: F403
from lamella.backend.sparse import __all__ as _sparse_all
from lamella.backend.state import (
    get_uid,
    learning_phase_scope,
    reset_uids,
    set_learning_phase,
)
from lamella.backend.symbolic import (
    clear_session,
    function,
    gradients,  # noqa: F401  (symbolic-aware; replaces the eager one of ops)
    is_keras_tensor,
    learning_phase,
    placeholder,
    wrap_namespace,
)
from lamella.backend.variables import *  # noqa: F403
from lamella.backend.variables import __all__ as _variables_all
from lamella.backend.weight_ordering import *  # noqa: F403
from lamella.backend.weight_ordering import __all__ as _weight_ordering_all

__all__ = [
    "backend",
    "cast_to_floatx",
    "config_path",
    "data_budget",
    "device",
    "epsilon",
    "floatx",
    "get_uid",
    "image_data_format",
    "image_dim_ordering",
    "learning_phase",
    "learning_phase_scope",
    "reload_config",
    "reset_uids",
    "save_config",
    "set_data_budget",
    "set_device",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "set_image_dim_ordering",
    "set_learning_phase",
    "settings",
    "torch_dtype",
    "Function",  # noqa: F405  (from __getattr__ below)
    "clear_session",
    "function",
    "is_keras_tensor",
    "placeholder",
    *_ops_all,
    *_control_flow_all,
    *_convolution_all,
    *_ctc_all,
    *_sparse_all,
    *_variables_all,
    *_weight_ordering_all,
]

#: Keras 1's private name for ``backend()``, which Keras code and tests compare with names.
_BACKEND = backend()

# Every tensor function, symbolic-aware: one wrapper each, applied once at import.
wrap_namespace(
    globals(),
    [
        *_ops_all,
        *_control_flow_all,
        *_convolution_all,
        *_ctc_all,
        *_sparse_all,
        *_variables_all,
    ],
)


def __getattr__(name: str) -> object:
    """``K.Function``, the class ``K.function`` returns, lives in the engine."""
    if name == "Function":
        from lamella.engine.function import Function

        return Function
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
