"""The web app (gradio): ``build_demo()`` makes the Blocks, ``launch_kwargs()`` the launch settings.

Importing this package is light: gradio and the models load only when :func:`build_demo` runs.
"""

from __future__ import annotations

from emoens.ui.config import Settings, UIError

__all__ = ["Settings", "UIError", "build_demo", "launch_kwargs", "load_recognizer"]


def __getattr__(name):
    if name in {"build_demo", "launch_kwargs", "load_recognizer"}:
        from emoens.ui import blocks

        return getattr(blocks, name)
    raise AttributeError(f"module 'emoens.ui' has no attribute {name!r}")
