"""The lock's objects as files in a folder of a local (or shared, POSIX) file system."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from c360.lock.base import LockStore


class LocalLockStore(LockStore):
    """Files in `folder`: created by hard-linking a fully written temporary file to the name (link refuses
    an existing name, so creation is atomic and readers never see half a file), replaced by rename."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = str(folder)

    def _written(self, body: bytes) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        return temporary

    def create(self, name: str, body: bytes) -> bool:
        temporary = self._written(body)
        try:
            os.link(temporary, self.folder / name)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)

    def read(self, name: str) -> bytes | None:
        try:
            return (self.folder / name).read_bytes()
        except FileNotFoundError:
            return None

    def replace(self, name: str, body: bytes) -> None:
        os.replace(self._written(body), self.folder / name)

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if not p.name.startswith("."))

    def remove(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)
