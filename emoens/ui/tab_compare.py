"""The Compare tab: layout, wiring and its handler (returns ``{component: value}`` updates)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from emoens.ui import compare as C
from emoens.ui.charts import confusion_figure, empty_figure
from emoens.ui.common import Context, bind, download_dir, message, t
from emoens.ui.config import UIError
from emoens.ui.paths import ServerPaths
from emoens.ui.text_ko import both


def collect_items(ctx: Context, files, manifest_path) -> list[C.Item]:
    """The utterances of the uploads (manifests and clips) and of a manifest path on the server."""
    items = []
    manifests = [f for f in files or [] if Path(f).suffix.lower() in C.MANIFEST_SUFFIXES]
    audio = [f for f in files or [] if Path(f).suffix.lower() not in C.MANIFEST_SUFFIXES]
    paths = ServerPaths.of(ctx.settings)
    for f in manifests:
        items += _allowed(paths, C.items_from_manifest(C.read_manifest_frame(f)))
    items += C.items_from_files(audio)
    if manifest_path and manifest_path.strip():
        real = paths.file(manifest_path)  # NOT_ALLOWED, whether or not it exists
        items += _allowed(paths, C.items_from_manifest(C.read_manifest_frame(real)))
    return items


def _allowed(paths: ServerPaths, items: list[C.Item]) -> list[C.Item]:
    """A manifest's rows name server files: each is analysed only when it is an allowed file,
    else its row says NOT_ALLOWED (the same message for a missing and a forbidden file)."""
    out = []
    for item in items:
        try:
            out.append(dataclasses.replace(item, audio=str(paths.file(item.audio))))
        except UIError as exc:
            out.append(dataclasses.replace(item, error=str(exc)))
    return out


def _csv_name(files, manifest_path) -> str:
    """``NAME_emoens_compare.csv`` after the manifest (or the only file) given."""
    named = [Path(str(f)) for f in files or []]
    manifests = [p for p in named if p.suffix.lower() in C.MANIFEST_SUFFIXES]
    if manifest_path and str(manifest_path).strip():
        manifests.append(Path(str(manifest_path).strip()))
    source = manifests[0] if manifests else named[0] if len(named) == 1 else None
    stem = "".join(c for c in source.stem if c.isalnum() or c in "-_")[:60] if source else ""
    return f"{stem or 'emoens'}_compare.csv" if stem else "emoens_compare.csv"


def on_compare(ui, files, manifest_path, transcribe, progress=gr.Progress(),
               request: gr.Request = None) -> dict:
    """Compare button: every utterance through every model; table, metrics, confusion, CSV.

    A Compare run is long work: it runs in the long lane and stops between utterances when its
    page was closed."""
    from emoens.ui.fair import CANCELLED, client_alive

    ctx = ui.ctx
    session = getattr(request, "session_hash", None)

    def step(i, n):
        if not client_alive(session):
            raise UIError(CANCELLED)
        progress((i, n), desc="분석 중 · analysing", unit="files")

    try:
        items = collect_items(ctx, files, manifest_path)
        with ctx.lanes.slot(float("inf"), lambda: client_alive(session)) if ctx.lanes else _nothing():
            frame = C.run_compare(ctx.recognizer, items, ctx.settings,
                                  transcribe=None if transcribe and ctx.has_asr else False, progress=step)
    except Exception as exc:  # noqa: BLE001
        text = message(exc)
        gr.Warning(text)
        return {ui.status: f"⚠️ {text}", ui.table: None, ui.metrics: None,
                ui.confusion: empty_figure("결과 없음 · no result"), ui.download: gr.update(visible=False)}
    table, matrices = C.metrics(frame)
    csv_path = download_dir() / _csv_name(files, manifest_path)
    C.write_csv_bom(csv_path, frame)
    ok = int((frame["status"] == "ok").sum())
    agree = int(frame["agree"].sum())
    status = (f"발화 {len(frame)}개 중 {ok}개 분석, {agree}개에서 모든 모델의 답이 같음 (초록 행; 같다고 맞은 것은 아님) · "
              f"{len(frame)} utterances, {ok} analysed, all models agree on {agree} (green rows; agreement is not correctness)")
    if table.empty:
        status += ("\n\n정답 라벨이 없어 지표가 없습니다 (label 열이 있는 매니페스트를 쓰세요) · "
                   "no true labels given, so no metrics (use a manifest with a label column)")
    figure = (confusion_figure(matrices) if matrices
              else empty_figure("정답 라벨 없음 · no true labels: no confusion matrices"))
    return {ui.status: status, ui.table: C.styled_table(frame), ui.metrics: table if not table.empty else None,
            ui.confusion: figure, ui.download: gr.update(value=str(csv_path), visible=True)}


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def build(ctx: Context) -> SimpleNamespace:
    """The tab's components (inside the current ``gr.Tab``) and their events."""
    ui = SimpleNamespace(ctx=ctx)
    gr.Markdown(both("compare_intro"))
    with gr.Row():
        ui.files = gr.File(file_count="multiple", label=t("compare_files"), elem_id="compare-files")
        with gr.Column():
            ui.path = gr.Textbox(label=t("compare_path"), visible=ctx.settings.local_paths, elem_id="compare-path")
            ui.transcribe = gr.Checkbox(value=False, interactive=ctx.has_asr, label=t("compare_transcribe"))
            ui.button = gr.Button(t("compare_btn"), variant="primary", elem_id="compare-btn")
    ui.status = gr.Markdown(elem_id="compare-status")
    ui.table = gr.Dataframe(label=t("per_utt"), interactive=False, wrap=True, elem_id="compare-table")
    ui.metrics = gr.Dataframe(label=t("metrics"), interactive=False, elem_id="compare-metrics")
    ui.confusion = gr.Plot(label=t("confusion"))
    ui.download = gr.DownloadButton(t("download_csv"), visible=False, elem_id="compare-download")
    ui.button.click(bind(on_compare, ui), [ui.files, ui.path, ui.transcribe],
                    [ui.status, ui.table, ui.metrics, ui.confusion, ui.download],
                    api_visibility="private", concurrency_id="analyze", concurrency_limit=None)
    return ui
