"""Sharding ``emoens predict`` over machines: a deterministic split of the inputs, mergeable outputs.

``emoens predict ... --shard I/N`` keeps the inputs whose key (``utt_id`` with ``--manifest``, else
the input path as given) hashes to ``I`` (sha256 of the key, modulo ``N``; ``I`` from 0). The split
depends only on the keys, never on their order or on what else is listed, so N machines (or N
engine tasks) given the same manifest process disjoint sets that together cover every input.
Each shard writes its own ``--out``; :func:`merge_outputs` joins them into one file (same columns,
one row per key, an ``ok`` row preferred over an error row).

On an existing engine, :func:`dask_predict` runs the N shards as Dask tasks (one
``emoens predict --shard I/N`` process each) and merges the results::

    from emoens.shard import dask_predict
    dask_predict("manifest.csv", "results.csv", shards=8, extra=["--transcribe"])  # local
    # on a cluster: pass a distributed.Client's get as ``scheduler`` (dask.distributed)

Dask (``dask==2026.8.0``, requirements-dev.txt) is imported only by :func:`dask_predict`.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

from emoens.errors import EmoensError

T = TypeVar("T")


class ShardError(EmoensError):
    """A bad ``--shard`` spec, or shard outputs that cannot be merged."""


def parse_shard(spec: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(spec))
    if not match or int(match.group(2)) < 1 or int(match.group(1)) >= int(match.group(2)):
        raise ShardError(f"--shard {spec!r}: use I/N with 0 <= I < N (e.g. 0/4)")
    return int(match.group(1)), int(match.group(2))


def shard_of(key: str, shards: int) -> int:
    """The shard (0..shards-1) of one input key: sha256 of its UTF-8 text, modulo ``shards``."""
    digest = hashlib.sha256(str(key).encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def select(items: Iterable[T], spec: str | None, key: Callable[[T], str]) -> list[T]:
    """The items of shard ``spec`` (all of them when ``spec`` is None), in their order."""
    items = list(items)
    if spec is None:
        return items
    index, shards = parse_shard(spec)
    return [it for it in items if shard_of(key(it), shards) == index]


def _read(path: Path):
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_json(path, lines=True, dtype=False)
    except (OSError, ValueError) as exc:
        raise ShardError(f"cannot read the shard output {path}: {exc}") from exc


def merge_outputs(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> int:
    """Join shard outputs (CSV or JSON Lines, same columns) into ``out`` atomically; returns rows.

    One row per key (``utt_id`` when present, else ``input``): an ``ok`` row wins over an error.
    """
    import json

    import pandas as pd

    from emoens.files import write_csv, write_text

    out = Path(out)
    if out.suffix.lower() not in (".csv", ".jsonl"):
        raise ShardError(f"{out}: the merged file must be .csv or .jsonl")
    frames = [_read(Path(p)) for p in paths]
    if not frames:
        raise ShardError("no shard outputs to merge")
    cols = list(frames[0].columns)
    for path, frame in zip(paths, frames):
        if list(frame.columns) != cols:
            raise ShardError(f"{path} has other columns than {paths[0]}: not outputs of one run")
    if "status" not in cols or not {"utt_id", "input"} & set(cols):
        raise ShardError(f"{paths[0]} has no status and input (or utt_id) columns: not an output "
                         "of emoens predict")
    merged = pd.concat(frames, ignore_index=True)
    key = "utt_id" if "utt_id" in cols else "input"
    merged["_ok"] = merged["status"].astype(str) == "ok"
    merged = (merged.sort_values("_ok", ascending=False, kind="stable")
              .drop_duplicates(key, keep="first").sort_index().drop(columns="_ok"))
    if out.suffix.lower() == ".csv":
        write_csv(out, merged[cols])
    else:
        write_text(out, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                for r in merged[cols].to_dict("records")))
    return len(merged)


def dask_predict(manifest: str | os.PathLike, out: str | os.PathLike, *, shards: int,
                 extra: Sequence[str] = (), scheduler="threads", workdir=None) -> int:
    """Run ``emoens predict --manifest M --shard I/N`` for every shard as Dask tasks, then merge.

    ``scheduler``: any Dask scheduler (``"threads"``/``"processes"``/``"synchronous"`` locally, a
    ``distributed.Client.get`` on a cluster whose workers see the manifest and its audio).
    Returns the merged row count; a shard whose process fails raises :class:`ShardError`.
    """
    try:
        import dask
    except ImportError as exc:
        raise ShardError("dask_predict needs dask (pip install -r requirements-dev.txt)") from exc
    out = Path(out)
    workdir = Path(workdir) if workdir else out.parent / f".{out.stem}-shards"
    workdir.mkdir(parents=True, exist_ok=True)
    parts = [workdir / f"shard-{i:04d}-of-{shards:04d}{out.suffix}" for i in range(shards)]

    def one(i: int) -> str:
        cmd = [sys.executable, "-m", "emoens", "predict", "--manifest", str(manifest),
               "--shard", f"{i}/{shards}", "--out", str(parts[i]), "--quiet", *extra]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode not in (0, 1) or not parts[i].is_file():  # 1: some inputs failed
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ShardError(f"shard {i}/{shards} failed: {tail[0]}")
        return str(parts[i])

    paths = dask.compute(*[dask.delayed(one)(i) for i in range(shards)], scheduler=scheduler)
    return merge_outputs(list(paths), out)
