"""Lets this folder's test modules ``import recurrent_helpers``, their shared scaffolding.

Under ``--import-mode=importlib`` pytest leaves ``sys.path`` alone, so a test module
cannot import a module beside it unless the folder is put there.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).parent))
