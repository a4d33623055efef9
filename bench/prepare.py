"""Benchmark of `emoens prepare` on the real samples (KEMDy20 Session01 + KEMDy19 Sessions 01-02).

Materialises the samples in their original WAV layout (../shared/data/materialize.py), runs
`emoens prepare` on them as a user would (a subprocess of the console script), with and without
the silence check, and measures segments per second and the disk the outputs take; extrapolates to
the full KEMDy20 (13,462 segments). Writes bench/results/prepare.json and prepare.md.

    .venv/bin/python bench/prepare.py [--repeats 3] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, write_results  # noqa: E402  (bench/common.py sets sys.path)

FULL_KEMDY20_SEGMENTS = 13462


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _run_prepare(materialized: Path, out: Path, extra: list[str]) -> tuple[float, dict]:
    emoens = Path(sys.executable).with_name("emoens")
    cmd = [str(emoens), "prepare", "--kemdy20", str(materialized / "KEMDy20"),
           "--kemdy19", str(materialized / "KEMDy19"), "--quiet", "--out", str(out), *extra]
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - started
    report = json.loads((out / "prepare_report.json").read_text(encoding="utf-8"))
    return wall, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "materialize.py").is_file():
        print(f"real sample data not found at {data}", file=sys.stderr)
        return 1
    materialized = Path(os.environ.get("EMOENS_MATERIALIZED", REPO / ".cache" / "materialized"))
    subprocess.run([sys.executable, str(data / "materialize.py"), str(materialized)], check=True,
                   capture_output=True)
    corpus_bytes = _folder_bytes(materialized / "KEMDy20") + _folder_bytes(materialized / "KEMDy19")

    variants = {"default (headers + silence check)": [],
                "--no-silence-check (headers only)": ["--no-silence-check"]}
    results = {}
    with tempfile.TemporaryDirectory(prefix="emoens-bench-prepare-") as tmp:
        for name, extra in variants.items():
            _run_prepare(materialized, Path(tmp) / "warmup", extra)  # page cache and imports warm
            walls, inner = [], []
            for i in range(args.repeats):
                wall, report = _run_prepare(materialized, Path(tmp) / f"run{i}", extra)
                walls.append(wall)
                inner.append(report["seconds"])
            out = Path(tmp) / f"run{args.repeats - 1}"
            segments = report["rows"] + report["skipped"]["total"]
            out_bytes = _folder_bytes(out)
            wall_med, inner_med = statistics.median(walls), statistics.median(inner)
            results[name] = {
                "segments": segments, "rows": report["rows"], "skipped": report["skipped"]["total"],
                "wall_seconds_median": round(wall_med, 3), "wall_seconds_all": [round(w, 3) for w in walls],
                "prepare_seconds_median": round(inner_med, 3),
                "segments_per_second": round(segments / inner_med, 1),
                "segments_per_second_wall": round(segments / wall_med, 1),
                "output_bytes": out_bytes,
                "output_bytes_per_segment": round(out_bytes / segments, 1),
                "full_kemdy20_seconds_estimate": round(FULL_KEMDY20_SEGMENTS / (segments / inner_med), 1),
                "full_kemdy20_output_mb_estimate": round(out_bytes / segments * FULL_KEMDY20_SEGMENTS / 2**20, 2),
            }
    data_out = {"corpus_bytes": corpus_bytes, "full_kemdy20_segments": FULL_KEMDY20_SEGMENTS,
                "repeats": args.repeats, "variants": results,
                "note": "warm page cache; wall time includes starting Python and importing pandas"}
    lines = [
        "`emoens prepare` on the real samples (KEMDy20 Session01 + KEMDy19 Sessions 01-02, "
        f"original WAV layout, {corpus_bytes / 2**20:.0f} MiB of audio and text). No audio is copied: "
        "the extra disk is the three output files. Median of "
        f"{args.repeats} runs after a warm-up (warm page cache).",
        "",
        "| variant | segments | seconds (prepare) | seconds (wall, incl. start-up) | segments/s | "
        "extra disk | full KEMDy20 (13,462 segments): time, extra disk |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['segments']} | {r['prepare_seconds_median']:.2f} | {r['wall_seconds_median']:.2f} "
            f"| {r['segments_per_second']:.0f} | {r['output_bytes'] / 2**20:.2f} MiB "
            f"({r['output_bytes_per_segment']:.0f} B/segment) | ~{r['full_kemdy20_seconds_estimate']:.0f} s, "
            f"~{r['full_kemdy20_output_mb_estimate']:.1f} MiB |")
    write_results("prepare", data_out, "\n".join(lines), command="python bench/prepare.py")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
