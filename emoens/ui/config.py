"""Settings of the web app, read from environment variables (each has a safe default)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from emoens.errors import EmoensError
from emoens.settings import bundle_from_env, default_bundle_dir, examples_dir, stats_dir

DEFAULT_BUNDLE = default_bundle_dir()
EXAMPLES_DIR = examples_dir()
STATS_DIR = stats_dir()


class UIError(EmoensError):
    """Bad input to the web app (no audio, a file too big, an unreadable manifest, …)."""


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UIError(f"environment variable {name}={raw!r} is not a number") from None
    if value <= 0:
        raise UIError(f"environment variable {name}={raw!r} must be positive")
    return value


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Caps and switches of the app (see docs/app.md for the environment variables)."""

    bundle: str | None = None          # EMOENS_BUNDLE: bundle directory or Hub id; None = the embedded one
    max_upload_mb: float = 50.0        # EMOENS_MAX_UPLOAD_MB: largest accepted upload
    max_audio_seconds: float = 600.0   # EMOENS_MAX_AUDIO_SECONDS: longest accepted recording/file
    concurrency: int = 1               # EMOENS_CONCURRENCY: long analyses (and other events) at once
    short_concurrency: int = 3         # EMOENS_SHORT_CONCURRENCY: short clips analysed at once
    queue_size: int = 64               # EMOENS_QUEUE_SIZE: waiting requests before "queue full"
    max_compare: int = 200             # EMOENS_MAX_COMPARE: utterances per Compare run
    local_paths: bool = True           # EMOENS_LOCAL_PATHS: allow manifests given as server paths
    data_root: str | None = None       # EMOENS_DATA_ROOT: the folder server paths must lie in
    per_client: int = 2                # EMOENS_PER_CLIENT: analyses one client may have queued/running
    long_seconds: float = 30.0         # EMOENS_LONG_SECONDS: longer clips (and Compare) use the long lane
    max_work_seconds: float = 1800.0   # EMOENS_MAX_WORK_SECONDS: audio analysed per request (Compare)

    @classmethod
    def from_env(cls) -> "Settings":
        """Read the settings from the environment (``EMOENS_*`` variables)."""
        on_spaces = bool(os.environ.get("SPACE_ID"))
        return cls(
            bundle=bundle_from_env(),
            max_upload_mb=_env_float("EMOENS_MAX_UPLOAD_MB", cls.max_upload_mb),
            max_audio_seconds=_env_float("EMOENS_MAX_AUDIO_SECONDS", cls.max_audio_seconds),
            concurrency=int(_env_float("EMOENS_CONCURRENCY", cls.concurrency)),
            short_concurrency=int(_env_float("EMOENS_SHORT_CONCURRENCY", cls.short_concurrency)),
            queue_size=int(_env_float("EMOENS_QUEUE_SIZE", cls.queue_size)),
            max_compare=int(_env_float("EMOENS_MAX_COMPARE", cls.max_compare)),
            **_server_paths_from_env(on_spaces),
            per_client=int(_env_float("EMOENS_PER_CLIENT", cls.per_client)),
            long_seconds=_env_float("EMOENS_LONG_SECONDS", cls.long_seconds),
            max_work_seconds=_env_float("EMOENS_MAX_WORK_SECONDS", cls.max_work_seconds),
        )


def _server_paths_from_env(on_spaces: bool) -> dict:
    """Server paths: on by default only on loopback and off Spaces; opting in on a network address
    needs ``EMOENS_DATA_ROOT``."""
    from emoens.ui.paths import listens_on_loopback_only

    loopback = listens_on_loopback_only() and not on_spaces
    enabled = _env_flag("EMOENS_LOCAL_PATHS", loopback)
    root = os.environ.get("EMOENS_DATA_ROOT", "").strip() or None
    if enabled and not loopback and root is None:
        raise UIError("EMOENS_LOCAL_PATHS=1 on a network address needs EMOENS_DATA_ROOT: the folder "
                      "that manifests and their audio must lie in")
    return {"local_paths": enabled, "data_root": root}
