"""The Explore tab: layout, wiring and its handlers (each returns ``{component: value}`` updates)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from emoens.labels import LABELS
from emoens.ui import explore as E
from emoens.ui.common import Context, bind, message, t
from emoens.ui.compare import read_manifest_frame
from emoens.ui.config import STATS_DIR, UIError
from emoens.ui.paths import ServerPaths
from emoens.ui.text_ko import both


def load_state(ui, choice, path, upload) -> dict:
    """What the tab shows: a manifest frame (upload or server path) or bundled statistics."""
    if upload:
        return {"frame": read_manifest_frame(upload), "source": Path(upload).name}
    if path and path.strip():
        real = ServerPaths.of(ui.ctx.settings).file(path)  # NOT_ALLOWED, whether or not it exists
        return {"frame": read_manifest_frame(real), "source": real.name}
    chosen = [f for f in ui.stats_files if f.name == choice]
    if chosen:
        return {"frame": None, "stats": E.read_stats(chosen[0]), "source": f"{chosen[0].name} (내장 · bundled)"}
    raise UIError("give a manifest (its path or an upload), or pick bundled statistics")


def _views(ui, state: dict, selected: dict) -> dict:
    frame, source = state.get("frame"), state["source"]
    if frame is not None:
        kept = E.apply_filters(frame, selected)
        stats = E.stats_of(kept, source)
        counts, durations = E.class_counts(stats), E.duration_figure(stats)
        summary = E.summary_markdown(stats, source, seconds=E.audio_seconds(kept))
    else:
        stats = state["stats"]
        counts = E.class_counts(stats, selected.get("corpus"), selected.get("split"))
        durations = E.duration_figure(stats, selected.get("corpus"))
        filtered = any(selected.get(c) for c in ("corpus", "split"))
        summary = E.summary_markdown(stats, source, counts if filtered else None)
    ties = E.ties_table(stats)
    return {ui.summary: summary, ui.distribution: E.distribution_figure(counts),
            ui.counts: E.counts_display(counts), ui.durations: durations,
            ui.valence: E.valence_arousal_figure(stats),
            ui.ties: gr.update(value=ties, visible=not ties.empty)}


def on_load(ui, choice, path, upload) -> dict:
    """Load button (and page load): read the data, draw everything, offer the filter values."""
    try:
        state = load_state(ui, choice, path, upload)
        views = _views(ui, state, {})
    except Exception as exc:  # noqa: BLE001
        text = message(exc)
        gr.Warning(text)
        return {ui.summary: f"⚠️ {text}"}
    choices = E.filter_choices(state.get("frame"), state.get("stats"))
    filters = {f: gr.update(choices=choices[c], value=[], visible=bool(choices[c]))
               for f, c in zip(ui.filters, E.FILTER_COLUMNS)}
    return {ui.state: state, **views, **filters}


def on_filter(ui, state, *selected) -> dict:
    """A filter changed: redraw with the rows (or counts) it keeps."""
    if not state:
        return {}
    try:
        return _views(ui, state, dict(zip(E.FILTER_COLUMNS, selected)))
    except Exception as exc:  # noqa: BLE001
        gr.Warning(message(exc))
        return {}


def _list_class(ui, state, selected, label) -> dict:
    if not state or state.get("frame") is None:
        gr.Info("내장 통계에는 개수만 있습니다: 발화 목록은 매니페스트를 불러오세요 · "
                "bundled statistics hold counts only: load a manifest to list its utterances")
        return {}
    listing = E.utterances_of(E.apply_filters(state["frame"], dict(zip(E.FILTER_COLUMNS, selected))), label,
                              exists=ServerPaths.of(ui.ctx.settings).exists)
    # The paths stay on the server (listing_state); the page gets the table without them.
    return {ui.listing: listing.drop(columns="audio_path"), ui.listing_state: listing,
            ui.player: gr.update(value=None)}


def on_counts_select(ui, state, corpus, split, style, gender, evt: gr.SelectData) -> dict:
    """A row of the counts table clicked: list that class's utterances."""
    try:
        row = evt.row_value if evt.row_value else [evt.value]
        label = E.label_from_cell(row[0])
    except Exception as exc:  # noqa: BLE001
        gr.Warning(message(exc))
        return {ui.listing: None}
    return _list_class(ui, state, (corpus, split, style, gender), label)


def on_bar(ui, state, corpus, split, style, gender, label) -> dict:
    """A bar of the class distribution clicked (through the hidden textbox and button)."""
    if (label or "").strip() not in LABELS:
        return {ui.listing: None}
    return _list_class(ui, state, (corpus, split, style, gender), label.strip())


def on_play(ui, listing, evt: gr.SelectData) -> dict:
    """An utterance of the listing clicked: play it when its audio is an allowed server file.

    ``listing`` is the server-side state of the last listing (never the table the page sends);
    the audio is decoded here and sent as samples, so no server file is ever served."""
    from emoens.audio import SAMPLE_RATE, load_audio

    index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    if listing is None or not isinstance(index, int) or not 0 <= index < len(listing):
        return {}
    row = pd.DataFrame(listing).iloc[index]
    try:
        path = ServerPaths.of(ui.ctx.settings).file(row["audio_path"])
        samples = load_audio(path, max_seconds=ui.ctx.settings.max_audio_seconds, name=str(row["utt_id"]))
    except Exception as exc:  # noqa: BLE001
        gr.Warning(message(exc))
        return {ui.player: gr.update(value=None)}
    return {ui.player: gr.update(value=(SAMPLE_RATE, samples), label=str(row["utt_id"]))}


def build(ctx: Context, demo: gr.Blocks) -> SimpleNamespace:
    """The tab's components (inside the current ``gr.Tab``) and their events."""
    ui = SimpleNamespace(ctx=ctx, stats_files=E.bundled_stats_files(STATS_DIR))
    files = ui.stats_files
    gr.Markdown(both("explore_intro"))
    with gr.Row():
        ui.choice = gr.Dropdown(choices=[f.name for f in files], value=files[0].name if files else None,
                                label=t("stats_choice"), visible=bool(files))
        ui.path = gr.Textbox(label=t("explore_path"), visible=ctx.settings.local_paths, elem_id="explore-path")
        ui.upload = gr.File(label=t("explore_upload"), file_types=[".csv", ".tsv"], type="filepath")
        ui.button = gr.Button(t("load_btn"), variant="primary", elem_id="explore-btn")
    ui.summary = gr.Markdown(elem_id="explore-summary")
    with gr.Row():
        ui.filters = [gr.CheckboxGroup(label=t(c), choices=[], elem_id=f"filter-{c}") for c in E.FILTER_COLUMNS]
    ui.distribution = gr.Plot(label=t("distribution"), elem_id="distribution")
    ui.counts = gr.Dataframe(label=t("counts"), interactive=False, elem_id="counts-table")
    ui.listing = gr.Dataframe(label=t("listing"), interactive=False, elem_id="listing", wrap=True)
    ui.listing_state = gr.State()  # the listing with its audio paths, kept on the server
    ui.player = gr.Audio(label=t("player"), interactive=False)
    with gr.Row():
        ui.durations = gr.Plot(label=t("durations"))
        ui.valence = gr.Plot(label=t("valence_arousal"))
    ui.ties = gr.Dataframe(label=t("ties"), interactive=False, elem_id="ties")
    ui.state = gr.State()
    _wire(ui, demo)
    return ui


def _wire(ui, demo: gr.Blocks) -> None:
    views = [ui.summary, ui.distribution, ui.counts, ui.durations, ui.valence, ui.ties]
    load_inputs, load_outputs = [ui.choice, ui.path, ui.upload], [ui.state, *views, *ui.filters]
    ui.button.click(bind(on_load, ui), load_inputs, load_outputs, api_visibility="private")
    if ui.stats_files:  # show the training data's statistics when the page opens
        demo.load(bind(on_load, ui), load_inputs, load_outputs, api_visibility="private")
    for f in ui.filters:
        f.input(bind(on_filter, ui), [ui.state, *ui.filters], views, api_visibility="private")
    ui.counts.select(bind(on_counts_select, ui), [ui.state, *ui.filters], [ui.listing, ui.listing_state, ui.player],
                     api_visibility="private")
    ui.listing.select(bind(on_play, ui), [ui.listing_state], [ui.player], api_visibility="private")
    bar_label = gr.Textbox(visible="hidden", elem_id="bar-click")
    bar_button = gr.Button(visible="hidden", elem_id="bar-click-btn")
    bar_button.click(bind(on_bar, ui), [ui.state, *ui.filters, bar_label], [ui.listing, ui.listing_state, ui.player],
                     api_visibility="private")
