"""pytest plugin: one JSON line per test phase and per failed collection, for the report.

Each failure records the exception type, the first line of its message, the first lamella
function called and the lamella frame that raised, and the deepest frame in Keras's test tree
(with its source line), so that failures can be grouped by cause. The file is named by
``KERAS1_RECORD``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from keras1 import alias

_OUT = Path(os.environ["KERAS1_RECORD"])
_TESTS = Path(os.environ["KERAS1_TESTS"]).resolve()
_LAMELLA_MARK = f"{os.sep}lamella{os.sep}"
_HARNESS = Path(__file__).resolve().parent


def _write(entry: dict[str, Any]) -> None:
    with _OUT.open("a") as out:
        out.write(json.dumps(entry) + "\n")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _describe(excinfo: pytest.ExceptionInfo[BaseException]) -> dict[str, Any]:
    lamella_entry = lamella_frame = test_frame = test_line = None
    for entry in excinfo.traceback:
        path = Path(str(entry.path))
        if _LAMELLA_MARK in str(path):
            lamella_frame = f"{str(path).rsplit(_LAMELLA_MARK, 1)[1]}:{entry.name}"
            lamella_entry = lamella_entry or lamella_frame
        elif path.is_relative_to(_TESTS) or path.is_relative_to(_HARNESS):
            lamella_entry = lamella_frame = None  # lamella frames so far called the test
            test_frame = f"{path.name}:{entry.lineno + 1}"
            test_line = str(entry.statement).strip().splitlines()[0] if entry.statement else ""
    value = excinfo.value
    return {
        "exc_type": type(value).__name__,
        "message": _first_line(str(value)) or repr(value),
        "lamella_entry": lamella_entry,  # the lamella function the test (or helper) called
        "lamella_frame": lamella_frame,  # where the exception was raised
        "test_frame": test_frame,
        "test_line": test_line,
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    entry = {"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome}
    entry["duration"] = round(report.duration, 3)
    if report.skipped and isinstance(report.longrepr, tuple):
        entry["message"] = report.longrepr[2]
    elif report.failed and call.excinfo is not None:
        entry.update(_describe(call.excinfo))
    _write(entry)


def pytest_sessionfinish() -> None:
    _write({"when": "session", "moved_applied": sorted(alias.applied)})


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if not report.failed:
        return
    # A module that fails to import leaves only its formatted text: take the last "E" line.
    lines = [ln[1:].strip() for ln in str(report.longrepr).splitlines() if ln.startswith("E ")]
    exc_type, _, message = (lines[-1] if lines else "").partition(": ")
    _write(
        {
            "nodeid": report.nodeid,
            "when": "collect",
            "outcome": "error",
            "exc_type": exc_type or "CollectionError",
            "message": message or _first_line(str(report.longrepr)),
        }
    )
