"""Which server files a visitor's input may name: none, unless local paths are on, and then only
under the allowed root. One message for "not allowed", whether or not the file exists.

Local paths are on by default only when the server listens on loopback (127.0.0.1, localhost,
::1) and is not a Space; ``EMOENS_LOCAL_PATHS=1`` opts in elsewhere, and then needs
``EMOENS_DATA_ROOT`` (the folder manifests and their audio must lie in).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from emoens.ui.config import Settings, UIError

NOT_ALLOWED = "that file is not available on this server: upload it instead"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def listens_on_loopback_only(server_name: str | None = None) -> bool:
    """Whether the app serves this machine only (``GRADIO_SERVER_NAME`` unset or loopback)."""
    name = (server_name if server_name is not None else os.environ.get("GRADIO_SERVER_NAME", "")).strip()
    return name in LOOPBACK or name == ""


@dataclass(frozen=True)
class ServerPaths:
    """The server files a visitor may name: none when ``enabled`` is false, else those under ``root``."""

    enabled: bool
    root: Path | None

    @classmethod
    def of(cls, settings: Settings) -> "ServerPaths":
        root = Path(settings.data_root).expanduser().resolve() if settings.data_root else None
        return cls(enabled=bool(settings.local_paths), root=root)

    def resolve(self, raw) -> Path:
        """The real path of ``raw``; :class:`UIError` ``NOT_ALLOWED`` when it may not be read."""
        text = str(raw or "").strip()
        if not self.enabled or not text or "\0" in text:
            raise UIError(NOT_ALLOWED)
        try:
            real = Path(text).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):
            raise UIError(NOT_ALLOWED) from None
        if self.root is not None and real != self.root and self.root not in real.parents:
            raise UIError(NOT_ALLOWED)
        return real

    def file(self, raw) -> Path:
        """An allowed, existing regular file (else ``NOT_ALLOWED``, the same for both cases when
        server paths are off)."""
        path = self.resolve(raw)
        if not path.is_file():
            raise UIError(NOT_ALLOWED)
        return path

    def exists(self, raw) -> bool:
        """Whether ``raw`` is an allowed, existing file (False for every file when paths are off)."""
        try:
            self.file(raw)
        except UIError:
            return False
        return True
