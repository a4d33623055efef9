"""``emoens infer``: run one trained member over a manifest and write a predictions CSV.

The CSV has ``utt_id`` then one probability column per class in canonical order. Audio is decoded
row by row, inference is batched (GPU when present). A row whose audio cannot be read does not stop
the job: the others are predicted and written, then an :class:`InferError` lists the failures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emoens.errors import EmoensError
from emoens.labels import LABELS


class InferError(EmoensError):
    """A model or manifest that cannot be run, or rows that failed."""


def detect_modality(model_dir: str | Path) -> str:
    """``speech`` for an audio classifier directory, ``text`` for a sequence classifier."""
    import json

    from transformers.models.auto.modeling_auto import MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES

    config = Path(model_dir) / "config.json"
    if not config.is_file():
        raise InferError(f"{model_dir} is not a model directory (no config.json)")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InferError(f"{config} is not valid JSON: {exc}") from None
    return "speech" if data.get("model_type") in MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES else "text"


def select_rows(manifest: pd.DataFrame, split: str | None) -> pd.DataFrame:
    """Rows of one split (all rows when ``split`` is None)."""
    if split:
        rows = manifest[manifest["split"].astype(str) == split]
        if rows.empty:
            have = sorted(set(manifest["split"].astype(str)) - {""})
            raise InferError(f"the manifest has no rows in split {split!r} (splits: {', '.join(have) or 'none'})")
        return rows.reset_index(drop=True)
    return manifest.reset_index(drop=True)


def predict_manifest(member, rows: pd.DataFrame, *, chunk: int = 64, progress: bool = True
                     ) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Predictions frame for ``rows`` and the ``(utt_id, error)`` of rows that failed."""
    from tqdm.auto import tqdm

    ids = rows["utt_id"].astype(str).tolist()
    probs: dict[str, np.ndarray] = {}
    failed: list[tuple[str, str]] = []
    bar = tqdm(total=len(ids), desc=f"infer ({member.modality})", unit="utt", disable=not progress)
    for start in range(0, len(ids), chunk):
        part = rows.iloc[start:start + chunk]
        good_ids, inputs = [], []
        if member.modality == "speech":
            from emoens.audio import load_audio

            for utt, path in zip(part["utt_id"].astype(str), part["audio_path"].astype(str)):
                try:
                    inputs.append(load_audio(path, max_seconds=None, name=f"{path} (utt_id {utt})"))
                    good_ids.append(utt)
                except EmoensError as exc:
                    failed.append((utt, str(exc)))
        else:
            good_ids = part["utt_id"].astype(str).tolist()
            inputs = part["text"].fillna("").astype(str).tolist()
        if inputs:
            for utt, p in zip(good_ids, member.predict_proba(inputs)):
                probs[utt] = p
        bar.update(len(part))
    bar.close()
    done = [u for u in ids if u in probs]
    frame = pd.DataFrame(np.asarray([probs[u] for u in done], dtype=np.float64).reshape(-1, len(LABELS)),
                         columns=list(LABELS))
    frame.insert(0, "utt_id", done)
    return frame, failed


def infer(model_dir: str | Path, manifest_path: str | Path, out: str | Path, *, split: str | None = None,
          batch_size: int | None = None, device: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Predict every row (of ``split``) of the manifest with the model in ``model_dir``; write ``out``."""
    from emoens.files import write_csv
    from emoens.manifest import read_manifest
    from emoens.models import load_member

    modality = detect_modality(model_dir)
    options = {"device": device}
    if batch_size:
        options["batch_size"] = batch_size
    member = load_member(f"hf-{modality}", model_dir, **options)
    rows = select_rows(read_manifest(manifest_path), split)
    frame, failed = predict_manifest(member, rows, progress=progress)
    write_csv(out, frame)
    if failed:
        listing = "; ".join(f"{u}: {e}" for u, e in failed[:5])
        more = f" … ({len(failed)} in all)" if len(failed) > 5 else ""
        raise InferError(f"{len(failed)} of {len(rows)} rows could not be predicted ({listing}{more}); "
                         f"the other {len(frame)} predictions were written to {out}")
    return frame
