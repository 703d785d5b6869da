"""The ``lamella`` command: ``lamella plugins [--json]``, ``lamella info [--json]``,
``lamella summary FILE`` and ``lamella --version`` (see ``_parser`` for their help)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any


def _plugins_report() -> list[dict[str, Any]]:
    # torch and the engine first: every program pays for them anyway, so the times
    # reported are what each plugin itself adds, not who happened to import torch.
    import lamella.models  # noqa: F401
    from lamella.plugins import plugins

    return [
        {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "module": info.module,
            "status": info.status,
            "errors": info.errors,
            "registered": info.registered,
            "seconds": {part: round(seconds, 4) for part, seconds in info.seconds.items()},
        }
        for info in plugins()
    ]


def _slowness(seconds: dict[str, float]) -> str | None:
    """A line for a plugin whose import and hooks took longer than ``SLOW_SECONDS``."""
    from lamella.plugins.manager import SLOW_SECONDS

    total = sum(seconds.values())
    if total < SLOW_SECONDS:
        return None
    parts = ", ".join(
        f"{part if part == 'import' else 'lamella_register_' + part} {time:.2f} s"
        for part, time in sorted(seconds.items(), key=lambda item: -item[1])
        if time >= 0.01
    )
    return (
        f"slow: {total:.2f} s to load ({parts}); every program using lamella waits this "
        "long at its first lookup"
    )


def _print_plugins(report: list[dict[str, Any]]) -> None:
    for entry in report:
        print(f"{entry['name']}: {entry['distribution']} {entry['version']} [{entry['status']}]")
        slow = _slowness(entry["seconds"])
        if slow is not None:
            print(f"    {slow}")
        for kind, names in sorted(entry["registered"].items()):
            print(f"    {kind} ({len(names)}): {', '.join(sorted(names))}")
        if not entry["registered"] and entry["status"] == "loaded":
            print("    registers nothing")
        for error in entry["errors"]:
            print(f"    error: {error}")


def _info() -> dict[str, Any]:
    import torch

    from lamella import backend

    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.startswith("lamella") or name in ("numpy", "pluggy", "h5py", "PyYAML", "pillow"):
            versions[name] = dist.version
    device = {
        "policy": backend.settings()["device"],
        "selected": str(backend.device()),
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        device["cuda_devices"] = [
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        ]
    path = backend.config_path()
    return {
        "versions": dict(sorted(versions.items())),
        "device": device,
        "config": backend.settings(),
        "config_file": {"path": str(path), "exists": path.is_file()},
    }


def _summary(filepath: str) -> int:
    """Print a saved model's summary; the file's serializer (from its ending) rebuilds it
    through the registry, uncompiled, so nothing in the file runs and no optimizer is needed."""
    from lamella.plugins import MissingPluginError, serializer_for

    try:
        model = serializer_for(filepath).load_model(filepath, compile=False)
    except (MissingPluginError, OSError, ValueError) as exc:
        print(f"lamella summary: {exc}", file=sys.stderr)
        return 1
    model.summary()
    return 0


DESCRIPTION = (
    "lamella's command line: what is installed, how it is set up, and what a saved model holds."
)

EXAMPLES = """\
examples:
  lamella plugins            is my plugin found, and what did it register?
  lamella info --json        versions, device and settings, for a bug report
  lamella summary model.h5   the layers of a model someone sent you
"""


def _versions() -> str:
    """One line per installed lamella distribution, lamella-core first."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("lamella-"):
            found.setdefault(name, dist.version)
    found.setdefault("lamella-core", "(not installed: running from a source tree)")
    names = sorted(found, key=lambda name: (name != "lamella-core", name))
    return "\n".join(f"{name} {found[name]}" for name in names)


class _VersionAction(argparse.Action):
    """``--version``: argparse's own action would re-wrap the lines into one paragraph."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(_versions())
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lamella",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="print every installed lamella package's version"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    listing = commands.add_parser(
        "plugins",
        help="every plugin found (lamella's packages and third-party ones): its version, "
        "status, errors and the names it registered",
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    info = commands.add_parser(
        "info", help="the versions of Python, torch and lamella, the device and the settings"
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    summary = commands.add_parser(
        "summary",
        help="the layer table of a model saved in FILE, read without running anything in it",
        description="Print the summary (layers, output shapes, parameter counts) of a model "
        "saved in FILE. The model is rebuilt from the file through the registry, "
        "uncompiled: nothing stored in the file runs and no optimizer is needed. The "
        "file's ending picks its format's plugin (.h5 needs lamella-io-hdf5).",
    )
    summary.add_argument("file", metavar="FILE", help="a saved model, e.g. model.h5")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare ``lamella``: say what it can do
        parser.print_help()
        return 0
    if args.command == "summary":
        return _summary(args.file)
    if args.command == "plugins":
        report = _plugins_report()
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            _print_plugins(report)
    else:
        details = _info()
        if args.json:
            print(json.dumps(details, indent=2))
        else:
            for section, values in details.items():
                print(f"{section}:")
                for key, value in values.items():
                    print(f"    {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
