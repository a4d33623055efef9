"""``emoens export``: turn a bundle's transformers members into ONNX (optionally int8) members."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``export`` sub-command."""
    parser = subparsers.add_parser(
        "export",
        help="export a bundle's speech/text models to ONNX (int8) for fast CPU inference",
        description="Write a copy of a bundle whose hf-speech/hf-text members are ONNX models run "
        "by ONNX Runtime without torch (other members are copied unchanged).",
    )
    parser.add_argument("--bundle", required=True, help="input bundle directory (with bundle.json)")
    parser.add_argument("--format", dest="fmt", default="onnx", choices=["onnx"], help="export format")
    parser.add_argument("--quantize", choices=["int8", "none"], default="none",
                        help="dynamic int8 quantisation of the MatMul/Gemm weights (default: none)")
    parser.add_argument("--out", required=True, help="output bundle directory")
    parser.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export the bundle; prints one line per exported member."""
    from emoens.onnx.export import export_bundle

    quantize = None if args.quantize == "none" else args.quantize
    new = export_bundle(args.bundle, args.out, fmt=args.fmt, quantize=quantize,
                        overwrite=args.overwrite)
    kinds = ", ".join(f"{m.get('name')}={m.get('kind')}" for m in new["members"])
    print(f"wrote {args.out} ({kinds})")
    return 0
