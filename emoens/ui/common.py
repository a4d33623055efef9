"""Pieces every tab of the app shares: the app context, handler binding, messages, theme, CSS, JS."""

from __future__ import annotations

import functools
import inspect
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from emoens.errors import EmoensError
from emoens.ui.charts import FONT_FAMILY
from emoens.ui.config import Settings

log = logging.getLogger(__name__)

TITLE = "emoens · 한국어 음성 감정 인식"
CSS = """
.emo-summary h2 { margin: 0.2em 0; }
footer { display: none !important; }
"""
# Clicking a bar of the Explore class distribution: plotly's click event names the class in a
# hidden textbox and presses a hidden button (gr.Plot has no select event of its own).
JS = """
() => {
  const bind = () => {
    const gd = document.querySelector('#distribution .js-plotly-plot');
    if (!gd || gd.__emoensBound || typeof gd.on !== 'function') return;
    gd.__emoensBound = true;
    gd.on('plotly_click', (event) => {
      const point = event && event.points && event.points[0];
      const box = document.querySelector('#bar-click textarea, #bar-click input');
      const button = document.querySelector('#bar-click-btn');
      if (!point || !box || !button) return;
      box.value = String(point.x).split('<br>').pop();
      box.dispatchEvent(new Event('input', {bubbles: true}));
      setTimeout(() => button.click(), 100);
    });
  };
  setInterval(bind, 500);
}
"""


@dataclass
class Context:
    """What every tab's handlers need: the recognizer, the settings, whether ASR is available."""

    recognizer: Any
    settings: Settings

    @property
    def has_asr(self) -> bool:
        return str(getattr(self.recognizer, "asr_backend", "none") or "none") != "none"


def bind(fn: Callable, first: Any) -> Callable:
    """``fn`` with its first argument (the tab) fixed, as a plain function gradio can inspect.

    Unlike ``functools.partial`` the result keeps ``fn``'s name, annotations (``gr.SelectData``),
    defaults (``gr.Progress()``) and generator-ness, which gradio reads to call it.
    """
    if inspect.isgeneratorfunction(fn):
        def bound(*args, **kwargs):
            yield from fn(first, *args, **kwargs)
    else:
        def bound(*args, **kwargs):
            return fn(first, *args, **kwargs)
    functools.update_wrapper(bound, fn)
    signature = inspect.signature(fn)
    bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return bound


def gpu(fn):
    """Apply ZeroGPU's ``spaces.GPU`` when the ``spaces`` package is installed (Spaces only)."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return spaces.GPU(fn)


def message(exc: BaseException) -> str:
    """A one-line message for the visitor: the library's own for an EmoensError, else a neutral one."""
    if isinstance(exc, EmoensError):
        return str(exc)
    log.exception("unexpected error in the app")
    return f"unexpected error ({type(exc).__name__}); the details are in the server log"


def download_dir() -> Path:
    """A fresh folder for one download file."""
    return Path(tempfile.mkdtemp(prefix="emoens-"))


def theme() -> gr.themes.Base:
    """A theme with system fonts only (no web fonts, so the page works offline)."""
    mono = ("ui-monospace", "DejaVu Sans Mono", "monospace")
    return gr.themes.Soft(font=[f.strip(" '") for f in FONT_FAMILY.split(",")] + ["system-ui"],
                          font_mono=list(mono))
