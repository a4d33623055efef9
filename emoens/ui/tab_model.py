"""The Model tab: what the loaded bundle is made of and how well it does (static content).

Order: a short overview, the model card (Korean summary first), then the held-out results as a
readable table and the members with their fusion weights.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from emoens.ui import model as M
from emoens.ui.common import Context, t


def build(ctx: Context) -> SimpleNamespace:
    """The tab's components (inside the current ``gr.Tab``); it has no events."""
    spec, card = ctx.spec, ctx.card
    ui = SimpleNamespace(ctx=ctx)
    gr.Markdown(M.overview_markdown(spec, ctx.directory), elem_id="model-overview")
    ui.card = gr.Markdown(M.card_summary(spec, card) if card else "_모델 카드 없음 · this bundle has no MODEL_CARD.md._",
                          elem_id="model-card")
    if card:
        with gr.Accordion(t("card_full"), open=False, elem_id="model-card-full"):
            gr.Markdown(M.card_body(card, spec))
    metrics = M.metrics_table(spec)
    if not metrics.empty:
        gr.Dataframe(metrics, label=t("heldout"), interactive=False, wrap=True, elem_id="model-metrics")
    members = M.members_table(spec)
    if not members.empty:
        gr.Dataframe(members, label=t("members"), interactive=False, elem_id="model-members")
    return ui
