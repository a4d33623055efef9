"""The Analyze tab: layout, wiring and its handlers (each returns ``{component: value}`` updates)."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from emoens.files import write_json
from emoens.ui import analyze as A
from emoens.ui.charts import empty_figure, probabilities_figure, timeline_figure
from emoens.ui.common import Context, bind, download_dir, gpu, message
from emoens.ui.compare import AUDIO_SUFFIXES
from emoens.ui.config import EXAMPLES_DIR


def example_rows() -> list[list[str]]:
    """``[audio path, transcript]`` for each example clip in assets/examples (transcript from a .txt)."""
    if not EXAMPLES_DIR.is_dir():
        return []
    rows = []
    for path in sorted(EXAMPLES_DIR.iterdir()):
        if path.suffix.lower() in AUDIO_SUFFIXES:
            txt = path.with_suffix(".txt")
            rows.append([str(path), txt.read_text(encoding="utf-8").strip() if txt.is_file() else ""])
    return rows


def run_analysis(ctx: Context, audio, text, transcribe):
    """The analysis itself (the function ZeroGPU wraps)."""
    return A.analyze(ctx.recognizer, audio, text, ctx.settings, transcribe=transcribe)


# --------------------------------------------------------------------------- handlers


def api_analyze(ui, audio, text):
    """Analyze one recording (and optional transcript); returns EmotionRecognizer.analyze()'s result."""
    try:
        return ui.run(audio, text, None)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise gr.Error(message(exc), print_exception=False) from None


def _shown(ui, result: dict, speech_weight: float | None = None) -> dict:
    shown = A.remix(result, speech_weight) if speech_weight is not None else result
    return {ui.summary: A.summary_markdown(shown), ui.chart: probabilities_figure(A.chart_sources(shown))}


def on_analyze(ui, audio, text, transcribe) -> dict:
    """Analyze button: run the models, show the result, its chart, transcript, timeline, download."""
    try:
        # None = transcribe when no text is typed (an unavailable ASR becomes a warning).
        result = ui.run(audio, text, None if transcribe and ui.ctx.has_asr else False)
    except Exception as exc:  # noqa: BLE001
        text_ = message(exc)
        gr.Warning(text_)
        return {ui.state: None, ui.status: f"⚠️ {text_}", ui.summary: "", ui.chart: empty_figure("no result"),
                ui.transcript: "", ui.source: "", ui.timeline: gr.update(visible=False),
                ui.weight: gr.update(interactive=False), ui.json: None, ui.download: gr.update(visible=False)}
    transcript, source = A.transcript_info(result)
    timeline = result.get("timeline") or []
    json_path = download_dir() / "emoens_result.json"
    write_json(json_path, result)
    return {
        ui.state: result, ui.status: "", **_shown(ui, result), ui.transcript: transcript, ui.source: source,
        ui.timeline: gr.update(value=timeline_figure(timeline) if len(timeline) > 1 else None,
                               visible=len(timeline) > 1),
        ui.weight: gr.update(value=A.speech_share(result), interactive=bool(result.get("text"))),
        ui.json: result, ui.download: gr.update(value=str(json_path), visible=True),
    }


def on_remix(ui, result, weight) -> dict:
    """Slider: re-mix the stored probabilities (no model runs again)."""
    if not result:
        return {}
    return _shown(ui, result, weight)


# --------------------------------------------------------------------------- layout


def build(ctx: Context) -> SimpleNamespace:
    """The tab's components (inside the current ``gr.Tab``) and their events."""
    ui = SimpleNamespace(ctx=ctx, run=gpu(bind(run_analysis, ctx)))
    with gr.Row():
        with gr.Column(scale=1):
            ui.audio = gr.Audio(sources=["microphone", "upload"], type="filepath",
                                label="음성 · speech (record or upload)", elem_id="audio-in")
            ui.text = gr.Textbox(label="전사 · transcript (optional)", lines=2,
                                 placeholder="말한 내용을 입력하세요 (optional)", elem_id="text-in")
            ui.transcribe = gr.Checkbox(
                value=ctx.has_asr, interactive=ctx.has_asr, label="transcribe automatically (Whisper) "
                "when no transcript is typed" + ("" if ctx.has_asr else " — not available"))
            ui.button = gr.Button("Analyze 분석", variant="primary", elem_id="analyze-btn")
            ui.status = gr.Markdown(elem_id="analyze-status")
            rows = example_rows()
            if rows:
                gr.Examples(rows, inputs=[ui.audio, ui.text], label="예시 · examples (synthetic)")
        with gr.Column(scale=2):
            ui.summary = gr.Markdown(elem_id="summary", elem_classes="emo-summary")
            ui.chart = gr.Plot(label="probabilities", elem_id="prob-chart")
            ui.weight = gr.Slider(0, 1, value=0.5, step=0.05, interactive=False, elem_id="weight",
                                  label="fusion weight of speech (1 = speech only, 0 = text only): "
                                        "re-mixes the ensemble without re-running the models")
            ui.transcript = gr.Textbox(label="transcript used", interactive=False, elem_id="transcript-out")
            ui.source = gr.Markdown(elem_id="transcript-source")
            ui.timeline = gr.Plot(label="timeline", visible=False, elem_id="timeline")
            with gr.Accordion("raw JSON result", open=False):
                ui.json = gr.JSON(label="result")
                ui.download = gr.DownloadButton("Download JSON", visible=False, elem_id="download-json")
    ui.state = gr.State()
    ui.button.click(bind(on_analyze, ui), [ui.audio, ui.text, ui.transcribe],
                    [ui.state, ui.status, ui.summary, ui.chart, ui.transcript, ui.source, ui.timeline,
                     ui.weight, ui.json, ui.download],
                    api_visibility="private", concurrency_id="analyze")
    ui.weight.input(bind(on_remix, ui), [ui.state, ui.weight], [ui.summary, ui.chart],
                    api_visibility="private", concurrency_limit=None, trigger_mode="always_last")
    # The public API: (audio file, transcript) -> analyze()'s result, nothing else.
    api_out = gr.JSON(visible=False)
    api_btn = gr.Button(visible=False)
    api_btn.click(bind(api_analyze, ui), [ui.audio, ui.text], api_out, api_name="analyze",
                  concurrency_id="analyze")
    return ui
