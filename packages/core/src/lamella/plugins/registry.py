"""One registry per kind: names and aliases mapped to what plugins registered."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from lamella.plugins.errors import MissingPluginError, UnknownNameError, singular
from lamella.plugins.first_party import FIRST_PARTY, provider_of
from lamella.plugins.serializer import Serializer


@dataclass(frozen=True)
class Provider:
    """Who registered an entry: the plugin (entry point) and its distribution."""

    plugin: str
    distribution: str
    version: str

    @property
    def first_party(self) -> bool:
        return self.distribution in FIRST_PARTY


@dataclass(frozen=True)
class Entry:
    name: str
    obj: Any
    aliases: tuple[str, ...]
    provider: Provider
    override: bool = False


def make_entry(
    obj: Any, name: str | None, aliases: Any, provider: Provider, override: bool
) -> Entry:
    """An entry for ``obj``; a Serializer is also found by each of its file endings."""
    aliases = tuple(aliases)
    if isinstance(obj, Serializer):
        aliases += tuple(e.lower() for e in obj.extensions if e.lower() not in aliases)
    return Entry(name or obj.__name__, obj, aliases, provider, override)


@dataclass
class Registry:
    """Names of one kind.  Lookups are exact first, then case-insensitive."""

    kind: str
    entries: dict[str, Entry] = field(default_factory=dict)  # canonical name -> entry
    lookup: dict[str, str] = field(default_factory=dict)  # name or alias -> canonical
    failures: dict[str, str] = field(default_factory=dict)  # distribution -> error text

    def add(self, entry: Entry) -> bool:
        """Add an entry, applying the conflict rules of docs/architecture.md §2; True if kept."""
        for key in (entry.name, *entry.aliases):
            holder = self.lookup.get(key)
            if holder is None or holder == entry.name:
                continue
            existing = self.entries[holder]
            if entry.override:
                continue
            if existing.provider.first_party or not entry.provider.first_party:
                self._warn_clash(key, entry, existing)
                return False
        if entry.name in self.entries and not entry.override:
            existing = self.entries[entry.name]
            if existing.provider != entry.provider:
                self._warn_clash(entry.name, entry, existing)
                return False
        self.entries[entry.name] = entry
        for key in (entry.name, *entry.aliases):
            self.lookup[key] = entry.name
        return True

    def _warn_clash(self, key: str, entry: Entry, existing: Entry) -> None:
        new, old = entry.provider, existing.provider
        warnings.warn(
            f"lamella: {singular(self.kind)} name {key!r} registered by {new.distribution} "
            f"{new.version} ({new.plugin}) is already registered by {old.distribution} "
            f"{old.version}; keeping the latter. Pass override=True to replace it.",
            stacklevel=3,
        )

    def remove(self, name: str) -> None:
        canonical = self.lookup.get(name, name)
        entry = self.entries.pop(canonical, None)
        if entry is None:
            return
        for key in (entry.name, *entry.aliases):
            if self.lookup.get(key) == canonical:
                del self.lookup[key]

    def find(self, name: str) -> Entry | None:
        canonical = self.lookup.get(name)
        if canonical is None:
            folded = {k.lower(): v for k, v in self.lookup.items()}
            canonical = folded.get(name.lower())
        return self.entries.get(canonical) if canonical else None

    def get(self, name: str) -> Any:
        """The object registered under ``name``, or an error saying how to get it."""
        entry = self.find(name)
        if entry is not None:
            return entry.obj
        dist = provider_of(name, self.kind)
        if dist is not None:
            raise MissingPluginError(name, dist, self.failures.get(dist))
        raise UnknownNameError(self.kind, name, self.lookup)

    def name_of(self, obj: Any) -> str | None:
        """The canonical name under which ``obj`` is registered."""
        for entry in self.entries.values():
            if entry.obj is obj:
                return entry.name
        return None

    def names(self) -> list[str]:
        return sorted(self.lookup)

    def __contains__(self, name: str) -> bool:
        return self.find(name) is not None
