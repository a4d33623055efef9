"""``emoens evaluate``: metrics of prediction CSVs against a manifest, beside baselines."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="accuracy, macro-F1, UA, per-class scores and confusion matrices of predictions",
        description="Join predictions to the manifest by utt_id and score them overall, per corpus, per "
        "split and per style (scripted/improvised), beside all-neutral and class-prior baselines.")
    p.add_argument("--predictions", nargs="+", required=True, metavar="[NAME=]CSV",
                   help="predictions CSV(s) from `emoens infer`; NAME defaults to the file stem")
    p.add_argument("--manifest", required=True)
    p.add_argument("--split", default=None, help="evaluate only this split's labelled rows")
    p.add_argument("--fusion", default=None, help="fusion JSON from `emoens fuse`, applied to the predictions")
    p.add_argument("--out", required=True, help="output folder (metrics.json, metrics.md, confusion PNGs)")
    p.add_argument("--no-plots", action="store_true", help="skip the confusion-matrix PNGs")
    p.set_defaults(func=run)


def run(args) -> int:
    from emoens.evaluate import EvaluateError, evaluate, parse_prediction_arg, read_predictions, write_report
    from emoens.manifest import read_manifest

    preds = {}
    for arg in args.predictions:
        name, path = parse_prediction_arg(arg)
        if name in preds:
            raise EvaluateError(f"two prediction files are named {name!r}: name them NAME=PATH")
        preds[name] = read_predictions(path)
    fusion = None
    if args.fusion:
        from emoens.fusion import FusionError, read_fusion

        try:
            fusion = read_fusion(args.fusion)
        except FusionError as exc:
            raise EvaluateError(str(exc)) from None
    report = evaluate(preds, read_manifest(args.manifest), split=args.split, fusion=fusion)
    written = write_report(report, args.out, plots=not args.no_plots)
    print(open(written[1], encoding="utf-8").read())
    print("written: " + ", ".join(str(p) for p in written))
    return 0
