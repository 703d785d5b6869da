"""The backend, imported by users as ``from lamella import backend as K``.

Keras 1 code calls these functions on tensors inside custom layers, activations,
losses and metrics.  Here they take and return ``torch.Tensor``s.
"""

from lamella.backend.config import (
    backend,
    cast_to_floatx,
    config_path,
    device,
    epsilon,
    floatx,
    image_dim_ordering,
    reload_config,
    save_config,
    set_device,
    set_epsilon,
    set_floatx,
    set_image_dim_ordering,
    settings,
    torch_dtype,
)
from lamella.backend.ops import *  # noqa: F403
from lamella.backend.ops import __all__ as _ops_all
from lamella.backend.state import (
    get_uid,
    learning_phase,
    learning_phase_scope,
    reset_uids,
    set_learning_phase,
)

__all__ = [
    "backend",
    "cast_to_floatx",
    "config_path",
    "device",
    "epsilon",
    "floatx",
    "get_uid",
    "image_dim_ordering",
    "learning_phase",
    "learning_phase_scope",
    "reload_config",
    "reset_uids",
    "save_config",
    "set_device",
    "set_epsilon",
    "set_floatx",
    "set_image_dim_ordering",
    "set_learning_phase",
    "settings",
    "torch_dtype",
    *_ops_all,
]
