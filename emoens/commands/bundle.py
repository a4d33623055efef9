"""``emoens bundle``: assemble member model folders and a fusion into a validated bundle."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``bundle`` sub-command."""
    parser = subparsers.add_parser(
        "bundle",
        help="assemble speech/text member folders and a fusion into a bundle",
        description="Copy member model folders into a new bundle folder, write bundle.json and "
        "MODEL_CARD.md, and validate it. Name members NAME=DIR to match the fusion's member names "
        "(default name: the folder's name).",
    )
    parser.add_argument("--speech", nargs="+", required=True, metavar="[NAME=]DIR",
                        help="speech member folders")
    parser.add_argument("--text", nargs="*", default=[], metavar="[NAME=]DIR",
                        help="text member folders")
    parser.add_argument("--kind", nargs="*", default=[], metavar="NAME=KIND",
                        help="member kinds when they cannot be detected (hf-speech, hf-text, "
                        "whisper-head, text-head, onnx-speech, onnx-text)")
    parser.add_argument("--fusion", help="fusion JSON from `emoens fuse` (default: half weight per "
                        "modality, equal within it)")
    parser.add_argument("--asr", default="faster-whisper",
                        choices=["faster-whisper", "transformers", "vosk", "none"],
                        help="ASR back-end recorded in the bundle (default faster-whisper)")
    parser.add_argument("--asr-model", help="ASR model (a Whisper folder or Hub id for transformers)")
    parser.add_argument("--metrics", help="JSON file of evaluation results to record (from "
                        "`emoens evaluate`)")
    parser.add_argument("--name", help="bundle name (default: the --out folder's name)")
    parser.add_argument("--out", required=True, help="bundle folder to create")
    parser.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    parser.set_defaults(func=run)


def _split(entry: str) -> tuple[str, str]:
    from pathlib import Path

    if "=" in entry and not entry.startswith("="):
        name, path = entry.split("=", 1)
        return name, path
    return Path(entry.rstrip("/")).name, entry


def run(args: argparse.Namespace) -> int:
    """Build the bundle; prints its members and any Trainer leftovers skipped."""
    import json
    from pathlib import Path

    from emoens import __version__
    from emoens.bundle import BundleError, MemberSpec, build_bundle, detect_kind
    from emoens.fusion import read_fusion

    kinds = {}
    for entry in args.kind:
        if "=" not in entry:
            raise BundleError(f"--kind {entry!r}: expected NAME=KIND")
        name, kind = entry.split("=", 1)
        kinds[name] = kind
    members = []
    for modality, entries in (("speech", args.speech), ("text", args.text)):
        for entry in entries:
            name, path = _split(entry)
            kind = kinds.get(name) or detect_kind(Path(path), modality)
            members.append((MemberSpec(name, kind, modality, name), Path(path)))
    fusion = read_fusion(args.fusion) if args.fusion else None
    metrics = {}
    if args.metrics:
        try:
            metrics = json.loads(Path(args.metrics).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundleError(f"--metrics {args.metrics} is not a readable JSON file: {exc}") from exc
    asr = {"backend": args.asr}
    if args.asr == "faster-whisper":
        asr["model"] = "whisper-base"
    if args.asr_model:
        asr["model"] = args.asr_model
    provenance = {"emoens_version": __version__,
                  "members": {spec.name: str(path) for spec, path in members}}
    if args.fusion:
        provenance["fusion"] = str(args.fusion)
    bundle, skipped = build_bundle(args.out, members, name=args.name, fusion=fusion, asr=asr,
                                   provenance=provenance, metrics=metrics,
                                   overwrite=args.overwrite)
    for path in skipped:
        print(f"skipped {path} (training leftover, not needed at inference)")
    for spec in bundle.members:
        print(f"  {spec.name}: {spec.modality} {spec.kind} weight {spec.weight:.4g}")
    print(f"wrote bundle {bundle.root}")
    return 0
