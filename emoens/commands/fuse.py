"""``emoens fuse``: a fusion config (fixed, fitted or stacked weights) from member predictions."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``fuse`` sub-command."""
    parser = subparsers.add_parser(
        "fuse",
        help="combine member predictions: fixed, fitted (on validation) or stacked fusion",
        description="Write a fusion JSON from member prediction CSVs (from `emoens infer`, joined by "
        "utt_id). Member names are the files' stems unless --names is given. --method fit and "
        "stack learn from the manifest's VALIDATION rows only; they refuse the test split.",
    )
    parser.add_argument("--predictions", nargs="+", required=True, metavar="[NAME=]CSV",
                        help="prediction CSVs (utt_id + one column per label), one per member; "
                        "NAME= names the member (default: the file's stem)")
    parser.add_argument("--names", nargs="+", help="member names, in the order of --predictions")
    parser.add_argument("--modalities", nargs="+", choices=["speech", "text"],
                        help="speech/text per prediction file (default: 'text' when the file name "
                        "contains text/kobert/bert, else 'speech')")
    parser.add_argument("--manifest", help="manifest with label and split columns (needed by fit "
                        "and stack)")
    parser.add_argument("--method", choices=["fixed", "fit", "stack"], default="fixed")
    parser.add_argument("--weights", nargs="+", metavar="W",
                        help="fixed weights, numbers or fractions (0.25 1/6 …); default: half per "
                        "modality, shared equally within it (the seed's 0.25/0.25 + 3 x 1/6)")
    parser.add_argument("--objective", choices=["macro_f1", "log_loss"], default="macro_f1",
                        help="what --method fit maximises on validation (default macro_f1)")
    parser.add_argument("--split", default="valid",
                        help="manifest split to fit on (default valid; test is refused)")
    parser.add_argument("--step", type=float, default=0.05, help="grid step for macro_f1 (0.05)")
    parser.add_argument("--out", required=True, help="fusion JSON to write")
    parser.set_defaults(func=run)


# Speech models first: "hubert" contains "bert".
SPEECH_MARKERS = ("speech", "audio", "hubert", "wav2vec", "wavlm", "whisper", "xlsr", "w2v")
TEXT_MARKERS = ("text", "bert", "kote", "electra", "roberta")


def guess_modality(stem: str) -> str:
    """``speech`` or ``text`` from a predictions file name (``--modalities`` overrides it)."""
    low = stem.lower()
    if any(k in low for k in SPEECH_MARKERS):
        return "speech"
    return "text" if any(k in low for k in TEXT_MARKERS) else "speech"


def run(args: argparse.Namespace) -> int:
    """Build the fusion and write it atomically; prints the weights."""
    from emoens import fusion, fusion_fit
    from emoens.fusion import FusionError

    from emoens.evaluate import parse_prediction_arg

    named = [parse_prediction_arg(arg) for arg in args.predictions]
    paths = [path for _, path in named]
    names = args.names or [name for name, _ in named]
    if len(names) != len(paths) or len(set(names)) != len(names):
        raise FusionError(f"--names must give {len(paths)} distinct names, one per prediction file")
    if args.modalities and len(args.modalities) != len(paths):
        raise FusionError(f"--modalities must give {len(paths)} values, one per prediction file")
    modalities = dict(zip(names, args.modalities or [guess_modality(n) for n in names]))
    if not args.modalities:
        print("modalities (guessed from file names; set --modalities to change): "
              + ", ".join(f"{n}={m}" for n, m in modalities.items()))
    frames = {n: fusion.read_predictions(p) for n, p in zip(names, paths)}
    sources = {"predictions": {n: str(p) for n, p in zip(names, paths)}}

    if args.method == "fixed":
        weights = None
        if args.weights:
            if len(args.weights) != len(paths):
                raise FusionError(f"--weights must give {len(paths)} values, one per prediction file")
            weights = dict(zip(names, (fusion.parse_weight(w) for w in args.weights)))
        config = fusion.weighted_fusion(modalities, weights, provenance=sources)
    else:
        if not args.manifest:
            raise FusionError(f"--method {args.method} needs --manifest (labels and splits)")
        if args.split.strip().lower() == "test":
            raise FusionError("refusing to fit fusion weights on the test split: fit on "
                              "validation rows (--split valid) and keep test for the final report")
        from emoens.manifest import read_manifest

        manifest = read_manifest(args.manifest)
        rows = manifest[(manifest["split"].astype(str) == args.split)
                        & (manifest["label"].astype(str) != "")]
        if rows.empty:
            raise FusionError(f"manifest {args.manifest} has no labelled rows with split "
                              f"{args.split!r}: run the split step first")
        frames = {n: f.loc[[u for u in f.index if u in set(rows["utt_id"])]]
                  for n, f in frames.items()}
        ids, mats = fusion.join_predictions(frames)
        labels = rows.set_index("utt_id").loc[ids, "label"].tolist()
        fitted_on = {"manifest": str(args.manifest), "split": args.split, **sources}
        print(f"fitting on {len(ids)} {args.split} rows shared by all prediction files")
        if args.method == "fit":
            config = fusion_fit.fit_weights(mats, labels, modalities, objective=args.objective,
                                        step=args.step, fitted_on=fitted_on)
        else:
            config = fusion_fit.fit_stack(mats, labels, modalities, fitted_on=fitted_on)
    fusion.write_fusion(args.out, config)
    weights = ", ".join(f"{n}={w:.4g}" for n, w in fusion.member_weights(config).items())
    print(f"wrote {args.out}: method {config['method']}, weights {weights}")
    return 0
