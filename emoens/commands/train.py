"""``emoens train speech|text``: fine-tune a member from a manifest with a YAML recipe."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="fine-tune a speech (wav2vec2) or text (KoBERT) model from a manifest",
        description="Fine-tune a speech or text classifier with the Hugging Face Trainer. Recipes live in "
        "training/configs/*.yaml. Multi-GPU: `accelerate launch -m emoens.cli train …` or torchrun.")
    p.add_argument("modality", choices=("speech", "text"))
    p.add_argument("--manifest", required=True, help="manifest CSV (with a split column)")
    p.add_argument("--config", required=True, help="YAML recipe, e.g. training/configs/honest-wav2vec2.yaml")
    p.add_argument("--out", required=True, help="output model directory (checkpoints go to OUT.train/)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUT.train/")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.set_defaults(func=run)


def run(args) -> int:
    from emoens.train import load_config
    from emoens.train.runner import train

    cfg = load_config(args.config)
    out = train(args.modality, args.manifest, cfg, args.out, resume=args.resume, max_steps=args.max_steps)
    print(f"model saved to {out}")
    return 0
