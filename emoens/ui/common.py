"""Pieces every tab of the app shares: the app context, handler binding, messages, theme, CSS, JS."""

from __future__ import annotations

import functools
import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from emoens.errors import EmoensError
from emoens.ui.charts import FONT_FAMILY
from emoens.ui.config import Settings
from emoens.ui.text_ko import make_i18n

log = logging.getLogger(__name__)
I18N = make_i18n()

TITLE = "emoens · 한국어 음성 감정 인식"
CSS = """
.emo-summary h2 { margin: 0.2em 0; }
#reason { font-weight: 600; }
footer { display: none !important; }
/* plotly's toolbar floats over the chart title: show it only while the pointer is on the chart */
.js-plotly-plot .modebar-container { opacity: 0; transition: opacity 0.2s; }
.js-plotly-plot:hover .modebar-container { opacity: 1; }
/* tables scroll sideways instead of squeezing columns into vertical letters */
.table-wrap, .table-container { overflow-x: auto !important; }
.table-wrap th, .table-wrap td { min-width: 5.5em; word-break: keep-all; overflow-wrap: normal; }
@media (max-width: 640px) {
  .js-plotly-plot .modebar-container { display: none !important; }
  h1 { font-size: 1.4em !important; }
}
"""
# Clicking a bar of the Explore class distribution: plotly's click event names the class in a
# hidden textbox and presses a hidden button (gr.Plot has no select event of its own).
JS = """
() => {
  document.documentElement.lang = 'ko';
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
    """What every tab's handlers need: the recognizer, the settings, whether ASR is available,
    the loaded bundle's ``bundle.json`` (``spec``), model card and folder."""

    recognizer: Any
    settings: Settings
    lanes: Any = None  # emoens.ui.fair.Lanes: the short and long lanes analyses run in
    spec: dict = field(default_factory=dict)
    card: str = ""
    directory: Path | None = None

    @property
    def has_asr(self) -> bool:
        return str(getattr(self.recognizer, "asr_backend", "none") or "none") != "none"


def t(key: str):
    """A static label in Korean and English through gradio's i18n (see :mod:`emoens.ui.text_ko`)."""
    from emoens.ui.text_ko import WORDS

    if key not in WORDS:
        raise KeyError(f"no words for {key!r} in emoens.ui.text_ko.WORDS")
    return I18N(key)


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
    """A one-line message for the visitor, Korean first: the library's own for an EmoensError
    (developer advice removed), else a neutral one (the details go to the server log)."""
    from emoens.ui.text_ko import korean_error

    if isinstance(exc, EmoensError):
        return korean_error(" ".join(str(exc).split()))
    log.exception("unexpected error in the app")
    return korean_error(f"unexpected error ({type(exc).__name__}); the details are in the server log")


def download_dir() -> Path:
    """A fresh folder for one download file (folders older than an hour are swept)."""
    from emoens.ui.fair import result_dir

    return result_dir()


def theme() -> gr.themes.Base:
    """A theme with system fonts only (no web fonts, so the page works offline)."""
    mono = ("ui-monospace", "DejaVu Sans Mono", "monospace")
    return gr.themes.Soft(font=[f.strip(" '") for f in FONT_FAMILY.split(",")] + ["system-ui"],
                          font_mono=list(mono))
