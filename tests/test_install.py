"""The package installs as one (issue 16): pinned requirements satisfy pyproject's ranges, and a
wheel installed into a fresh virtual environment outside the repository runs ``emoens predict`` and
the Python API on the embedded default bundle (package data, no checkout)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(_pins(path.parent / line[3:].strip()))
        elif line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            pins[_canonical(name)] = version.strip()
    return pins


def test_requirement_pins_satisfy_the_pyproject_ranges():
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [Requirement(r) for group in project["optional-dependencies"].values() for r in group]
    pins = _pins(REPO / "requirements-dev.txt")
    for req in declared:
        name = _canonical(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not pinned in requirements*.txt"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"{req.name}=={pins[name]} (requirements) is outside {req.specifier} (pyproject.toml)"
    assert set(pins) <= {_canonical(r.name) for r in declared}, \
        f"pinned but not in pyproject.toml: {sorted(set(pins) - {_canonical(r.name) for r in declared})}"
    runtime = {_canonical(Requirement(r).name) for r in project["dependencies"]}
    assert "torch" not in runtime and "gradio" not in runtime  # the runtime stays light


def _run(cmd: list[str], *, cwd: Path, env: dict, timeout: int = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n" \
                                 f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repository(tmp_path):
    if not (REPO / "emoens" / "assets" / "default" / "bundle.json").is_file():
        pytest.skip("no embedded default bundle to ship")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EMOENS_BUNDLE")}
    # 1. a wheel from a copy of the sources (the checkout gets no build/ or egg-info)
    src = tmp_path / "src"
    src.mkdir()
    shutil.copytree(REPO / "emoens", src / "emoens",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", str(wheels), str(src)], cwd=tmp_path, env=env)
    (wheel,) = wheels.glob("emoens-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("emoens/assets/default/bundle.json", "emoens/assets/default/speech/weights.npz",
                    "emoens/assets/stats/stats.json",
                    "emoens/assets/examples/synthetic_01_happy.flac"):
        assert shipped in names, f"{shipped} is not in the wheel"
    # 2. a fresh venv outside the repository; the dependencies come from this environment's
    #    site-packages through a .pth line (no network), the repository's editable emoens not
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path, env=env).strip())
    here = Path(next(p for p in sys.path if p.endswith("site-packages")))
    (site / "deps-from-the-test-environment.pth").write_text(f"{here}\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
          "--no-index", str(wheel)], cwd=tmp_path, env=env)
    # 3. run it from another folder
    work = tmp_path / "elsewhere"
    work.mkdir()
    clip = work / "clip.flac"
    shutil.copy2(REPO / "emoens" / "assets" / "examples" / "synthetic_03_sad.flac", clip)
    where = _run([str(python), "-c", "import emoens, emoens.settings as s; "
                  "print(emoens.__file__); print(s.default_bundle_dir())"], cwd=work, env=env)
    assert str(REPO) not in where and str(venv) in where, where
    predicted = subprocess.run([str(venv / "bin" / "emoens"), "predict", str(clip), "--text",
                                "너무 슬퍼요", "--out", "out.csv", "--quiet"], cwd=work, env=env,
                               capture_output=True, text=True, timeout=600)
    rows = (work / "out.csv").read_text(encoding="utf-8").splitlines() \
        if (work / "out.csv").is_file() else []
    # a failed input's reason is in its row's status column: show it
    assert predicted.returncode == 0 and len(rows) == 2 and ",ok," in rows[1], \
        (predicted.returncode, predicted.stderr[-2000:], rows)
    out = _run([str(python), "-c", "import json; from emoens import EmotionRecognizer; "
                "r = EmotionRecognizer.from_bundle().analyze('clip.flac', text='너무 슬퍼요'); "
                "print(json.dumps({k: r[k] for k in ('label', 'ensemble', 'transcript_source')}))"],
               cwd=work, env=env)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["transcript_source"] == "given" and sum(result["ensemble"].values()) == \
        pytest.approx(1.0)
    # the same numbers as the checkout's package
    from emoens import EmotionRecognizer

    here_result = EmotionRecognizer.from_bundle().analyze(str(clip), text="너무 슬퍼요")
    assert result["label"] == here_result["label"]
    assert result["ensemble"] == pytest.approx(here_result["ensemble"], abs=1e-9)
