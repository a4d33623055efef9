"""Hugging Face Spaces entry point (``app_file``): builds the emoens web app and serves it.

``python app.py`` serves on 127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change it);
EMOENS_BUNDLE selects another bundle. See docs/app.md.
"""

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from emoens.errors import EmoensError  # noqa: E402
from emoens.ui import build_demo, launch_kwargs  # noqa: E402

try:
    demo = build_demo()
except EmoensError as exc:  # e.g. no bundle: say what to do, no traceback
    print(f"emoens app: error: {exc}", file=sys.stderr)
    raise SystemExit(1) from None

if __name__ == "__main__":
    demo.launch(**launch_kwargs())
