"""The hook module of lamella-preprocessing, named by its `lamella` entry point.

Preprocessing adds no registry kind (no layers, losses, ...): its modules are imported
directly or through the ``lamella.preprocessing`` facades.  The module still exists so
that `lamella plugins` finds, loads and lists the package like every other plugin.
"""

LAMELLA_PLUGIN_API = 1
