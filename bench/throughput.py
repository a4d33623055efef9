"""``emoens predict --transcribe`` over real clips: clips/s on 1 and 2 cores, vs today's one-by-one.

    python bench/throughput.py [--clips 500] [--today-clips 60] [--clips-1-core N]

Inputs: ``--clips`` evenly spaced KEMDy20/KEMDy19 clips from ../shared/data (FLAC, as stored).
Each configuration is one ``python -m emoens predict --transcribe`` process pinned with
``taskset`` to 1 or 2 cores (``EMOENS_THREADS`` set to match), writing a CSV into a temporary
folder; the time is the process's wall time minus its start-up (a run of the same configuration
on the shortest clip: imports, model loading, one short request); ``clips/s (wall)`` keeps it in:

- ``today``: the bundle with today's ASR (``emoens.asr.BASELINE``: beam 5, temperature fallback,
  30-s windows), which transcribes clip after clip, as ``emoens predict`` did before issue 18;
  run on the first ``--today-clips`` of the inputs (it is ~10x slower; clips/s is what is compared);
- ``default``: the embedded bundle as shipped (batched windows across clips, fast decoder);
- ``default, 2 decoding workers``: the same with ``asr.workers = 2``, ``asr.batch_size = 4`` (two
  CTranslate2 workers of one thread each decode the batches of a chunk in parallel), on 2 cores.

Writes ``bench/results/throughput.{json,md}`` (no transcript is written).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, machine_info, write_results  # noqa: E402

DATA = Path(os.environ.get("EMOENS_SHARED_DATA", REPO.parent / "shared" / "data"))


def inputs(n: int) -> list[str]:
    paths = sorted(DATA.glob("KEMDy20/wav/**/*.flac")) + sorted(DATA.glob("KEMDy19/wav/**/*.flac"))
    if not paths:
        raise SystemExit(f"no sample data under {DATA}")
    step = max(1, len(paths) / n)
    return [str(paths[int(i * step)]) for i in range(min(n, len(paths)))]


def bundle_with_asr(root: Path, asr: dict) -> Path:
    """A copy of the embedded default bundle whose ``asr`` section is ``asr``."""
    from emoens.recognizer import default_bundle_path

    dest = root / f"bundle-{len(list(root.glob('bundle-*')))}"
    shutil.copytree(default_bundle_path(), dest)
    meta = json.loads((dest / "bundle.json").read_text(encoding="utf-8"))
    meta["asr"] = asr
    (dest / "bundle.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return dest


def predict_seconds(files: list[str], bundle: Path | None, cores: int, out: Path) -> float:
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:cores])
    env = dict(os.environ, EMOENS_THREADS=str(cores))
    cmd = ["taskset", "-c", cpus, sys.executable, "-m", "emoens", "predict", "--transcribe",
           "--quiet", "--out", str(out), *(["--bundle", str(bundle)] if bundle else []), *files]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def shortest(files: list[str]) -> str:
    import soundfile as sf

    return min(files, key=lambda f: sf.info(f).frames)


def measure(files, bundle, cores, tmp: Path, name: str) -> dict:
    """clips/s of one predict process, its start-up (a run on the shortest clip) subtracted."""
    startup = predict_seconds([shortest(files)], bundle, cores, tmp / f"{name}-warm.csv")
    wall = predict_seconds(files, bundle, cores, tmp / f"{name}.csv")
    import pandas as pd

    frame = pd.read_csv(tmp / f"{name}.csv", dtype=str, keep_default_na=False)
    seconds = max(wall - startup, 1e-6)
    return {"config": name, "cores": cores, "clips": len(files), "wall_s": round(wall, 1),
            "startup_s": round(startup, 1), "clips_per_s": round(len(files) / seconds, 3),
            "clips_per_s_wall": round(len(files) / wall, 3),
            "ok": int((frame["status"] == "ok").sum()),
            "with_transcript": int((frame["transcript"] != "").sum())}


def main(argv=None) -> int:
    from emoens.asr import BASELINE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=500)
    parser.add_argument("--today-clips", type=int, default=60)
    parser.add_argument("--clips-1-core", type=int, default=None,
                        help="inputs for the 1-core default run (default: --clips)")
    args = parser.parse_args(argv)
    files = inputs(args.clips)
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = []
    with tempfile.TemporaryDirectory(prefix="emoens-throughput-") as tmp:
        tmp = Path(tmp)
        today = bundle_with_asr(tmp, {"backend": "faster-whisper", **BASELINE})
        workers = bundle_with_asr(tmp, {"backend": "faster-whisper", "workers": 2, "batch_size": 4})
        one_core = files[:args.clips_1_core] if args.clips_1_core else files
        for cores in (1, 2):
            runs.append(measure(files[:args.today_clips], today, cores, tmp, f"today-{cores}"))
            runs.append(measure(one_core if cores == 1 else files, None, cores, tmp,
                                f"default-{cores}"))
        runs.append(measure(files, workers, 2, tmp, "default-2-workers"))
    by = {r["config"]: r for r in runs}
    speedup = {c: round(by[f"default-{c}"]["clips_per_s"] / by[f"today-{c}"]["clips_per_s"], 2)
               for c in (1, 2)}
    speedup["2-workers"] = round(by["default-2-workers"]["clips_per_s"]
                                 / by["today-2"]["clips_per_s"], 2)
    data = {"runs": runs, "speedup_vs_today": speedup, "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "targets": {"speedup_2_cores": 2.0}}
    md = [f"`emoens predict --transcribe` over {len(files)} evenly spaced real KEMDy clips "
          f"(today's path on the first {min(args.today_clips, len(files))}, the 1-core default run "
          f"on the first {len(one_core)}); clips/s after "
          f"start-up, one process per row pinned with taskset. Load average before / after: "
          f"{load_before} / {data['load_average_after']}.", "",
          "| configuration | cores | clips | wall s | start-up s | clips/s | clips/s (wall) | ok | "
          "with transcript |", "|---|---|---|---|---|---|---|---|---|"]
    names = {"today": "today (one by one, beam 5 + fallback)", "default": "default (batched)"}
    for r in runs:
        label = ("default, 2 decoding workers" if r["config"].endswith("workers")
                 else names[r["config"].split("-")[0]])
        md.append(f"| {label} | {r['cores']} | {r['clips']} | {r['wall_s']} | {r['startup_s']} | "
                  f"{r['clips_per_s']} | {r['clips_per_s_wall']} | {r['ok']} | {r['with_transcript']} |")
    md += ["", f"**Speed-up vs today: {speedup[1]}× on 1 core, {speedup[2]}× on 2 cores, "
           f"{speedup['2-workers']}× on 2 cores with 2 decoding workers** (target ≥ 2× on 2 cores)."]
    write_results("throughput", data, "\n".join(md), machine=machine_info())
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
