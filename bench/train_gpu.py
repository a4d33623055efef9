"""Training throughput on one GPU: the seed's speech recipe vs the tuned (honest) recipe.

Both run a few hundred optimizer steps of wav2vec2-large-sized models (random weights with the
dimensions of kresnik/wav2vec2-large-xlsr-korean, so nothing is downloaded; or ``--base`` for a real
checkpoint) on a synthetic manifest of 2–12 s clips, and report samples/s and peak GPU memory. The
seed recipe is a plain ``Trainer`` set-up (fp16, batch 2 x 2, whole clips, random order); the tuned one
adds bf16, batch 8 x 4, 8-s crops, length-grouped batches and gradient checkpointing.

    python bench/train_gpu.py [--steps 30] [--base kresnik/wav2vec2-large-xlsr-korean]

Without a CUDA GPU it prints why and exits 0 (nothing is written).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

LARGE = {"model_type": "wav2vec2", "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
         "intermediate_size": 4096, "feat_extract_norm": "layer", "do_stable_layer_norm": True,
         "conv_bias": True}


def synthetic_manifest(root: Path, n: int = 256, seed: int = 0) -> Path:
    """``n`` noise clips of 2–12 s with random labels (throughput only: nothing to learn)."""
    import numpy as np
    import pandas as pd
    import soundfile as sf

    from emoens.labels import LABELS
    from emoens.manifest import write_manifest

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        seconds = float(rng.uniform(2, 12))
        wav = root / f"{i:04d}.wav"
        sf.write(str(wav), (0.1 * rng.standard_normal(int(seconds * 16000))).astype("float32"), 16000)
        rows.append({"utt_id": f"b{i:04d}", "audio_path": str(wav), "duration": seconds,
                     "label": LABELS[i % 7], "split": "train"})
    path = root / "manifest.csv"
    write_manifest(pd.DataFrame(rows), path)
    return path


class Meter:
    """A TrainerCallback that times steps after a warm-up and records peak GPU memory."""

    def __init__(self, warmup: int = 3):
        from transformers import TrainerCallback

        meter = self

        class _CB(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                import torch

                torch.cuda.synchronize()
                if state.global_step == warmup:
                    meter.start = time.perf_counter()
                    meter.start_step = state.global_step
                meter.end = time.perf_counter()
                meter.end_step = state.global_step

        self.callback = _CB()
        self.start = self.end = 0.0
        self.start_step = self.end_step = 0


def run_recipe(name: str, config_file: str, manifest: Path, steps: int, base: str | None, out: Path) -> dict:
    import torch

    from emoens.train import config_from_dict, load_config
    from emoens.train.runner import train

    cfg = load_config(REPO / "training" / "configs" / config_file).to_dict()
    cfg.update(eval_split=None, load_best_model_at_end=False, early_stopping_patience=None, report_to=[],
               save_steps=10**6, num_train_epochs=100)
    if base is None:
        cfg.update(base=None, model_config=LARGE)
    else:
        cfg["base"] = base
    torch.cuda.reset_peak_memory_stats()
    meter = Meter()
    train("speech", manifest, config_from_dict(cfg), out / name, max_steps=steps, callbacks=[meter.callback])
    per_step = cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"]
    timed = max(1, meter.end_step - meter.start_step)
    seconds = meter.end - meter.start
    return {"recipe": name, "config": config_file, "steps_timed": timed,
            "samples_per_s": round(timed * per_step / seconds, 2) if seconds > 0 else None,
            "peak_gpu_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "effective_batch": per_step}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--base", default=None, help="Hub id or directory instead of random large weights")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("bench/train_gpu.py: no CUDA GPU here; skipped (no results written)")
        return 0
    from common import machine_info, write_results

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = synthetic_manifest(tmp / "data")
        rows = [run_recipe("seed", "emo-ensemble-wav2vec2.yaml", manifest, args.steps, args.base, tmp),
                run_recipe("tuned", "honest-wav2vec2.yaml", manifest, args.steps, args.base, tmp)]
    info = machine_info()
    info["gpu"] = torch.cuda.get_device_name(0)
    lines = ["| recipe | config | effective batch | samples/s | peak GPU memory (GiB) |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['config']} | {r['effective_batch']} | {r['samples_per_s']} | "
                     f"{r['peak_gpu_mem_gib']} |")
    lines.append(f"\nGPU: {info['gpu']}; model: {args.base or 'wav2vec2-large dimensions, random weights'}; "
                 "synthetic 2–12 s clips.")
    write_results("train_gpu", {"results": rows, "steps": args.steps, "base": args.base}, "\n".join(lines),
                  machine=info)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
