"""The app's Blocks: one ``gr.Tab`` per module (``tab_analyze``, ``tab_compare``, ``tab_explore``,
``tab_model``), the queue, and the launch settings."""

from __future__ import annotations

import os
import threading
from typing import Any

import gradio as gr

from emoens.ui import model as M
from emoens.ui import fair, tab_analyze, tab_compare, tab_explore, tab_model
from emoens.ui.common import CSS, I18N, JS, TITLE, Context, theme
from emoens.ui.text_ko import both
from emoens.ui.config import Settings

_recognizer_lock = threading.Lock()
_recognizers: dict[str | None, Any] = {}


def load_recognizer(bundle: str | None = None):
    """The recognizer of ``bundle`` (None = the embedded default), loaded once per process."""
    with _recognizer_lock:
        if bundle not in _recognizers:
            from emoens.recognizer import EmotionRecognizer

            _recognizers[bundle] = EmotionRecognizer.from_bundle(bundle)
        return _recognizers[bundle]


def build_demo(recognizer=None, settings: Settings | None = None) -> gr.Blocks:
    """Build the app around ``recognizer`` (default: the bundle named by EMOENS_BUNDLE, else the
    embedded default). Launch it with ``demo.launch(**launch_kwargs())``."""
    settings = settings or Settings.from_env()
    if recognizer is None:
        recognizer = load_recognizer(settings.bundle)
    directory = M.bundle_dir(recognizer, settings.bundle)
    spec, card = M.read_bundle(directory)
    ctx = Context(recognizer=recognizer, settings=settings, spec=spec, card=card, directory=directory,
                  lanes=fair.Lanes(settings.long_seconds, settings.concurrency,
                                   short_workers=settings.short_concurrency))
    # delete_cache: uploads (and gradio's copies of outputs) older than an hour go, every 10 min.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\n{both('intro')}")
        with gr.Tabs():
            with gr.Tab("분석 Analyze", id="analyze"):
                tab_analyze.build(ctx)
            with gr.Tab("비교 Compare", id="compare"):
                tab_compare.build(ctx)
            with gr.Tab("탐색 Explore", id="explore"):
                tab_explore.build(ctx, demo)
            with gr.Tab("모델 Model", id="model"):
                tab_model.build(ctx)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    fair.install(demo, settings.per_client)  # at most per_client analyses per visitor at a time
    return demo


def launch_kwargs(settings: Settings | None = None) -> dict:
    """Keyword arguments of ``demo.launch()``: host/port from GRADIO_SERVER_NAME/PORT (default
    127.0.0.1:7860), the upload cap, the offline theme."""
    settings = settings or Settings.from_env()
    return {
        "server_name": os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1",
        "server_port": int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
        "max_file_size": int(settings.max_upload_mb * 1024 * 1024),
        "theme": theme(),
        "css": CSS,
        "js": JS,
        # gr.Error messages (ours, one line, no server path) are shown; other exceptions, whose
        # text may name server folders (gradio's own file checks do), are not.
        "show_error": False,
        "i18n": I18N,
    }
