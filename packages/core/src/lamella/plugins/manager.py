"""Finding plugins and building the registries, lazily and in isolation.

Nothing here runs at import.  The first registry lookup loads every entry point
of the ``lamella`` group, each in its own try/except, and each kind's registry is
filled when that kind is first asked for.  A plugin that fails is one warning
that names it, never a broken ``import lamella...``: whatever a plugin's import or
hook raises, ``SystemExit`` and ``KeyboardInterrupt`` included, is reported as that
plugin's failure, except a real Ctrl-C (a SIGINT that arrived meanwhile), which is
the user's and propagates.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from types import FrameType, ModuleType
from typing import Any

import pluggy

from lamella.plugins import hookspecs
from lamella.plugins.errors import PluginError
from lamella.plugins.first_party import FIRST_PARTY
from lamella.plugins.registry import Entry, Provider, Registry, make_entry
from lamella.utils.messages import quoted

CORE_PLUGIN = "core"
CORE_MODULE = "lamella.plugins.builtin"
RUNTIME = Provider(plugin="runtime", distribution="(runtime)", version="")
#: A plugin whose import and hooks take longer than this is flagged by `lamella plugins`:
#: every program that uses lamella waits that long at its first registry lookup.
SLOW_SECONDS = 1.0


@dataclass
class PluginInfo:
    """What `lamella plugins` reports about one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    status: str = "loaded"  # loaded | failed | disabled | incompatible
    errors: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    #: Seconds spent importing the hook module ("import") and in each kind's hook.
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def provider(self) -> Provider:
        return Provider(self.name, self.distribution, self.version)


def _env_list(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _strict() -> bool:
    return os.environ.get("LAMELLA_STRICT_PLUGINS", "") not in ("", "0", "false", "False")


class _CtrlC:
    """Whether the user pressed Ctrl-C while plugin code ran.

    It tells a Ctrl-C's ``KeyboardInterrupt`` from one the plugin raised itself, and it
    keeps a Ctrl-C whose ``KeyboardInterrupt`` plugin code swallowed (or turned into
    another error) from being lost: either way the user asked to stop.
    """

    def __init__(self, raises: bool = False) -> None:
        self.seen = False
        #: The program's handler is Python's own, so a Ctrl-C means a KeyboardInterrupt.
        self.raises = raises

    def honour(self, exc: BaseException | None = None) -> None:
        """End the program if a Ctrl-C arrived during the plugin code just run.

        ``exc`` is what that code raised, None if it returned.  Where the program set a
        handler of its own, that handler has had its say: only its KeyboardInterrupt goes on.
        """
        if self.seen:
            self.seen = False
            if isinstance(exc, KeyboardInterrupt):
                raise exc
            if self.raises:
                raise KeyboardInterrupt from exc


@contextlib.contextmanager
def _noticing_ctrl_c() -> Iterator[_CtrlC]:
    """Note each SIGINT that arrives while plugin code runs (see `_CtrlC`).

    Python runs signal handlers, and so raises a Ctrl-C's KeyboardInterrupt, in the
    main thread only: elsewhere no handler is needed, every KeyboardInterrupt there is
    the plugin's.  A handler set by the program (not SIG_IGN or SIG_DFL) is wrapped,
    then put back.
    """
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):  # e.g. a subinterpreter
            previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield _CtrlC()
        return
    handler_of_program: Callable[[int, FrameType | None], Any] = previous
    ctrl_c = _CtrlC(raises=previous is signal.default_int_handler)

    def noticing(signum: int, frame: FrameType | None) -> Any:
        ctrl_c.seen = True
        return handler_of_program(signum, frame)

    try:  # the handler may run as soon as it is set, so the finally must cover that too
        signal.signal(signal.SIGINT, noticing)
        yield ctrl_c
    finally:
        if signal.getsignal(signal.SIGINT) is noticing:  # unless someone changed it since
            try:
                signal.signal(signal.SIGINT, previous)
            except BaseException:
                # signal.signal ran the handler for a pending Ctrl-C first, and so put
                # nothing back: put it back now, then let that Ctrl-C go on.
                signal.signal(signal.SIGINT, previous)
                raise


def _failure(exc: BaseException) -> str:
    """How a plugin's exception is reported; an exit or an interrupt says it was contained."""
    if isinstance(exc, KeyboardInterrupt):
        text = "KeyboardInterrupt raised by the plugin, not by a Ctrl-C"
    elif isinstance(exc, SystemExit):
        text = "SystemExit" if exc.code is None else f"SystemExit: {quoted(exc.code)}"
    else:
        return f"{type(exc).__name__}: {exc}"
    return f"{text} (a plugin may not end the program; lamella went on without it)"


class PluginHost:
    """The pluggy manager, what each plugin did, and the per-kind registries."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.registries: dict[str, Registry] = {}
        self.runtime: dict[str, list[Entry]] = {kind: [] for kind in hookspecs.KINDS}
        self._lock = threading.RLock()
        self._register_core()
        self._load_entry_points()

    # -- loading -------------------------------------------------------------------

    def _fail(self, info: PluginInfo, message: str, status: str = "failed") -> None:
        info.status = status if info.status == "loaded" else info.status
        if message not in info.errors:  # a rebuilt registry calls the hooks again
            info.errors.append(message)
        outcome = {"failed": "failed", "loaded": "has a problem"}.get(status, "was skipped")
        text = (
            f"lamella: plugin {info.name!r} from {info.distribution} {info.version} "
            f"{outcome}: {message}"
        )
        if _strict():
            raise PluginError(text)
        warnings.warn(text, RuntimeWarning, stacklevel=4)

    def _register_core(self) -> None:
        version = _version("lamella-core") or "0+source"
        info = PluginInfo(CORE_PLUGIN, "lamella-core", version, CORE_MODULE)
        self.plugins[CORE_PLUGIN] = info
        self.pm.register(importlib.import_module(CORE_MODULE), name=CORE_PLUGIN)

    def _load_entry_points(self) -> None:
        with _noticing_ctrl_c() as ctrl_c:
            self._load_each_entry_point(ctrl_c)

    def _load_each_entry_point(self, ctrl_c: _CtrlC) -> None:
        allowed = _env_list("LAMELLA_PLUGINS")
        blocked = _env_list("LAMELLA_DISABLE_PLUGINS") or set()
        for ep in sorted(metadata.entry_points(group=hookspecs.PROJECT), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "(unknown)"
            version = ep.dist.version if ep.dist is not None else ""
            if ep.name in self.plugins:
                continue
            info = PluginInfo(ep.name, dist, version, ep.value)
            self.plugins[ep.name] = info
            third_party = dist not in FIRST_PARTY
            if (
                (allowed is not None and not ({ep.name, dist} & allowed))
                or {ep.name, dist} & blocked
                or ("all" in blocked and third_party)
            ):
                info.status = "disabled"
                continue
            start = time.perf_counter()
            try:
                module = ep.load()
            except BaseException as exc:  # a broken plugin must never break lamella
                ctrl_c.honour(exc)
                self._fail(info, f"import failed: {_failure(exc)}")
                continue
            finally:
                info.seconds["import"] = time.perf_counter() - start
            ctrl_c.honour()
            self._register_module(info, module, ctrl_c)

    def _register_module(self, info: PluginInfo, module: ModuleType, ctrl_c: _CtrlC) -> None:
        try:  # a module's __getattr__ is plugin code too
            api = getattr(module, "LAMELLA_PLUGIN_API", hookspecs.PLUGIN_API_VERSION)
            compatible = bool(api == hookspecs.PLUGIN_API_VERSION)
            if compatible:
                self.pm.register(module, name=info.name)
        except BaseException as exc:
            ctrl_c.honour(exc)
            self._fail(info, f"hook validation failed: {_failure(exc)}")
            return
        ctrl_c.honour()
        if not compatible:
            self._fail(
                info,
                f"it declares plugin API {quoted(api)}, but this lamella-core speaks plugin API "
                f"{hookspecs.PLUGIN_API_VERSION}; install a release of {info.distribution} "
                f"built for plugin API {hookspecs.PLUGIN_API_VERSION}",
                status="incompatible",
            )
            return
        for caller in self.pm.get_hookcallers(module) or ():
            if caller.spec is None:
                self._fail(info, f"unknown hook {caller.name!r} (misspelled?)", status="loaded")

    # -- registries ----------------------------------------------------------------

    def registry(self, kind: str) -> Registry:
        registry = self.registries.get(kind)
        if registry is not None:
            return registry
        with self._lock:
            if kind not in self.registries:
                with _noticing_ctrl_c() as ctrl_c:
                    self.registries[kind] = self._build(kind, ctrl_c)
            return self.registries[kind]

    def _build(self, kind: str, ctrl_c: _CtrlC) -> Registry:
        registry = Registry(kind)
        hook = getattr(self.pm.hook, f"lamella_register_{kind}")
        impls = sorted(hook.get_hookimpls(), key=lambda impl: self._rank(impl.plugin_name))
        for info in self.plugins.values():  # a rebuild (after unregister) starts afresh
            info.registered.pop(kind, None)
        for impl in impls:
            info = self.plugins[impl.plugin_name]
            added: list[str] = []

            def register(
                obj: Any,
                name: str | None = None,
                aliases: tuple[str, ...] | list[str] = (),
                override: bool = False,
                _info: PluginInfo = info,
                _added: list[str] = added,
            ) -> None:
                entry = make_entry(obj, name, aliases, _info.provider, override)
                if registry.add(entry):
                    _added.append(entry.name)

            saved = dict(registry.entries), dict(registry.lookup)
            start = time.perf_counter()
            try:
                impl.function(register=register)
            except BaseException as exc:  # SystemExit too: see the module's docstring
                ctrl_c.honour(exc)
                # Roll back to the state before this hook, overridden entries included.
                registry.entries, registry.lookup = saved
                registry.failures[info.distribution] = _failure(exc)
                self._fail(info, f"lamella_register_{kind} raised {_failure(exc)}")
                continue
            finally:
                info.seconds[kind] = time.perf_counter() - start
            ctrl_c.honour()
            if added:
                info.registered.setdefault(kind, []).extend(added)
        for info in self.plugins.values():
            if info.status != "loaded" and info.errors:
                registry.failures.setdefault(info.distribution, info.errors[0])
        for entry in self.runtime[kind]:
            registry.add(entry)
        return registry

    def _rank(self, plugin: str) -> tuple[int, str]:
        """Core first, then first-party plugins, then third-party ones, by name."""
        if plugin == CORE_PLUGIN:
            return (0, plugin)
        return (1 if self.plugins[plugin].distribution in FIRST_PARTY else 2, plugin)

    def add_runtime(self, kind: str, entry: Entry) -> None:
        self.runtime[kind].append(entry)
        if kind in self.registries:
            self.registries[kind].add(entry)

    def remove_runtime(self, kind: str, name: str) -> None:
        self.runtime[kind] = [e for e in self.runtime[kind] if e.name != name]
        if kind in self.registries:
            self.registries[kind].remove(name)
            # Bring back a plugin entry that the runtime one had shadowed.
            del self.registries[kind]


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


_host: PluginHost | None = None
_host_lock = threading.Lock()


def host() -> PluginHost:
    """The process-wide plugin host, built at the first call."""
    global _host
    if _host is None:
        with _host_lock:
            if _host is None:
                _host = PluginHost()
    return _host


def reset() -> None:
    """Forget every plugin so the next lookup loads them again (tests, env changes)."""
    global _host
    with _host_lock:
        _host = None
