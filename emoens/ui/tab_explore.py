"""The Explore tab: layout, wiring and its handlers (each returns ``{component: value}`` updates)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from emoens.labels import LABELS
from emoens.ui import explore as E
from emoens.ui.common import Context, bind, message
from emoens.ui.compare import read_manifest_frame
from emoens.ui.config import STATS_DIR, UIError


def load_state(ui, choice, path, upload) -> dict:
    """What the tab shows: a manifest frame (upload or server path) or bundled statistics."""
    if upload:
        return {"frame": read_manifest_frame(upload), "source": Path(upload).name}
    if path and path.strip():
        if not ui.ctx.settings.local_paths:
            raise UIError("manifest paths on the server are disabled here (EMOENS_LOCAL_PATHS=0): "
                          "upload the manifest instead")
        return {"frame": read_manifest_frame(path.strip()), "source": Path(path.strip()).name}
    chosen = [f for f in ui.stats_files if f.name == choice]
    if chosen:
        return {"frame": None, "stats": E.read_stats(chosen[0]), "source": f"{chosen[0].name} (bundled)"}
    raise UIError("give a manifest (its path or an upload), or pick bundled statistics")


def _views(ui, state: dict, selected: dict) -> dict:
    frame, source = state.get("frame"), state["source"]
    if frame is not None:
        stats = E.stats_of(E.apply_filters(frame, selected), source)
        counts, durations = E.class_counts(stats), E.duration_figure(stats)
    else:
        stats = state["stats"]
        counts = E.class_counts(stats, selected.get("corpus"), selected.get("split"))
        durations = E.duration_figure(stats, selected.get("corpus"))
    return {ui.summary: E.summary_markdown(stats, source), ui.distribution: E.distribution_figure(counts),
            ui.counts: E.counts_display(counts), ui.durations: durations,
            ui.valence: E.valence_arousal_figure(stats), ui.ties: E.ties_table(stats)}


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
        gr.Info("bundled statistics hold counts only: load a manifest to list its utterances")
        return {}
    listing = E.utterances_of(E.apply_filters(state["frame"], dict(zip(E.FILTER_COLUMNS, selected))), label)
    return {ui.listing: listing, ui.player: gr.update(value=None, label=f"utterances of {label}: click one to play")}


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
    """An utterance of the listing clicked: play it when its audio is on this machine."""
    if listing is None or evt.index is None:
        return {}
    row = pd.DataFrame(listing).iloc[evt.index[0]]
    path = Path(str(row["audio_path"]))
    if not path.is_file():
        gr.Warning(f"the audio of {row['utt_id']} is not on this machine ({path})")
        return {ui.player: gr.update(value=None)}
    return {ui.player: gr.update(value=str(path), label=str(row["utt_id"]))}


def build(ctx: Context, demo: gr.Blocks) -> SimpleNamespace:
    """The tab's components (inside the current ``gr.Tab``) and their events."""
    ui = SimpleNamespace(ctx=ctx, stats_files=E.bundled_stats_files(STATS_DIR))
    files = ui.stats_files
    gr.Markdown("Class distributions, durations, valence/arousal and ties of the training data "
                "or of any manifest. Click a bar, or a row of the counts table, to list the utterances of that class.")
    with gr.Row():
        ui.choice = gr.Dropdown(choices=[f.name for f in files], value=files[0].name if files else None,
                                label="bundled statistics (assets/stats)", visible=bool(files))
        ui.path = gr.Textbox(label="manifest path on this machine", visible=ctx.settings.local_paths,
                             elem_id="explore-path")
        ui.upload = gr.File(label="or upload a manifest CSV", file_types=[".csv", ".tsv"], type="filepath")
        ui.button = gr.Button("Load", variant="primary", elem_id="explore-btn")
    ui.summary = gr.Markdown(elem_id="explore-summary")
    with gr.Row():
        ui.filters = [gr.CheckboxGroup(label=c, choices=[]) for c in E.FILTER_COLUMNS]
    ui.distribution = gr.Plot(label="class distribution", elem_id="distribution")
    ui.counts = gr.Dataframe(label="utterances per class (click a row)", interactive=False, elem_id="counts-table")
    ui.listing = gr.Dataframe(label="utterances of the clicked class", interactive=False, elem_id="listing",
                              wrap=True)
    ui.player = gr.Audio(label="audio of the clicked utterance", interactive=False)
    with gr.Row():
        ui.durations = gr.Plot(label="durations")
        ui.valence = gr.Plot(label="valence and arousal")
    ui.ties = gr.Dataframe(label="ties (raters' majority split between classes)", interactive=False)
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
    ui.counts.select(bind(on_counts_select, ui), [ui.state, *ui.filters], [ui.listing, ui.player],
                     api_visibility="private")
    ui.listing.select(bind(on_play, ui), [ui.listing], [ui.player], api_visibility="private")
    bar_label = gr.Textbox(visible="hidden", elem_id="bar-click")
    bar_button = gr.Button(visible="hidden", elem_id="bar-click-btn")
    bar_button.click(bind(on_bar, ui), [ui.state, *ui.filters, bar_label], [ui.listing, ui.player],
                     api_visibility="private")
