"""Training configurations: YAML files mapped onto one dataclass; unknown keys are refused."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emoens.errors import EmoensError

MODALITIES = ("speech", "text")


class TrainError(EmoensError):
    """A training run that cannot start or go on (bad config, empty split, missing checkpoint)."""


@dataclass
class TrainConfig:
    """Every knob of ``emoens train``; see training/README.md for what each recipe sets."""

    modality: str = "speech"
    # Model: a Hub id / local directory of a pretrained encoder, or base: null + model_config.
    base: str | None = None
    model_config: dict | None = None
    config_overrides: dict = field(default_factory=dict)  # e.g. classifier_dropout, hidden_dropout
    freeze_feature_encoder: bool = True
    gradient_checkpointing: bool = False
    # Text: tokenizer directory/id (default: the base's); "train-sentencepiece" trains a tiny one.
    tokenizer: str | None = None
    tokenizer_vocab_size: int = 250
    max_length: int = 64
    # Speech: random crop of longer clips to max_seconds in training (first max_seconds at inference).
    max_seconds: float | None = None
    reverse_audio: bool = False
    # Data: which manifest splits train and validate; null eval_split = no validation.
    train_split: str = "train"
    eval_split: str | None = "valid"
    # Optimisation.
    learning_rate: float = 2e-5
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 16
    gradient_accumulation_steps: int = 1
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    label_smoothing: float = 0.0
    class_weighting: str = "none"  # none | balanced (loss weights n / (k * count))
    balanced_sampling: bool = False
    group_by_length: bool = False
    bf16: bool = False
    fp16: bool = False
    # Selection (validation only) and checkpoints.
    eval_steps: int | None = None  # null = evaluate once per epoch
    save_steps: int | None = None  # null = save once per epoch
    save_total_limit: int | None = 2
    load_best_model_at_end: bool = False
    metric_for_best_model: str = "macro_f1"
    early_stopping_patience: int | None = None
    logging_steps: int = 10
    seed: int = 42
    dataloader_num_workers: int = 0
    report_to: list = field(default_factory=lambda: ["tensorboard"])

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise TrainError(f"modality {self.modality!r}: expected one of {', '.join(MODALITIES)}")
        if self.class_weighting not in ("none", "balanced"):
            raise TrainError(f"class_weighting {self.class_weighting!r}: expected none or balanced")
        if self.bf16 and self.fp16:
            raise TrainError("bf16 and fp16 are both set: choose one")
        if self.base is None and not self.model_config:
            raise TrainError("the config needs `base` (a Hub id or model directory) or `model_config`")
        if (self.load_best_model_at_end or self.early_stopping_patience) and not self.eval_split:
            raise TrainError("load_best_model_at_end / early_stopping_patience need an eval_split "
                             "(selection happens on validation data only)")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for provenance JSON)."""
        return dataclasses.asdict(self)


def config_from_dict(data: dict, source: str = "config") -> TrainConfig:
    """Build a :class:`TrainConfig`, refusing unknown keys with the list of known ones."""
    if not isinstance(data, dict):
        raise TrainError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(k for k in data if k not in known)
    if unknown:
        raise TrainError(f"{source}: unknown setting(s) {', '.join(map(repr, unknown))}; "
                         f"known settings: {', '.join(known)}")
    values = {}
    for name, value in data.items():
        default = known[name].default
        if isinstance(default, float) and isinstance(value, str):
            try:  # YAML 1.1 reads 2e-5 (no dot) as a string
                value = float(value)
            except ValueError:
                raise TrainError(f"{source}: {name} must be a number, got {value!r}") from None
        if isinstance(default, bool) and not isinstance(value, bool):
            raise TrainError(f"{source}: {name} must be true or false, got {value!r}")
        if isinstance(default, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(default, (int, float)) and not isinstance(default, bool) and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TrainError(f"{source}: {name} must be a number, got {value!r}")
        values[name] = value
    try:
        return TrainConfig(**values)
    except TypeError as exc:
        raise TrainError(f"{source}: {exc}") from None


def load_config(path: str | Path) -> TrainConfig:
    """Read a YAML training config (see training/configs/)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise TrainError(f"training config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TrainError(f"{path} is not valid YAML: {exc}") from None
    return config_from_dict(data, source=str(path))
