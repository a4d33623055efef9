"""Helpers shared by every benchmark in bench/: machine description and result files.

Each benchmark writes ``bench/results/NAME.json`` (machine-readable, with :func:`machine_info`)
and ``bench/results/NAME.md`` (a Markdown section); ``bench/report.py`` assembles the ``.md``
files into ``bench/README.md``.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
#: The real samples (never copied into the repository); ``EMOENS_SHARED_DATA`` overrides.
DATA = Path(os.environ.get("EMOENS_SHARED_DATA", REPO.parent / "shared" / "data"))
if str(REPO) not in sys.path:  # bench scripts run as `python bench/NAME.py`
    sys.path.insert(0, str(REPO))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return sorted(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
                              if f in flags)
    except OSError:
        pass
    return []


def machine_info() -> dict[str, Any]:
    """The machine a benchmark ran on: CPU, cores, RAM, library versions, load average, time."""
    try:
        import psutil

        ram_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        ram_gb = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    gpu = None
    if "torch" in sys.modules:  # never import torch just to describe the machine
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    return {
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "gpu": gpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "onnxruntime": _version("onnxruntime"),
        "load_average": load,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def machine_line(info: dict[str, Any]) -> str:
    """One Markdown line describing ``info`` (from :func:`machine_info`)."""
    parts = [f"{info['cpu']} ({info['cores']} cores"
             + (f", {', '.join(info['cpu_flags'])}" if info.get("cpu_flags") else "") + ")",
             f"{info['ram_gb']} GB RAM"]
    if info.get("gpu"):
        parts.append(info["gpu"])
    parts.append(f"Python {info['python']}")
    for lib in ("torch", "transformers", "onnxruntime"):
        if info.get(lib):
            parts.append(f"{lib} {info[lib]}")
    if info.get("load_average"):
        parts.append("load average " + " / ".join(f"{x:.2f}" for x in info["load_average"]))
    parts.append(info["date"])
    return "; ".join(parts)


def write_results(name: str, data: dict[str, Any], markdown: str, *,
                  command: str | None = None, machine: dict[str, Any] | None = None,
                  results_dir: Path | None = None) -> tuple[Path, Path]:
    """Write ``results/NAME.json`` (``data`` + machine + command) and ``results/NAME.md`` atomically.

    ``markdown`` is the body (tables); a heading, the command and the machine line are added
    so that ``bench/report.py`` can paste the file as is. Returns the two paths.
    """
    from emoens.files import write_json, write_text

    out = Path(results_dir) if results_dir else RESULTS_DIR
    machine = machine or machine_info()
    command = command or "python " + " ".join(
        [os.path.relpath(sys.argv[0], REPO) if sys.argv and sys.argv[0] else f"bench/{name}.py"]
        + sys.argv[1:])
    payload = {"benchmark": name, "command": command, "machine": machine, **data}
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    write_json(json_path, payload)
    text = (f"## {name}\n\nCommand: `{command}`\n\nMachine: {machine_line(machine)}\n\n"
            + markdown.strip() + "\n")
    write_text(md_path, text)
    return json_path, md_path


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    Reads ``VmHWM`` from /proc (reset at exec); ``ru_maxrss`` is only the fallback because on
    Linux it carries over the forking parent's peak into a subprocess.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (``VmRSS``; 0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak_rss() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS (Linux ``clear_refs`` 5), so that
    :func:`peak_rss_mb` reports the peak of what runs next; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linear interpolation."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def joined_clip(paths, seconds: float):
    """``(samples, reference)``: the 16-kHz clips at ``paths`` joined in that order and cut to
    ``seconds`` (float32), and their joined cleaned transcripts (the last one maybe in part).
    Exits with a message when the clips hold less audio than that."""
    import numpy as np
    import soundfile as sf

    from emoens.text import clean_transcript, read_transcript

    parts, refs, total, need = [], [], 0, int(seconds * 16000)
    for path in paths:
        samples, rate = sf.read(path, dtype="float32")
        if rate != 16000:
            raise SystemExit(f"{path}: {rate} Hz, expected 16000")
        parts.append(samples)
        refs.append(clean_transcript(read_transcript(Path(path).with_suffix(".txt"))))
        total += samples.size
        if total >= need:
            return np.concatenate(parts)[:need], " ".join(refs)
    raise SystemExit(f"only {total / 16000:.0f} s of audio in {len(paths)} clips")
