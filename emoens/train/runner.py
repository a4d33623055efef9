"""``emoens train``: fine-tune a speech or text classifier from a manifest with the HF ``Trainer``.

Layout of a run with ``--out DIR``:

- ``DIR/`` the final model, an ordinary transformers directory (safetensors, config with the 7
  labels, feature extractor or tokenizer, ``emoens_training.json`` provenance). It is written to a
  temporary sibling and renamed into place, so a killed run never leaves a half-written model;
- ``DIR.train/checkpoints/`` Trainer checkpoints every ``save_steps`` (``--resume`` continues from
  the last one exactly: model, optimizer, scheduler, RNG states, data order);
- ``DIR.train/runs/`` TensorBoard logs.

Multi-GPU needs no code change: ``accelerate launch -m emoens.cli train …`` or ``torchrun``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emoens.labels import LABELS
from emoens.train.config import TrainConfig, TrainError
from emoens.train.data import (EpochSampler, SpeechCollator, SpeechDataset, TextDataset,
                               balanced_class_weights, label_ids)

SUMMARY = ("accuracy", "macro_f1", "weighted_f1", "unweighted_accuracy")


def work_dir(out: Path) -> Path:
    """Where checkpoints and logs of the run writing ``out`` live."""
    return out.parent / (out.name + ".train")


def split_rows(manifest: pd.DataFrame, split: str, what: str) -> pd.DataFrame:
    """Labelled rows of one split, or a TrainError saying what the manifest has."""
    labelled = manifest[manifest["label"].astype(str).str.strip() != ""]
    rows = labelled[labelled["split"].astype(str) == split]
    if rows.empty:
        have = sorted(set(labelled["split"].astype(str)) - {""})
        raise TrainError(f"the manifest has no labelled rows in the {what} split {split!r} "
                         f"(splits present: {', '.join(have) or 'none'}); run `emoens prepare` with a split "
                         "or set train_split/eval_split in the config")
    return rows.reset_index(drop=True)


def _metrics_fn(eval_pred) -> dict:
    from emoens.evaluate import compute_metrics

    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    metrics = compute_metrics(np.asarray(labels).astype(int).tolist(), np.asarray(logits))
    return {k: metrics[k] for k in SUMMARY}


def _make_trainer_class():
    from transformers import Trainer

    class EmoensTrainer(Trainer):
        """``Trainer`` with a seeded per-epoch sampler (balanced / length-grouped when asked)."""

        sampler_options: dict = {}

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            opts = self.sampler_options
            return EpochSampler(
                len(dataset), self.args.seed,
                weights=opts.get("weights"),
                lengths=dataset.lengths if opts.get("group_by_length") else None,
                group_size=self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps,
            )

    return EmoensTrainer


def _weighted_loss(weights: torch.Tensor | None, smoothing: float):
    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        w = None if weights is None else weights.to(logits.device, logits.dtype)
        return torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1),
                                                 weight=w, label_smoothing=smoothing)
    return loss


def _build(modality: str, cfg: TrainConfig, train_rows: pd.DataFrame, tmp_dir: Path):
    """Model, pre-processor and datasets for one modality."""
    if modality == "speech":
        from emoens.models.speech import build_speech_model

        model, extractor = build_speech_model(cfg.base, model_config=cfg.model_config,
                                              freeze_feature_encoder=cfg.freeze_feature_encoder,
                                              config_overrides=cfg.config_overrides)
        model.config.emoens_reverse_audio = bool(cfg.reverse_audio)
        model.config.emoens_max_seconds = cfg.max_seconds

        def dataset(rows, train):
            return SpeechDataset(rows, max_seconds=cfg.max_seconds, reverse=cfg.reverse_audio, train=train)
        return model, extractor, dataset, SpeechCollator(extractor)

    from transformers import DataCollatorWithPadding

    from emoens.models.text import build_text_model

    tokenizer = cfg.tokenizer
    if tokenizer == "train-sentencepiece":
        from emoens.models.kobert import KoBERTTokenizer, train_sentencepiece

        texts = [t for t in train_rows["text"].astype(str) if t.strip()]
        if not texts:
            raise TrainError("tokenizer: train-sentencepiece needs transcripts in the train split")
        train_sentencepiece(texts, tmp_dir / "spm", vocab_size=cfg.tokenizer_vocab_size)
        tokenizer = tmp_dir / "tokenizer"
        KoBERTTokenizer.from_directory(tmp_dir / "spm").save_pretrained(str(tokenizer))
    model, tok = build_text_model(cfg.base, model_config=cfg.model_config, tokenizer=tokenizer,
                                  config_overrides=cfg.config_overrides)
    model.config.emoens_max_length = int(cfg.max_length)

    def dataset(rows, train):
        return TextDataset(rows, tok, cfg.max_length)
    return model, tok, dataset, DataCollatorWithPadding(tok)


def _save_final(trainer, processor, out: Path, provenance: dict) -> None:
    """Save the model to a temporary sibling, then rename it to ``out`` (replacing an old one)."""
    if not trainer.is_world_process_zero():
        return
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(str(tmp), safe_serialization=True)
    processor.save_pretrained(str(tmp))
    from emoens.files import write_json

    write_json(tmp / "emoens_training.json", provenance)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def last_checkpoint(out: Path) -> str | None:
    """The newest Trainer checkpoint of the run writing ``out``, if any."""
    from transformers.trainer_utils import get_last_checkpoint

    ckpt_dir = work_dir(out) / "checkpoints"
    return get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None


def train(modality: str, manifest_path: str | Path, cfg: TrainConfig, out: str | Path, *,
          resume: bool = False, max_steps: int | None = None, callbacks: list | None = None) -> Path:
    """Train one member and save it to ``out``; returns ``out``.

    ``resume`` continues from the last checkpoint in ``OUT.train/checkpoints`` (an error when
    there is none). ``max_steps`` overrides the config (smoke runs, benchmarks).
    (Longer than 80 lines on purpose: the Trainer set-up reads top to bottom as in the
    ``transformers`` example scripts — data, model, arguments, trainer, train, save.)
    """
    from transformers import EarlyStoppingCallback, TrainingArguments, set_seed

    from emoens.manifest import read_manifest

    if cfg.modality != modality:
        raise TrainError(f"the config is for {cfg.modality!r} models but `emoens train {modality}` was asked")
    out = Path(out)
    wdir = work_dir(out)
    checkpoint = None
    if resume:
        checkpoint = last_checkpoint(out)
        if checkpoint is None:
            raise TrainError(f"--resume: no checkpoint in {wdir / 'checkpoints'}; start without --resume")
    set_seed(cfg.seed)
    manifest = read_manifest(manifest_path)
    train_rows = split_rows(manifest, cfg.train_split, "training")
    eval_rows = split_rows(manifest, cfg.eval_split, "validation") if cfg.eval_split else None
    wdir.mkdir(parents=True, exist_ok=True)
    model, processor, make_dataset, collator = _build(modality, cfg, train_rows, wdir)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    train_ds = make_dataset(train_rows, True)
    eval_ds = make_dataset(eval_rows, False) if eval_rows is not None else None

    labels = label_ids(train_rows)
    class_weights = balanced_class_weights(labels, len(LABELS)) if cfg.class_weighting == "balanced" else None
    sample_weights = None
    if cfg.balanced_sampling:
        per_class = balanced_class_weights(labels, len(LABELS))
        sample_weights = per_class[labels]

    epoch_strategy = "steps" if cfg.save_steps else "epoch"
    eval_strategy = "no" if eval_ds is None else ("steps" if cfg.eval_steps else "epoch")
    args = TrainingArguments(
        output_dir=str(wdir / "checkpoints"),
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=max_steps if max_steps is not None else cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        bf16=cfg.bf16,
        fp16=cfg.fp16,
        eval_strategy=eval_strategy,
        eval_steps=cfg.eval_steps,
        save_strategy=epoch_strategy,
        save_steps=cfg.save_steps or 500,
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=cfg.load_best_model_at_end and eval_ds is not None,
        metric_for_best_model=cfg.metric_for_best_model if eval_ds is not None else None,
        greater_is_better=cfg.metric_for_best_model != "loss" if eval_ds is not None else None,
        logging_steps=cfg.logging_steps,
        report_to=list(cfg.report_to or []),
        seed=cfg.seed,
        dataloader_num_workers=cfg.dataloader_num_workers,
        remove_unused_columns=False,
        use_cpu=not torch.cuda.is_available(),
    )
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(wdir / "runs"))
    trainer_cls = _make_trainer_class()
    trainer_cls.sampler_options = {"weights": sample_weights, "group_by_length": cfg.group_by_length}
    all_callbacks = list(callbacks or [])
    if cfg.early_stopping_patience and eval_ds is not None:
        all_callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer = trainer_cls(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, data_collator=collator,
        processing_class=processor, compute_metrics=_metrics_fn if eval_ds is not None else None,
        compute_loss_func=_weighted_loss(
            None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32),
            cfg.label_smoothing),
        callbacks=all_callbacks,
    )
    started = time.time()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    valid = trainer.evaluate() if eval_ds is not None else {}
    provenance = {
        "modality": modality,
        "manifest": str(Path(manifest_path).resolve()),
        "config": cfg.to_dict(),
        "n_train": len(train_rows),
        "n_valid": 0 if eval_rows is None else len(eval_rows),
        "train_label_counts": {LABELS[i]: int((labels == i).sum()) for i in range(len(LABELS))},
        "global_step": int(trainer.state.global_step),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "train_runtime_s": round(time.time() - started, 1),
        "train_loss": float(result.training_loss),
        "valid_metrics": {k: float(v) for k, v in valid.items() if isinstance(v, (int, float))},
        "resumed_from": checkpoint,
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    _save_final(trainer, processor, out, provenance)
    return out


def read_provenance(model_dir: str | Path) -> dict:
    """The ``emoens_training.json`` of a trained model directory ({} when absent)."""
    path = Path(model_dir) / "emoens_training.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
