"""``emoens predict``: emotions for many audio files (or a manifest) into a CSV or JSON Lines file.

One row per input: ``input``, ``utt_id`` (with ``--manifest``), ``status`` (``ok`` or the error
message), ``label``, ``transcript``, then ``speech_<class>``, ``text_<class>``,
``ensemble_<class>`` for the 7 classes (empty where a modality did not run). A bad input never
stops the batch, and every input given has its row (an empty folder too); the exit code is 1 when
any input failed. The output is started atomically (header, and with ``--resume`` the rows already
done), then each chunk is appended: an interrupted run leaves every finished chunk, and
``--resume`` reads them back and processes only the rest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emoens.labels import LABELS
from emoens.settings import AUDIO_SUFFIXES


#: The distributions a result row carries, each as one ``{member}_{label}`` column per label.
MEMBERS = ("speech", "text", "ensemble")


def probability_columns() -> list[str]:
    """The ``{member}_{label}`` probability columns, in order."""
    return [f"{member}_{label}" for member in MEMBERS for label in LABELS]


def columns(with_utt_id: bool) -> list[str]:
    """The output columns, in order."""
    return (["input"] + (["utt_id"] if with_utt_id else []) + ["status", "label", "transcript"]
            + probability_columns())


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
    for member in MEMBERS:
        dist = result.get(member) if ok else None
        for label in LABELS:
            row[f"{member}_{label}"] = round(float(dist[label]), 6) if dist else ""
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
                        "utt_id (manifest) or input path; join the outputs with `emoens merge`")
    parser.add_argument("--asr-workers", type=int, default=1, metavar="N",
                        help="faster-whisper decoding workers (threads split among them; 2 on 2 "
                        "cores: ~1.5x the clips/s in bench/throughput.py; default 1)")
    parser.add_argument("--chunk", type=int, default=32,
                        help="inputs per batch; the output is saved after each (default 32)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _expand(files: list[str]) -> list[tuple[str, str | None]]:
    """``(input, error)`` per input: the audio files of each folder (an empty or unreadable folder
    is one error row, never dropped silently); a file as given (a missing one becomes an error row)."""
    out: list[tuple[str, str | None]] = []
    for entry in files:
        path = Path(entry)
        if not path.is_dir():
            out.append((entry, None))
            continue
        try:
            found = sorted(str(p) for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        except OSError as exc:
            out.append((entry, f"cannot read folder {entry}: {exc.strerror or exc}"))
            continue
        out += [(f, None) for f in found] or [
            (entry, f"folder {entry} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")]
    return out


def _complete_text(path: Path) -> str:
    """The output's text without a partial last line (a kill while appending)."""
    text = path.read_text(encoding="utf-8")
    return text if text.endswith("\n") or not text else text[: text.rfind("\n") + 1]


def _read_existing(path: Path, fmt: str):
    import io

    import pandas as pd

    from emoens.recognizer import RecognizerError

    if not path.exists():
        return None
    try:
        text = _complete_text(path)
        if fmt == "csv":
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        return pd.read_json(io.StringIO(text), lines=True, dtype=False) if text.strip() else \
            pd.DataFrame()
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecognizerError(f"--resume: cannot read the existing output {path}: {exc}") from exc


def _render(fmt: str, rows: list[dict], cols: list[str], header: bool) -> str:
    import json

    import pandas as pd

    if fmt == "csv":
        return pd.DataFrame(rows, columns=cols).to_csv(index=False, header=header, lineterminator="\n")
    return "".join(json.dumps({c: r.get(c, "") for c in cols}, ensure_ascii=False) + "\n"
                   for r in rows)


def _start(path: Path, fmt: str, rows: list[dict], cols: list[str]) -> None:
    """Atomically (re)write the output: its header and the rows kept by ``--resume``."""
    from emoens.files import write_text

    write_text(path, _render(fmt, rows, cols, header=True))


def _append(path: Path, fmt: str, rows: list[dict], cols: list[str]) -> None:
    """Add one chunk's rows at the end (append-only: linear in the rows, whatever their number)."""
    from emoens.files import append_text

    append_text(path, _render(fmt, rows, cols, header=False))


def _check_out(out: Path) -> str:
    """The output format; refuses a folder, a bad suffix or an unwritable place before any work."""
    from emoens.recognizer import RecognizerError

    fmt = {".csv": "csv", ".jsonl": "jsonl"}.get(out.suffix.lower())
    if out.is_dir():
        raise RecognizerError(f"--out {out} is a folder: give a file name ending in .csv or .jsonl")
    if fmt is None:
        raise RecognizerError(f"--out {out}: use a .csv or .jsonl file name")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise RecognizerError(f"--out {out}: {parent} is not a folder")
    return fmt


def _items(args) -> list[tuple[str, str | None, str | None, str | None]]:
    """``(input, utt_id, text, error)`` per input, in order (``error`` set: a row without a model run)."""
    from emoens.recognizer import RecognizerError

    if args.manifest and args.files:
        raise RecognizerError("give audio FILES or --manifest, not both")
    if args.manifest:
        from emoens.manifest import read_manifest

        frame = read_manifest(args.manifest, required=("utt_id", "audio_path"))  # no label
        items = [(str(r.audio_path), str(r.utt_id), (str(r.text).strip() or None), None)
                 for r in frame.itertuples()]
        if args.text is not None:
            items = [(i, u, args.text, None) for i, u, _, _ in items]
    else:
        items = [(f, None, args.text, error) for f, error in _expand(args.files)]
    if not items:
        raise RecognizerError("no inputs: give audio files, folders with audio files, or --manifest")
    if getattr(args, "shard", None):
        from emoens.shard import select

        items = select(items, args.shard, lambda it: it[1] if args.manifest else it[0])
    return items


def _resume(out: Path, fmt: str, cols: list[str], items: list, key_index: int) -> tuple[list, list]:
    """The rows already 'ok' in ``out`` and the items still to do."""
    from emoens.recognizer import RecognizerError

    existing = _read_existing(out, fmt)
    if existing is None or not len(existing):
        return [], items
    missing = [c for c in cols if c not in existing.columns]
    if missing:
        raise RecognizerError(f"--resume: {out} lacks the column(s) {missing}: it was not "
                              "written by this command with these options")
    rows = [r for r in existing.to_dict("records") if str(r.get("status")) == "ok"]
    done = {str(r[cols[key_index]]) for r in rows}
    todo = [it for it in items if str(it[key_index]) not in done]
    print(f"resuming: {len(items) - len(todo)} inputs already done in {out}")
    return rows, todo


def _chunk_rows(recognizer, part: list, transcribe: bool) -> list[dict]:
    """One row per item of ``part``: items with an error are not sent to the model."""
    todo = [it for it in part if it[3] is None]
    # errors="return": a bad input (or a member failing on it) is its own error row
    results = iter(recognizer.analyze_batch([i for i, _, _, _ in todo], texts=[t for _, _, t, _ in todo],
                                            transcribe=transcribe, names=[i for i, _, _, _ in todo],
                                            errors="return") if todo else [])
    rows = []
    for source, utt_id, _, error in part:
        result = {"error": error} if error is not None else next(results)
        if "error" in result:
            rows.append(result_row(None, input_name=source, utt_id=utt_id, error=result["error"]))
        else:
            rows.append(result_row(result, input_name=source, utt_id=utt_id))
    return rows


def run(args: argparse.Namespace) -> int:
    """Predict, appending each chunk's rows to ``--out``; returns 1 when any input failed."""
    from emoens.recognizer import EmotionRecognizer, RecognizerError

    out = Path(args.out)
    fmt = _check_out(out)
    items = _items(args)
    with_utt_id = bool(args.manifest)
    cols = columns(with_utt_id)
    rows, items = _resume(out, fmt, cols, items, 1 if with_utt_id else 0) if args.resume else ([], items)
    _start(out, fmt, rows, cols)  # before the model runs: a bad --out fails here, in one line

    workers = max(1, int(getattr(args, "asr_workers", 1) or 1))
    recognizer = EmotionRecognizer.from_bundle(
        args.bundle, asr_options={"workers": workers, "batch_size": 4} if workers > 1 else None)
    transcribe = True if args.transcribe else False
    if args.transcribe and recognizer.asr_backend == "none":
        raise RecognizerError("--transcribe: the bundle has no ASR back-end (asr: none)")

    from tqdm.auto import tqdm

    chunk = max(1, int(args.chunk))
    written, failed = len(rows), 0
    bar = tqdm(total=len(items), unit="file", disable=args.quiet)
    for start in range(0, len(items), chunk):
        part_rows = _chunk_rows(recognizer, items[start:start + chunk], transcribe)
        _append(out, fmt, part_rows, cols)
        written += len(part_rows)
        failed += sum(r["status"] != "ok" for r in part_rows)
        bar.update(len(part_rows))
    bar.close()
    print(f"wrote {written} rows to {out}" + (f"; {failed} input(s) failed" if failed else ""))
    return 1 if failed else 0
