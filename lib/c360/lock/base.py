"""Where a warehouse's lock lives: a few small objects in one folder or under one object-store prefix.

The lease protocol (see lease) needs four things of a store, and every engine gives them:
- `create`: write an object only if none of that name exists, atomically: of two writers one wins, and a
  reader sees all of the object or none of it (a local file system's hard link; S3's `If-None-Match: *`);
- `read`, `replace` (an overwrite, atomic for readers), `names` (a listing that sees every object created
  before it began: S3's listings are strongly consistent) and `remove`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class LockStore(ABC):
    """The objects of one warehouse's lock."""

    where: str
    """The folder or URI, for messages."""

    @abstractmethod
    def create(self, name: str, body: bytes) -> bool:
        """Write `name` only if it does not exist (atomically); False when it does."""

    @abstractmethod
    def read(self, name: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    @abstractmethod
    def replace(self, name: str, body: bytes) -> None:
        """Overwrite `name` whole (a reader sees the old bytes or the new, never part)."""

    @abstractmethod
    def names(self) -> list[str]:
        """Every object's name."""

    @abstractmethod
    def remove(self, name: str) -> None:
        """Delete `name` (nothing when it is gone)."""
