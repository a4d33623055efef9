"""The Model tab: what the loaded bundle is made of and how well it does (static content)."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from emoens.ui import model as M
from emoens.ui.common import Context


def build(ctx: Context) -> SimpleNamespace:
    """The tab's components (inside the current ``gr.Tab``); it has no events."""
    directory = M.bundle_dir(ctx.recognizer, ctx.settings.bundle)
    spec, card = M.read_bundle(directory)
    ui = SimpleNamespace(ctx=ctx, spec=spec, card=card)
    gr.Markdown(M.overview_markdown(spec, directory))
    members = M.members_table(spec)
    if not members.empty:
        gr.Dataframe(members, label="members and fusion weights", interactive=False)
    metrics_df = M.metrics_table(spec)
    if not metrics_df.empty:
        gr.Dataframe(metrics_df, label="recorded metrics (bundle.json)", interactive=False)
    ui.card = gr.Markdown(card or "_This bundle has no MODEL_CARD.md._", elem_id="model-card")
    return ui
