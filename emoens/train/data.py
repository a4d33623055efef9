"""Training datasets (audio decoded on the fly from the manifest), collators and samplers."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from emoens.labels import LABEL_TO_ID, normalize_label


def label_ids(frame: pd.DataFrame) -> np.ndarray:
    """Class index of every (labelled) row."""
    return np.asarray([LABEL_TO_ID[normalize_label(v)] for v in frame["label"]], dtype=np.int64)


class SpeechDataset(torch.utils.data.Dataset):
    """Rows of a manifest as ``{"wave", "labels"}``; audio read with :func:`emoens.audio.load_audio`
    at access time (no processed copy on disk). ``train=True`` crops long clips at random."""

    def __init__(self, frame: pd.DataFrame, *, max_seconds: float | None = None, reverse: bool = False,
                 train: bool = False):
        self.paths = frame["audio_path"].astype(str).tolist()
        self.ids = frame["utt_id"].astype(str).tolist()
        self.labels = label_ids(frame)
        self.max_seconds = max_seconds
        self.reverse = reverse
        self.train = train
        durations = pd.to_numeric(frame.get("duration", pd.Series([""] * len(frame))), errors="coerce")
        durations = durations.fillna(durations.median() if durations.notna().any() else 1.0)
        if max_seconds:
            durations = durations.clip(upper=max_seconds)
        self.lengths = [int(d * 16000) for d in durations]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        from emoens.audio import load_audio
        from emoens.models.speech import prepare_wave

        wave = load_audio(self.paths[i], max_seconds=None, name=f"{self.paths[i]} (utt_id {self.ids[i]})")
        wave = prepare_wave(wave, reverse=self.reverse, max_seconds=self.max_seconds, random_crop=self.train)
        return {"wave": wave, "labels": int(self.labels[i])}


class SpeechCollator:
    """Pads a list of waveforms with the feature extractor (attention mask included)."""

    def __init__(self, extractor):
        self.extractor = extractor

    def __call__(self, items: Sequence[dict]) -> dict:
        from emoens.models.speech import pad_batch

        batch = pad_batch([it["wave"] for it in items], self.extractor)
        batch["labels"] = torch.tensor([it["labels"] for it in items], dtype=torch.long)
        return batch


class TextDataset(torch.utils.data.Dataset):
    """Rows of a manifest tokenised (truncated to ``max_length``) as ``{"input_ids", …, "labels"}``."""

    def __init__(self, frame: pd.DataFrame, tokenizer, max_length: int):
        texts = frame["text"].fillna("").astype(str).tolist()
        self.encodings = tokenizer(texts, truncation=True, max_length=max_length)
        self.labels = label_ids(frame)
        self.lengths = [len(ids) for ids in self.encodings["input_ids"]]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        item = {k: v[i] for k, v in self.encodings.items()}
        item["labels"] = int(self.labels[i])
        return item


class EpochSampler(torch.utils.data.Sampler):
    """Shuffled, class-balanced (``weights``) or length-grouped (``lengths``) order, drawn from a
    generator seeded with ``seed + epoch``: the same on every process and after ``--resume``."""

    def __init__(self, n: int, seed: int, *, weights: Sequence[float] | None = None,
                 lengths: Sequence[int] | None = None, group_size: int = 1):
        self.n = n
        self.seed = seed
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.lengths = None if lengths is None else list(lengths)
        self.group_size = max(1, group_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        if self.weights is not None:
            order = torch.multinomial(self.weights, self.n, replacement=True, generator=gen).tolist()
        else:
            order = torch.randperm(self.n, generator=gen).tolist()
        if self.lengths is not None:
            # Mega-batches of 50 groups sorted by length (as transformers' LengthGroupedSampler).
            mega = self.group_size * 50
            chunks = [sorted(order[i:i + mega], key=lambda j: -self.lengths[j]) for i in range(0, self.n, mega)]
            order = [j for chunk in chunks for j in chunk]
            groups = [order[i:i + self.group_size] for i in range(0, self.n, self.group_size)]
            perm = torch.randperm(len(groups), generator=gen).tolist()
            order = [j for g in (groups[p] for p in perm) for j in g]
        return iter(order)


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """scikit-learn's "balanced" weights ``n / (k * count)`` for present classes; 1 for absent ones."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    weights = np.ones(num_classes, dtype=np.float64)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels)
    return weights

