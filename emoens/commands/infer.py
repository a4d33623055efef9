"""``emoens infer``: one member over a manifest -> predictions CSV."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "infer", help="predict a manifest with a trained speech or text model (predictions CSV)",
        description="Write utt_id + one probability column per class for every manifest row (of --split).")
    p.add_argument("--model", required=True, help="trained model directory (from `emoens train`)")
    p.add_argument("--manifest", required=True)
    p.add_argument("--split", default=None, help="only rows of this split (train, valid, test)")
    p.add_argument("--out", required=True, help="predictions CSV to write")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: cuda when present)")
    p.set_defaults(func=run)


def run(args) -> int:
    from emoens.infer import infer

    frame = infer(args.model, args.manifest, args.out, split=args.split, batch_size=args.batch_size,
                  device=args.device)
    print(f"{len(frame)} predictions written to {args.out}")
    return 0
