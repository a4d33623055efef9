"""The Analyze tab: layout, wiring and its handlers (each returns ``{component: value}`` updates).

What is shown comes from one place, :func:`render`: the result (re-mixed by the slider, re-scored
with an edited transcript) drives the headline, the charts, the JSON view and the download alike.
The state (server side) keeps the original result, the input's name and path, so that re-mixing
and re-scoring never run the speech model again.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from emoens.files import write_json
from emoens.labels import LABELS_KO
from emoens.ui import analyze as A
from emoens.ui import model as M
from emoens.ui.charts import empty_figure, probabilities_figure, timeline_figure, valence_arousal_figure
from emoens.ui.common import Context, bind, download_dir, gpu, message, t
from emoens.ui.compare import AUDIO_SUFFIXES
from emoens.ui.config import EXAMPLES_DIR, UIError
from emoens.ui.text_ko import both


def example_rows() -> list[list[str]]:
    """``[audio path, transcript]`` for each example clip (transcript from its ``.txt``)."""
    if not EXAMPLES_DIR.is_dir():
        return []
    rows = []
    for path in sorted(EXAMPLES_DIR.iterdir()):
        if path.suffix.lower() in AUDIO_SUFFIXES:
            txt = path.with_suffix(".txt")
            rows.append([str(path), txt.read_text(encoding="utf-8").strip() if txt.is_file() else ""])
    return rows


def _gate(ctx: Context, request):
    """The lane (short or long clip) a request's work runs in; a request whose page was closed
    is dropped while it waits."""
    from emoens.ui.fair import client_alive

    session = getattr(request, "session_hash", None)
    return None if ctx.lanes is None else (
        lambda seconds: ctx.lanes.slot(seconds, lambda: client_alive(session)))


def run_analysis(ctx: Context, audio, text, transcribe, request=None):
    """The analysis itself (the function ZeroGPU wraps), in its lane: the API's one result."""
    return A.analyze(ctx.recognizer, audio, text, ctx.settings, transcribe=transcribe, gate=_gate(ctx, request))


def run_stream(ctx: Context, audio, text, transcribe, request=None):
    """The page's analysis (the generator ZeroGPU wraps), in its lane: progress events, then the
    result (:func:`emoens.ui.analyze.analyze_stream`)."""
    yield from A.analyze_stream(ctx.recognizer, audio, text, ctx.settings, transcribe=transcribe,
                                gate=_gate(ctx, request))


def segments_table(result: dict) -> pd.DataFrame:
    """One row per timeline window: start, end, label (Korean and English), its probability."""
    rows = []
    for w in result.get("timeline") or []:
        probs = w.get("ensemble") or w.get("speech") or {}
        label, p = A.top(probs)
        rows.append({"시작 start (s)": round(float(w["start"]), 1), "끝 end (s)": round(float(w["end"]), 1),
                     "감정 emotion": f"{LABELS_KO.get(label, label)} {label}" if label else "",
                     "확률 prob.": f"{p:.0%}"})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- handlers


def api_analyze(ui, audio, text, request: gr.Request = None):
    """Analyze one recording (and optional transcript); returns EmotionRecognizer.analyze()'s result."""
    try:
        return ui.run(audio, text, None, request)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise gr.Error(message(exc), print_exception=False) from None


def render(ui, state: dict, weight: float | None = None) -> dict:
    """Every view of the result in ``state`` as shown with the slider at ``weight``."""
    shown = A.shown_result(state["result"], weight)
    timeline = shown.get("timeline") or []
    va = valence_arousal_figure(shown)
    path = download_dir() / A.download_name(state.get("name"))
    write_json(path, shown)
    return {
        ui.summary: A.summary_markdown(shown), ui.chart: probabilities_figure(A.chart_sources(shown)),
        ui.va: gr.update(value=va, visible=va is not None),
        ui.timeline: gr.update(value=timeline_figure(timeline) if len(timeline) > 1 else None,
                               visible=len(timeline) > 1),
        ui.segments: gr.update(value=segments_table(shown) if len(timeline) > 1 else None,
                               visible=len(timeline) > 1),
        ui.json: shown, ui.download: gr.update(value=str(path), visible=True),
    }


def _failed(ui, exc: BaseException) -> dict:
    text = message(exc)
    gr.Warning(text)
    return {ui.state: None, ui.status: f"⚠️ {text}", ui.summary: "", ui.chart: empty_figure("결과 없음 · no result"),
            ui.transcript: "", ui.source: "", ui.va: gr.update(visible=False),
            ui.timeline: gr.update(visible=False), ui.segments: gr.update(visible=False),
            ui.weight: gr.update(interactive=False), ui.json: None, ui.download: gr.update(visible=False),
            ui.rerun: gr.update(interactive=False)}


def _progress(ui, event: dict) -> dict:
    """A progress event on the page: the stage, and the timeline (and table) so far, its time
    axis the whole recording, so it fills in window by window."""
    update = {ui.status: A.stage_line(event) + " · 취소 버튼으로 멈출 수 있습니다 · Cancel stops it"}
    partial = event.get("timeline") or []
    if len(partial) > 0:
        update[ui.timeline] = gr.update(value=timeline_figure(partial, event.get("total")), visible=True)
        update[ui.segments] = gr.update(value=segments_table({"timeline": partial}), visible=True)
    return update


def on_analyze(ui, audio, text, transcribe, request: gr.Request = None):
    """Analyze button (a generator): the stage and progress, the timeline as windows finish,
    then the result. Cancel closes it, which stops the work before the next batch of windows."""
    yield {ui.status: "⏳ 음성 읽는 중 · reading the audio…", ui.state: None,
           ui.segment_audio: gr.update(value=None, visible=False)}
    # None = transcribe when no text is typed (an unavailable ASR becomes a warning).
    stream = ui.stream(audio, text, None if transcribe and ui.ctx.has_asr else False, request)
    result = None
    try:
        yield {ui.status: A.stage_line({"total": A.audio_seconds(audio)})}
        for event in stream:
            if event.get("stage") == "done":
                result = event["result"]
                break
            yield _progress(ui, event)
    except Exception as exc:  # noqa: BLE001
        yield _failed(ui, exc)
        return
    finally:
        stream.close()  # a cancelled request: the lane is given back, no further window runs
    if result is None:
        yield _failed(ui, UIError("분석이 끝나지 않았습니다 · the analysis stopped before a result"))
        return
    state = {"result": result, "name": A.input_name(audio), "audio": A.input_path(audio)}
    transcript, source = A.transcript_info(result)
    yield {ui.state: state, ui.status: "", **render(ui, state), ui.transcript: transcript, ui.source: source,
           ui.weight: gr.update(value=A.speech_share(result), interactive=bool(result.get("text"))),
           ui.rerun: gr.update(interactive=True)}


def on_remix(ui, state, weight) -> dict:
    """Slider: re-mix the stored probabilities (no model runs again); every view follows."""
    if not state:
        return {}
    return render(ui, state, weight)


def on_rerun(ui, state, text) -> dict:
    """"Re-run with this text": the text model and the fusion on the edited transcript; the speech
    result is reused."""
    if not state:
        return {ui.status: "⚠️ 먼저 분석하세요 · analyze a clip first"}
    try:
        result = A.rescore_text(ui.ctx.recognizer, state["result"], text)
    except Exception as exc:  # noqa: BLE001
        return {ui.status: f"⚠️ {message(exc)}"}
    state = dict(state, result=result)
    _, source = A.transcript_info(result)
    return {ui.state: state, ui.status: "", **render(ui, state), ui.source: source,
            ui.weight: gr.update(value=A.speech_share(result), interactive=bool(result.get("text")))}


def on_segment(ui, state, evt: gr.SelectData) -> dict:
    """A row of the per-segment table clicked: play that window of the input."""
    timeline = (state or {}).get("result", {}).get("timeline") or []
    if evt.index is None or not state or not state.get("audio") or evt.index[0] >= len(timeline):
        return {}
    window = timeline[evt.index[0]]
    try:
        path = A.cut_segment(state["audio"], float(window["start"]), float(window["end"]), ui.ctx.settings)
    except Exception as exc:  # noqa: BLE001
        return {ui.status: f"⚠️ {message(exc)}"}
    start, end = float(window["start"]), float(window["end"])
    return {ui.segment_audio: gr.update(value=str(path), visible=True,
                                        label=f"구간 {start:.0f}–{end:.0f} s 듣기 · segment {start:.0f}–{end:.0f} s")}


# --------------------------------------------------------------------------- layout


def build(ctx: Context) -> SimpleNamespace:
    """The tab's components (inside the current ``gr.Tab``) and their events."""
    ui = SimpleNamespace(ctx=ctx, run=gpu(bind(run_analysis, ctx)), stream=gpu(bind(run_stream, ctx)))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            # Plain strings (not i18n) here: gr.Examples shows these two labels as its column heads.
            ui.audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label=both("audio"),
                                elem_id="audio-in")
            ui.text = gr.Textbox(label=both("transcript"), lines=2, placeholder=both("transcript_ph"),
                                 elem_id="text-in")
            ui.transcribe = gr.Checkbox(value=ctx.has_asr, interactive=ctx.has_asr,
                                        label=t("transcribe" if ctx.has_asr else "transcribe_off"))
            with gr.Row():
                ui.button = gr.Button(t("analyze_btn"), variant="primary", elem_id="analyze-btn", scale=2)
                ui.cancel = gr.Button(t("cancel_btn"), variant="secondary", elem_id="cancel-btn", scale=1)
            ui.status = gr.Markdown(elem_id="analyze-status")
            gr.Markdown(M.model_line(ctx.spec), elem_id="model-line")
        with gr.Column(scale=2, min_width=300):
            ui.summary = gr.Markdown(elem_id="summary", elem_classes="emo-summary")
            ui.chart = gr.Plot(label=t("chart"), elem_id="prob-chart")
            ui.weight = gr.Slider(0, 1, value=0.5, step=0.05, interactive=False, elem_id="weight", label=t("weight"))
            ui.transcript = gr.Textbox(label=t("transcript"), interactive=True, elem_id="transcript-out", lines=2)
            ui.rerun = gr.Button(t("rerun_btn"), interactive=False, elem_id="rerun-btn", size="sm")
            ui.source = gr.Markdown(elem_id="transcript-source")
            ui.va = gr.Plot(label=t("va"), visible=False, elem_id="va-plane")
            ui.timeline = gr.Plot(label=t("timeline"), visible=False, elem_id="timeline")
            ui.segments = gr.Dataframe(label=t("segments"), visible=False, interactive=False, elem_id="segments")
            ui.segment_audio = gr.Audio(label=t("segment_audio"), visible=False, interactive=False,
                                        elem_id="segment-audio")
            with gr.Accordion(t("json"), open=False):
                ui.json = gr.JSON(label="JSON")
                ui.download = gr.DownloadButton(t("download_json"), visible=False, elem_id="download-json")
    rows = example_rows()
    if rows:
        gr.Examples(rows, inputs=[ui.audio, ui.text], label=both("examples"), elem_id="examples")
    ui.state = gr.State()
    _wire(ui)
    return ui


def _wire(ui) -> None:
    views = [ui.summary, ui.chart, ui.va, ui.timeline, ui.segments, ui.json, ui.download]
    outputs = [ui.state, ui.status, ui.transcript, ui.source, ui.weight, ui.rerun, ui.segment_audio, *views]
    # concurrency_limit=None: gradio starts every admitted analysis at once; emoens.ui.fair's
    # per-client limit admits them and its short/long lanes run them (a short clip never waits
    # behind a long one).
    run = ui.button.click(bind(on_analyze, ui), [ui.audio, ui.text, ui.transcribe], outputs,
                          api_visibility="private", concurrency_id="analyze", concurrency_limit=None)
    ui.cancel.click(lambda: {ui.status: "⏹️ 취소함 · cancelled"}, None, [ui.status], cancels=[run],
                    api_visibility="private", queue=False)
    ui.weight.input(bind(on_remix, ui), [ui.state, ui.weight], views,
                    api_visibility="private", concurrency_limit=None, trigger_mode="always_last")
    ui.rerun.click(bind(on_rerun, ui), [ui.state, ui.transcript],
                   [ui.state, ui.status, ui.source, ui.weight, *views], api_visibility="private",
                   concurrency_limit=None)
    ui.segments.select(bind(on_segment, ui), [ui.state], [ui.segment_audio, ui.status],
                       api_visibility="private", concurrency_limit=None)
    # The public API: (audio file, transcript) -> analyze()'s result, nothing else.
    api_out = gr.JSON(visible=False)
    api_btn = gr.Button(visible=False)
    api_btn.click(bind(api_analyze, ui), [ui.audio, ui.text], api_out, api_name="analyze",
                  concurrency_id="analyze", concurrency_limit=None)
