"""The gradio Blocks of the app: tabs Analyze / Compare / Explore / Model, and the /analyze API."""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from emoens.errors import EmoensError
from emoens.files import write_csv, write_json
from emoens.labels import LABELS
from emoens.ui import analyze as A
from emoens.ui import compare as C
from emoens.ui import explore as E
from emoens.ui import model as M
from emoens.ui.charts import FONT_FAMILY, confusion_figure, empty_figure, probabilities_figure, timeline_figure
from emoens.ui.config import EXAMPLES_DIR, STATS_DIR, Settings, UIError

log = logging.getLogger(__name__)

TITLE = "emoens · 한국어 음성 감정 인식"
CSS = """
.emo-summary h2 { margin: 0.2em 0; }
footer { display: none !important; }
"""
# Clicking a bar of the Explore class distribution: plotly's click event names the class in a
# hidden textbox and presses a hidden button (gr.Plot has no select event of its own).
JS = """
() => {
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
_recognizer_lock = threading.Lock()
_recognizers: dict[str | None, Any] = {}


def theme() -> gr.themes.Base:
    """A theme with system fonts only (no web fonts, so the page works offline)."""
    mono = ("ui-monospace", "DejaVu Sans Mono", "monospace")
    return gr.themes.Soft(font=[f.strip(" '") for f in FONT_FAMILY.split(",")] + ["system-ui"],
                          font_mono=list(mono))


def load_recognizer(bundle: str | None = None):
    """The recognizer of ``bundle`` (None = the embedded default), loaded once per process."""
    with _recognizer_lock:
        if bundle not in _recognizers:
            from emoens.recognizer import EmotionRecognizer

            _recognizers[bundle] = EmotionRecognizer.from_bundle(bundle)
        return _recognizers[bundle]


def _gpu(fn):
    """Apply ZeroGPU's ``spaces.GPU`` when the ``spaces`` package is installed (Spaces only)."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return spaces.GPU(fn)


def _message(exc: BaseException) -> str:
    if isinstance(exc, EmoensError):
        return str(exc)
    log.exception("unexpected error in the app")
    return f"unexpected error ({type(exc).__name__}); the details are in the server log"


def _download_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="emoens-"))


def example_rows() -> list[list[str]]:
    """``[audio path, transcript]`` for each example clip in assets/examples (transcript from a .txt)."""
    if not EXAMPLES_DIR.is_dir():
        return []
    rows = []
    for path in sorted(EXAMPLES_DIR.iterdir()):
        if path.suffix.lower() in C.AUDIO_SUFFIXES:
            txt = path.with_suffix(".txt")
            rows.append([str(path), txt.read_text(encoding="utf-8").strip() if txt.is_file() else ""])
    return rows


def build_demo(recognizer=None, settings: Settings | None = None) -> gr.Blocks:
    """Build the app around ``recognizer`` (default: the bundle named by EMOENS_BUNDLE, else the
    embedded default). Launch it with ``demo.launch(**launch_kwargs())``."""
    settings = settings or Settings.from_env()
    if recognizer is None:
        recognizer = load_recognizer(settings.bundle)
    has_asr = str(getattr(recognizer, "asr_backend", "none") or "none") != "none"

    # ------------------------------------------------------------------ handlers: Analyze
    @_gpu
    def run_analysis(audio, text, transcribe):
        return A.analyze(recognizer, audio, text, settings, transcribe=transcribe)

    def api_analyze(audio, text):
        """Analyze one recording (and optional transcript); returns EmotionRecognizer.analyze()'s result."""
        try:
            return run_analysis(audio, text, None)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
            raise gr.Error(_message(exc), print_exception=False) from None

    def render(result: dict, speech_weight: float | None = None):
        shown = A.remix(result, speech_weight) if speech_weight is not None else result
        figure = probabilities_figure(A.chart_sources(shown))
        return A.summary_markdown(shown), figure

    def ui_analyze(audio, text, transcribe):
        try:
            # None = transcribe when no text is typed (an unavailable ASR becomes a warning).
            result = run_analysis(audio, text, None if transcribe and has_asr else False)
        except Exception as exc:  # noqa: BLE001
            message = _message(exc)
            gr.Warning(message)
            return (None, f"⚠️ {message}", "", empty_figure("no result"), "", "",
                    gr.update(visible=False), gr.update(interactive=False), None,
                    gr.update(visible=False))
        summary, figure = render(result)
        transcript, source = A.transcript_info(result)
        timeline = result.get("timeline") or []
        json_path = _download_dir() / "emoens_result.json"
        write_json(json_path, result)
        return (
            result, "", summary, figure, transcript, source,
            gr.update(value=timeline_figure(timeline) if len(timeline) > 1 else None,
                      visible=len(timeline) > 1),
            gr.update(value=A.speech_share(result), interactive=bool(result.get("text"))),
            result, gr.update(value=str(json_path), visible=True),
        )

    def ui_remix(result, weight):
        if not result:
            return gr.update(), gr.update()
        return render(result, weight)

    # ------------------------------------------------------------------ handlers: Compare
    def ui_compare(files, manifest_path, transcribe, progress=gr.Progress()):
        try:
            items = []
            manifests = [f for f in files or [] if Path(f).suffix.lower() in C.MANIFEST_SUFFIXES]
            audio = [f for f in files or [] if Path(f).suffix.lower() not in C.MANIFEST_SUFFIXES]
            for f in manifests:
                items += C.items_from_manifest(C.read_manifest_frame(f))
            items += C.items_from_files(audio)
            if manifest_path and manifest_path.strip():
                if not settings.local_paths:
                    raise UIError("manifest paths on the server are disabled here (EMOENS_LOCAL_PATHS=0): "
                                  "upload the manifest instead")
                items += C.items_from_manifest(C.read_manifest_frame(manifest_path.strip()))
            frame = C.run_compare(recognizer, items, settings, transcribe=None if transcribe and has_asr else False,
                                  progress=lambda i, n: progress((i, n), desc="analysing", unit="files"))
        except Exception as exc:  # noqa: BLE001
            message = _message(exc)
            gr.Warning(message)
            return f"⚠️ {message}", None, None, empty_figure("no result"), gr.update(visible=False)
        table, matrices = C.metrics(frame)
        csv_path = _download_dir() / "emoens_compare.csv"
        write_csv(csv_path, frame)
        ok = int((frame["status"] == "ok").sum())
        agree = int(frame["agree"].sum())
        status = (f"{len(frame)} utterances, {ok} analysed, all models agree on {agree} "
                  f"(green rows; amber = disagreement, red = error)")
        if table.empty:
            status += ". No true labels given, so no metrics (use a manifest with a label column)."
        figure = confusion_figure(matrices) if matrices else empty_figure("no true labels: no confusion matrices")
        return (status, C.styled_table(frame), table if not table.empty else None, figure,
                gr.update(value=str(csv_path), visible=True))

    # ------------------------------------------------------------------ handlers: Explore
    def explore_outputs(state: dict, selected: dict):
        frame, source = state.get("frame"), state["source"]
        if frame is not None:
            stats = E.stats_of(E.apply_filters(frame, selected), source)
            counts, durations_fig = E.class_counts(stats), E.duration_figure(stats)
        else:
            stats = state["stats"]
            counts = E.class_counts(stats, selected.get("corpus"), selected.get("split"))
            durations_fig = E.duration_figure(stats, selected.get("corpus"))
        return (E.summary_markdown(stats, source), E.distribution_figure(counts), E.counts_display(counts),
                durations_fig, E.valence_arousal_figure(stats), E.ties_table(stats))

    def load_explore_state(choice, path, upload) -> dict:
        if upload:
            return {"frame": C.read_manifest_frame(upload), "source": Path(upload).name}
        if path and path.strip():
            if not settings.local_paths:
                raise UIError("manifest paths on the server are disabled here (EMOENS_LOCAL_PATHS=0): "
                              "upload the manifest instead")
            return {"frame": C.read_manifest_frame(path.strip()), "source": Path(path.strip()).name}
        chosen = [f for f in stats_files if f.name == choice]
        if chosen:
            return {"frame": None, "stats": E.read_stats(chosen[0]), "source": f"{chosen[0].name} (bundled)"}
        raise UIError("give a manifest (its path or an upload), or pick bundled statistics")

    def ui_explore_load(choice, path, upload):
        try:
            state = load_explore_state(choice, path, upload)
            outputs = explore_outputs(state, {})
        except Exception as exc:  # noqa: BLE001
            message = _message(exc)
            gr.Warning(message)
            return (gr.update(), f"⚠️ {message}", *[gr.update()] * 9)
        choices = E.filter_choices(state.get("frame"), state.get("stats"))
        filters = [gr.update(choices=choices[c], value=[], visible=bool(choices[c])) for c in E.FILTER_COLUMNS]
        return (state, *outputs, *filters)

    def ui_explore_filter(state, corpus, split, style, gender):
        if not state:
            return (gr.update(),) * 6
        try:
            return explore_outputs(state, dict(zip(E.FILTER_COLUMNS, (corpus, split, style, gender))))
        except Exception as exc:  # noqa: BLE001
            gr.Warning(_message(exc))
            return (gr.update(),) * 6

    def ui_explore_select(state, corpus, split, style, gender, evt: gr.SelectData):
        try:
            row = evt.row_value if evt.row_value else [evt.value]
            label = E.label_from_cell(row[0])
        except Exception as exc:  # noqa: BLE001
            gr.Warning(_message(exc))
            return None, gr.update()
        return list_class(state, corpus, split, style, gender, label)

    def ui_explore_bar(state, corpus, split, style, gender, label):
        if (label or "").strip() not in LABELS:
            return None, gr.update()
        return list_class(state, corpus, split, style, gender, label.strip())

    def list_class(state, corpus, split, style, gender, label):
        if not state or state.get("frame") is None:
            gr.Info("bundled statistics hold counts only: load a manifest to list its utterances")
            return None, gr.update()
        selected = dict(zip(E.FILTER_COLUMNS, (corpus, split, style, gender)))
        listing = E.utterances_of(E.apply_filters(state["frame"], selected), label)
        return listing, gr.update(value=None, label=f"utterances of {label}: click one to play")

    def ui_explore_play(listing, evt: gr.SelectData):
        if listing is None or evt.index is None:
            return gr.update()
        row = pd.DataFrame(listing).iloc[evt.index[0]]
        path = Path(str(row["audio_path"]))
        if not path.is_file():
            gr.Warning(f"the audio of {row['utt_id']} is not on this machine ({path})")
            return gr.update(value=None)
        return gr.update(value=str(path), label=str(row["utt_id"]))

    # ------------------------------------------------------------------ layout
    directory = M.bundle_dir(recognizer, settings.bundle)
    spec, card = M.read_bundle(directory)
    stats_files = E.bundled_stats_files(STATS_DIR)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nSpeech model + text model + ensemble. "
                    "Record or upload Korean speech and see how each model hears it.")
        with gr.Tabs():
            with gr.Tab("Analyze 분석", id="analyze"):
                with gr.Row():
                    with gr.Column(scale=1):
                        audio_in = gr.Audio(sources=["microphone", "upload"], type="filepath",
                                            label="음성 · speech (record or upload)", elem_id="audio-in")
                        text_in = gr.Textbox(label="전사 · transcript (optional)", lines=2,
                                             placeholder="말한 내용을 입력하세요 (optional)", elem_id="text-in")
                        transcribe_in = gr.Checkbox(
                            value=has_asr, interactive=has_asr, label="transcribe automatically (Whisper) "
                            "when no transcript is typed" + ("" if has_asr else " — not available"))
                        analyze_btn = gr.Button("Analyze 분석", variant="primary", elem_id="analyze-btn")
                        status = gr.Markdown(elem_id="analyze-status")
                        rows = example_rows()
                        if rows:
                            gr.Examples(rows, inputs=[audio_in, text_in], label="예시 · examples (synthetic)")
                    with gr.Column(scale=2):
                        summary = gr.Markdown(elem_id="summary", elem_classes="emo-summary")
                        chart = gr.Plot(label="probabilities", elem_id="prob-chart")
                        weight = gr.Slider(0, 1, value=0.5, step=0.05, interactive=False, elem_id="weight",
                                           label="fusion weight of speech (1 = speech only, 0 = text only): "
                                                 "re-mixes the ensemble without re-running the models")
                        transcript_out = gr.Textbox(label="transcript used", interactive=False,
                                                    elem_id="transcript-out")
                        source_out = gr.Markdown(elem_id="transcript-source")
                        timeline = gr.Plot(label="timeline", visible=False, elem_id="timeline")
                        with gr.Accordion("raw JSON result", open=False):
                            json_out = gr.JSON(label="result")
                            download = gr.DownloadButton("Download JSON", visible=False, elem_id="download-json")
                result_state = gr.State()
                analyze_btn.click(
                    ui_analyze, [audio_in, text_in, transcribe_in],
                    [result_state, status, summary, chart, transcript_out, source_out, timeline, weight,
                     json_out, download],
                    api_visibility="private", concurrency_id="analyze",
                )
                weight.input(ui_remix, [result_state, weight], [summary, chart], api_visibility="private",
                             concurrency_limit=None, trigger_mode="always_last")
                # The public API: (audio file, transcript) -> analyze()'s result, nothing else.
                api_out = gr.JSON(visible=False)
                api_btn = gr.Button(visible=False)
                api_btn.click(api_analyze, [audio_in, text_in], api_out, api_name="analyze",
                              concurrency_id="analyze")

            with gr.Tab("Compare 비교", id="compare"):
                gr.Markdown("Run several clips — or a manifest CSV with `audio_path`, `text`, `label` — "
                            "through every model. With true labels: accuracy, macro-F1 and unweighted "
                            "accuracy beside the all-neutral baseline.")
                with gr.Row():
                    files_in = gr.File(file_count="multiple", label="audio files and/or a manifest CSV",
                                       elem_id="compare-files")
                    with gr.Column():
                        manifest_in = gr.Textbox(label="or a manifest path on this machine",
                                                 visible=settings.local_paths, elem_id="compare-path")
                        compare_transcribe = gr.Checkbox(value=False, interactive=has_asr,
                                                         label="transcribe clips without a transcript (slower)")
                        compare_btn = gr.Button("Compare 비교", variant="primary", elem_id="compare-btn")
                compare_status = gr.Markdown(elem_id="compare-status")
                compare_table = gr.Dataframe(label="per utterance", interactive=False, wrap=True,
                                             elem_id="compare-table")
                metrics_table = gr.Dataframe(label="metrics (rows with a true label)", interactive=False,
                                             elem_id="compare-metrics")
                confusion = gr.Plot(label="confusion matrices")
                compare_download = gr.DownloadButton("Download CSV", visible=False)
                compare_btn.click(ui_compare, [files_in, manifest_in, compare_transcribe],
                                  [compare_status, compare_table, metrics_table, confusion, compare_download],
                                  api_visibility="private", concurrency_id="analyze")

            with gr.Tab("Explore 탐색", id="explore"):
                gr.Markdown("Class distributions, durations, valence/arousal and ties of the training data "
                            "or of any manifest. Click a bar, or a row of the counts table, to list the utterances of that class.")
                with gr.Row():
                    stats_choice = gr.Dropdown(
                        choices=[f.name for f in stats_files], value=stats_files[0].name if stats_files else None,
                        label="bundled statistics (assets/stats)", visible=bool(stats_files))
                    explore_path = gr.Textbox(label="manifest path on this machine", visible=settings.local_paths,
                                              elem_id="explore-path")
                    explore_upload = gr.File(label="or upload a manifest CSV", file_types=[".csv", ".tsv"],
                                             type="filepath")
                    explore_btn = gr.Button("Load", variant="primary", elem_id="explore-btn")
                explore_summary = gr.Markdown(elem_id="explore-summary")
                with gr.Row():
                    filters = [gr.CheckboxGroup(label=c, choices=[]) for c in E.FILTER_COLUMNS]
                distribution = gr.Plot(label="class distribution", elem_id="distribution")
                counts_table = gr.Dataframe(label="utterances per class (click a row)", interactive=False,
                                            elem_id="counts-table")
                listing = gr.Dataframe(label="utterances of the clicked class", interactive=False,
                                       elem_id="listing", wrap=True)
                player = gr.Audio(label="audio of the clicked utterance", interactive=False)
                with gr.Row():
                    durations = gr.Plot(label="durations")
                    valence = gr.Plot(label="valence and arousal")
                ties = gr.Dataframe(label="ties (raters' majority split between classes)", interactive=False)
                explore_state = gr.State()
                outputs = [explore_summary, distribution, counts_table, durations, valence, ties]
                explore_btn.click(ui_explore_load, [stats_choice, explore_path, explore_upload],
                                  [explore_state, *outputs, *filters], api_visibility="private")
                if stats_files:  # show the training data's statistics when the page opens
                    demo.load(ui_explore_load, [stats_choice, explore_path, explore_upload],
                              [explore_state, *outputs, *filters], api_visibility="private")
                for f in filters:
                    f.input(ui_explore_filter, [explore_state, *filters], outputs, api_visibility="private")
                counts_table.select(ui_explore_select, [explore_state, *filters], [listing, player],
                                    api_visibility="private")
                listing.select(ui_explore_play, [listing], [player], api_visibility="private")
                bar_label = gr.Textbox(visible="hidden", elem_id="bar-click")
                bar_button = gr.Button(visible="hidden", elem_id="bar-click-btn")
                bar_button.click(ui_explore_bar, [explore_state, *filters, bar_label], [listing, player],
                                 api_visibility="private")

            with gr.Tab("Model 모델", id="model"):
                gr.Markdown(M.overview_markdown(spec, directory))
                members = M.members_table(spec)
                if not members.empty:
                    gr.Dataframe(members, label="members and fusion weights", interactive=False)
                metrics_df = M.metrics_table(spec)
                if not metrics_df.empty:
                    gr.Dataframe(metrics_df, label="recorded metrics (bundle.json)", interactive=False)
                gr.Markdown(card or "_This bundle has no MODEL_CARD.md._", elem_id="model-card")

    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    return demo


def launch_kwargs(settings: Settings | None = None) -> dict:
    """Keyword arguments of ``demo.launch()``: host/port from GRADIO_SERVER_NAME/PORT (default
    127.0.0.1:7860), the upload cap, the offline theme."""
    import os

    settings = settings or Settings.from_env()
    return {
        "server_name": os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1",
        "server_port": int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
        "max_file_size": int(settings.max_upload_mb * 1024 * 1024),
        "theme": theme(),
        "css": CSS,
        "js": JS,
        "show_error": True,
    }
