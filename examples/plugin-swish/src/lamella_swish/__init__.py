"""lamella-swish: an example third-party lamella plugin.

Users never import this package: once it is installed, lamella finds it through
its entry point, so ``Activation('swish')``, ``loss='log_cosh'``,
``metrics=['mean_error']`` and ``from lamella.layers import ScaledSwish`` work,
and saved models that use them load back without ``custom_objects``.
"""
