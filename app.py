"""Hugging Face Spaces entry point (``app_file``): builds the emoens web app and serves it.

``python app.py`` serves on 127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change it);
EMOENS_BUNDLE selects another bundle. See docs/app.md.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from emoens.ui import build_demo, launch_kwargs  # noqa: E402

demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_kwargs())
