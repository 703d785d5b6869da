"""Values quoted in error messages, bounded in size.

An error that quotes what a file or a config held must not expand it whole: a YAML
alias bomb of 600 bytes reads back as 10^9 list items, and ``repr`` of that runs
out of memory before the error is raised.  Every message that quotes a value from
a file, a config or a plugin goes through :func:`quoted`.
"""

from __future__ import annotations

import reprlib
from typing import Any

#: The longest quote, in characters; containers are also cut to 2 levels of 5 items.
LIMIT = 200

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxstring = 80
_REPR.maxother = 80
_REPR.maxlong = 40
for _attribute in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxarray"):
    setattr(_REPR, _attribute, 5)


def quoted(value: Any) -> str:
    """``repr(value)``, cut to :data:`LIMIT` characters without building the whole of it."""
    text = _REPR.repr(value)
    return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."
