"""The Compare tab: layout, wiring and its handler (returns ``{component: value}`` updates)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from emoens.files import write_csv
from emoens.ui import compare as C
from emoens.ui.charts import confusion_figure, empty_figure
from emoens.ui.common import Context, bind, download_dir, message
from emoens.ui.config import UIError


def collect_items(ctx: Context, files, manifest_path) -> list[C.Item]:
    """The utterances of the uploads (manifests and clips) and of a manifest path on the server."""
    items = []
    manifests = [f for f in files or [] if Path(f).suffix.lower() in C.MANIFEST_SUFFIXES]
    audio = [f for f in files or [] if Path(f).suffix.lower() not in C.MANIFEST_SUFFIXES]
    for f in manifests:
        items += C.items_from_manifest(C.read_manifest_frame(f))
    items += C.items_from_files(audio)
    if manifest_path and manifest_path.strip():
        if not ctx.settings.local_paths:
            raise UIError("manifest paths on the server are disabled here (EMOENS_LOCAL_PATHS=0): "
                          "upload the manifest instead")
        items += C.items_from_manifest(C.read_manifest_frame(manifest_path.strip()))
    return items


def on_compare(ui, files, manifest_path, transcribe, progress=gr.Progress()) -> dict:
    """Compare button: every utterance through every model; table, metrics, confusion, CSV."""
    ctx = ui.ctx
    try:
        items = collect_items(ctx, files, manifest_path)
        frame = C.run_compare(ctx.recognizer, items, ctx.settings,
                              transcribe=None if transcribe and ctx.has_asr else False,
                              progress=lambda i, n: progress((i, n), desc="analysing", unit="files"))
    except Exception as exc:  # noqa: BLE001
        text = message(exc)
        gr.Warning(text)
        return {ui.status: f"⚠️ {text}", ui.table: None, ui.metrics: None,
                ui.confusion: empty_figure("no result"), ui.download: gr.update(visible=False)}
    table, matrices = C.metrics(frame)
    csv_path = download_dir() / "emoens_compare.csv"
    write_csv(csv_path, frame)
    ok = int((frame["status"] == "ok").sum())
    agree = int(frame["agree"].sum())
    status = (f"{len(frame)} utterances, {ok} analysed, all models agree on {agree} "
              f"(green rows; amber = disagreement, red = error)")
    if table.empty:
        status += ". No true labels given, so no metrics (use a manifest with a label column)."
    figure = confusion_figure(matrices) if matrices else empty_figure("no true labels: no confusion matrices")
    return {ui.status: status, ui.table: C.styled_table(frame), ui.metrics: table if not table.empty else None,
            ui.confusion: figure, ui.download: gr.update(value=str(csv_path), visible=True)}


def build(ctx: Context) -> SimpleNamespace:
    """The tab's components (inside the current ``gr.Tab``) and their events."""
    ui = SimpleNamespace(ctx=ctx)
    gr.Markdown("Run several clips — or a manifest CSV with `audio_path`, `text`, `label` — "
                "through every model. With true labels: accuracy, macro-F1 and unweighted "
                "accuracy beside the all-neutral baseline.")
    with gr.Row():
        ui.files = gr.File(file_count="multiple", label="audio files and/or a manifest CSV",
                           elem_id="compare-files")
        with gr.Column():
            ui.path = gr.Textbox(label="or a manifest path on this machine", visible=ctx.settings.local_paths,
                                 elem_id="compare-path")
            ui.transcribe = gr.Checkbox(value=False, interactive=ctx.has_asr,
                                        label="transcribe clips without a transcript (slower)")
            ui.button = gr.Button("Compare 비교", variant="primary", elem_id="compare-btn")
    ui.status = gr.Markdown(elem_id="compare-status")
    ui.table = gr.Dataframe(label="per utterance", interactive=False, wrap=True, elem_id="compare-table")
    ui.metrics = gr.Dataframe(label="metrics (rows with a true label)", interactive=False,
                              elem_id="compare-metrics")
    ui.confusion = gr.Plot(label="confusion matrices")
    ui.download = gr.DownloadButton("Download CSV", visible=False)
    ui.button.click(bind(on_compare, ui), [ui.files, ui.path, ui.transcribe],
                    [ui.status, ui.table, ui.metrics, ui.confusion, ui.download],
                    api_visibility="private", concurrency_id="analyze")
    return ui
