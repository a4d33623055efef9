"""Would the default speech head do as well on the ASR's encoder states? (issue 18, not nested)

    python training/default/explore_asr_states.py [--data ../shared/data]

Sharing the Whisper encoder pass between the ASR and the speech member (``bench/encoder_sharing.py``:
about a third of a long clip's CPU time) needs a head trained on the states the ASR computes:
each clip's speech (from the first to the last VAD span, in windows of at most 28 s) encoded
followed by silence on the ASR's 2-s grid, rather than the whole clip unpadded. This script
computes both kinds of states for every speech row of the recipe (same rows, same prosody) and
scores the shipped speech candidate (the vote of ``emoens.recipe.default.SPEECH_CANDIDATES``) on
each, every corpus held out in turn (``loco_oof``, as ``explore_speech.py``). Development numbers,
not the card's nested estimate. Features are cached in ``.cache/train-default/``. Writes
``results/explore_asr_states.{json,md}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = Path(".cache/train-default/explore_asr_states_v1.npz")


def asr_states(samples: np.ndarray, asr) -> np.ndarray:
    """Encoder states of ``samples``' speech as the default ASR encodes it (its windows, padded)."""
    from emoens.asr import _grid_samples
    from emoens.models import whisper

    spans, _ = asr._speech_windows(samples, "clip")
    spans = spans or [(0, samples.size)]  # no speech found: the whole clip
    return np.concatenate([whisper.padded_states(samples[s:e], _grid_samples((e - s) / 16000),
                                                 model=asr.model) for s, e in spans])


def features(paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(own states, ASR-style states, prosody) of every clip, cached by path list."""
    from tqdm.auto import tqdm

    from emoens.asr import make_asr
    from emoens.audio import load_audio
    from emoens.files import atomic_write
    from emoens.models.light import waveform_states
    from emoens.recipe.speech_features import pool_encoder_states, prosody_features

    if CACHE.is_file():
        with np.load(CACHE, allow_pickle=False) as data:
            if data["paths"].tolist() == paths:
                return data["own"], data["asr"], data["prosody"]
    asr = make_asr("faster-whisper", workers=1)  # the shared model: the same one for both
    own, shared, prosody = [], [], []
    for path in tqdm(paths, desc="states", unit=" clips"):
        samples = load_audio(path, max_seconds=None)
        own.append(pool_encoder_states(waveform_states(samples, model=asr.model)))
        shared.append(pool_encoder_states(asr_states(samples, asr)))
        prosody.append(prosody_features(samples))
    arrays = {"paths": np.array(paths), "own": np.stack(own), "asr": np.stack(shared),
              "prosody": np.stack(prosody)}
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(CACHE, "wb") as handle:
        np.savez(handle, **arrays)
    return arrays["own"], arrays["asr"], arrays["prosody"]


def main() -> None:
    from threadpoolctl import threadpool_limits

    from emoens.evaluate import unweighted_recall
    from emoens.files import write_json, write_text
    from emoens.recipe.default import SPEECH_CANDIDATES
    from emoens.recipe.protocol import label_ids, loco_oof
    from emoens.recipe.speech import balanced_weights, make_speech
    from emoens.recipe.speech_data import load_speech_corpora

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    args = parser.parse_args()
    frame = load_speech_corpora(Path(args.data))
    own, shared, prosody = features(list(frame["audio_path"]))
    y, corpus = label_ids(frame["label"]), frame["corpus"].to_numpy()
    weights = balanced_weights(y, corpus)
    vote = next(c for c in SPEECH_CANDIDATES if "members" in c)
    corpora = sorted(set(corpus))
    rows, predictions = {}, {}
    with threadpool_limits(1):
        for name, states in (("own unpadded pass (shipped)", own), ("the ASR's states", shared)):
            start = time.time()
            proba = loco_oof(make_speech(vote), np.concatenate([states, prosody], 1), y, corpus,
                             weights)
            predictions[name] = proba.argmax(1)
            uar = {c: round(unweighted_recall(y[corpus == c], predictions[name][corpus == c]), 4)
                   for c in corpora}
            rows[name] = {"uar": uar, "mean": round(float(np.mean(list(uar.values()))), 4),
                          "seconds": round(time.time() - start, 1)}
            print(name, rows[name], flush=True)
    first, second = predictions.values()
    agreement = round(float((first == second).mean()), 4)
    write_json(HERE / "results" / "explore_asr_states.json",
               {"clips": len(y), "settings": rows, "label_agreement": agreement})
    lines = ["# The shipped speech candidate on its own states and on the ASR's (not nested)", "",
             "Written by `python training/default/explore_asr_states.py`: UAR with each corpus "
             f"held out in turn, {len(y)} clips; the same rows, weights and prosody for both.", "",
             "| states | " + " | ".join(corpora) + " | mean |", "|---|" + "---|" * (len(corpora) + 1)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row['uar'][c]:.3f}" for c in corpora)
                     + f" | {row['mean']:.3f} |")
    lines += ["", f"Held-out predictions with the same top class: {agreement:.1%}."]
    write_text(HERE / "results" / "explore_asr_states.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
