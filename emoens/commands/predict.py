"""``emoens predict``: emotions for many audio files (or a manifest) into a CSV or JSON Lines file.

One row per input: ``input``, ``utt_id`` (with ``--manifest``), ``status`` (``ok`` or the error
message), ``label``, ``transcript``, then ``speech_<class>``, ``text_<class>``,
``ensemble_<class>`` for the 7 classes (empty where a modality did not run). A bad input never
stops the batch; the exit code is 1 when any input failed. The output is rewritten atomically
after every chunk, so an interrupted run leaves a valid file and ``--resume`` skips what is done.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emoens.labels import LABELS
from emoens.settings import AUDIO_SUFFIXES


def columns(with_utt_id: bool) -> list[str]:
    """The output columns, in order."""
    cols = ["input"] + (["utt_id"] if with_utt_id else []) + ["status", "label", "transcript"]
    for prefix in ("speech", "text", "ensemble"):
        cols += [f"{prefix}_{label}" for label in LABELS]
    return cols


def result_row(result: dict | None, *, input_name: str, utt_id: str | None = None,
               error: str | None = None) -> dict:
    """Flatten one :meth:`EmotionRecognizer.analyze` result (or an error) into an output row."""
    row = {"input": input_name}
    if utt_id is not None:
        row["utt_id"] = utt_id
    ok = result is not None and error is None
    row["status"] = "ok" if ok else (error or "error")
    row["label"] = result["label"] if ok else ""
    row["transcript"] = (result.get("transcript") or "") if ok else ""
    for prefix in ("speech", "text", "ensemble"):
        dist = result.get(prefix) if ok else None
        for label in LABELS:
            row[f"{prefix}_{label}"] = round(float(dist[label]), 6) if dist else ""
    return row


def register(subparsers) -> None:
    """Add the ``predict`` sub-command."""
    parser = subparsers.add_parser(
        "predict",
        help="predict emotions for audio files or a manifest into a CSV/JSONL file",
        description="Run a bundle (default: the embedded one) over audio files, folders of audio "
        "files, or a manifest. Without --text/--transcribe (and without a manifest's text) the "
        "result is speech-only.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="audio files, or folders searched for audio files")
    parser.add_argument("--manifest", help="manifest CSV: its audio_path, utt_id and text columns")
    parser.add_argument("--bundle", help="bundle folder or Hub id (default: the embedded bundle)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--text", help="transcript to use for every input")
    group.add_argument("--transcribe", action="store_true",
                       help="transcribe inputs that have no text with the bundle's ASR back-end")
    parser.add_argument("--out", required=True, help="results file: .csv or .jsonl")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows already 'ok' in --out and process only the rest")
    parser.add_argument("--shard", metavar="I/N",
                        help="process only shard I of N (0 <= I < N): a deterministic split by "
                        "utt_id (manifest) or input path; merge the outputs with "
                        "emoens.shard.merge_outputs")
    parser.add_argument("--chunk", type=int, default=32,
                        help="inputs per batch; the output is saved after each (default 32)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _expand(files: list[str]) -> list[str]:
    out = []
    for entry in files:
        path = Path(entry)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            out += found
        else:
            out.append(entry)  # missing files become error rows
    return out


def _read_existing(path: Path, fmt: str):
    import pandas as pd

    from emoens.recognizer import RecognizerError

    if not path.exists():
        return None
    try:
        if fmt == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_json(path, lines=True, dtype=False)
    except (OSError, ValueError) as exc:
        raise RecognizerError(f"--resume: cannot read the existing output {path}: {exc}") from exc


def _write(path: Path, fmt: str, rows: list[dict], cols: list[str]) -> None:
    import json

    import pandas as pd

    from emoens.files import write_csv, write_text

    if fmt == "csv":
        write_csv(path, pd.DataFrame(rows, columns=cols))
    else:
        write_text(path, "".join(json.dumps({c: r.get(c, "") for c in cols}, ensure_ascii=False)
                                 + "\n" for r in rows))


def run(args: argparse.Namespace) -> int:
    """Predict, saving after every chunk; returns 1 when any input failed."""
    from emoens.recognizer import EmotionRecognizer, RecognizerError

    out = Path(args.out)
    fmt = {".csv": "csv", ".jsonl": "jsonl"}.get(out.suffix.lower())
    if fmt is None:
        raise RecognizerError(f"--out {out}: use a .csv or .jsonl file name")
    if args.manifest and args.files:
        raise RecognizerError("give audio FILES or --manifest, not both")
    # (input, utt_id, text) per item
    if args.manifest:
        from emoens.manifest import read_manifest

        frame = read_manifest(args.manifest)
        items = [(str(r.audio_path), str(r.utt_id), (str(r.text).strip() or None))
                 for r in frame.itertuples()]
        if args.text is not None:
            items = [(i, u, args.text) for i, u, _ in items]
    else:
        items = [(f, None, args.text) for f in _expand(args.files)]
    if not items:
        raise RecognizerError("no inputs: give audio files, folders with audio files, or --manifest")
    if getattr(args, "shard", None):
        from emoens.shard import select

        items = select(items, args.shard, lambda it: it[1] if args.manifest else it[0])
    with_utt_id = bool(args.manifest)
    cols = columns(with_utt_id)
    key = "utt_id" if with_utt_id else "input"

    rows: list[dict] = []
    if args.resume:
        existing = _read_existing(out, fmt)
        if existing is not None and len(existing):
            missing = [c for c in cols if c not in existing.columns]
            if missing:
                raise RecognizerError(f"--resume: {out} lacks the column(s) {missing}: it was not "
                                      "written by this command with these options")
            rows = [r for r in existing.to_dict("records") if str(r.get("status")) == "ok"]
            done = {str(r[key]) for r in rows}
            before = len(items)
            items = [it for it in items if str(it[1] if with_utt_id else it[0]) not in done]
            print(f"resuming: {before - len(items)} inputs already done in {out}")

    recognizer = EmotionRecognizer.from_bundle(args.bundle)
    transcribe = True if args.transcribe else False
    if args.transcribe and recognizer.asr_backend == "none":
        raise RecognizerError("--transcribe: the bundle has no ASR back-end (asr: none)")

    from tqdm.auto import tqdm

    chunk = max(1, int(args.chunk))
    failed = 0
    bar = tqdm(total=len(items), unit="file", disable=args.quiet)
    for start in range(0, len(items), chunk):
        part = items[start:start + chunk]
        # errors="return": a bad input (or a member failing on it) is its own error row
        results = recognizer.analyze_batch([i for i, _, _ in part], texts=[t for _, _, t in part],
                                           transcribe=transcribe, names=[i for i, _, _ in part],
                                           errors="return")
        for (source, utt_id, _), result in zip(part, results):
            if "error" in result:
                failed += 1
                rows.append(result_row(None, input_name=source, utt_id=utt_id,
                                       error=result["error"]))
            else:
                rows.append(result_row(result, input_name=source, utt_id=utt_id))
        _write(out, fmt, rows, cols)
        bar.update(len(part))
    bar.close()
    print(f"wrote {len(rows)} rows to {out}" + (f"; {failed} input(s) failed" if failed else ""))
    return 1 if failed else 0
