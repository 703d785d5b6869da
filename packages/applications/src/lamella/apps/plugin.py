"""The hook module of lamella-applications, named by its `lamella` entry point.

The applications are functions that build models from the layers of other packages;
they add no registry kind (no layers, losses, ...).  The module still exists so that
`lamella plugins` finds, loads and lists the package like every other plugin.
"""

LAMELLA_PLUGIN_API = 1
