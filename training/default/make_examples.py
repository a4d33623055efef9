"""Synthesise the example clips in emoens/assets/examples/ with espeak-ng (Korean voice).

The clips are SYNTHETIC: espeak-ng reads sentences written for this project; the intended emotion
is that of the words only (the synthetic voice carries no emotion). Run from the repository root:

    python training/default/make_examples.py [--out emoens/assets/examples]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from emoens.files import write_bytes, write_json

EXAMPLES = [
    ("happy", "오늘 정말 기분이 좋아요. 친구들이랑 같이 놀러 가기로 했어요!"),
    ("angry", "왜 약속을 또 어긴 거야? 정말 화가 나서 참을 수가 없어."),
    ("sad", "할머니가 너무 보고 싶어서 눈물이 나요. 정말 슬퍼요."),
    ("neutral", "내일 회의는 오후 세 시에 삼 층 회의실에서 합니다."),
    ("surprise", "정말이야? 네가 일등을 했다고? 깜짝 놀랐어!"),
    ("fear", "밖에서 이상한 소리가 들려. 너무 무서워서 문을 못 열겠어."),
]


def synthesise(text: str) -> tuple[np.ndarray, int]:
    """espeak-ng -v ko -> float32 samples at 16 kHz."""
    wav = subprocess.run(["espeak-ng", "-v", "ko", "-s", "150", "--stdout", text],
                         check=True, capture_output=True).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return soxr.resample(samples, rate, 16000).astype(np.float32), 16000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="emoens/assets/examples")
    args = parser.parse_args(argv)
    out = Path(args.out)
    index = []
    for i, (label, text) in enumerate(EXAMPLES, 1):
        samples, rate = synthesise(text)
        buffer = io.BytesIO()
        sf.write(buffer, samples, rate, format="FLAC", subtype="PCM_16")
        name = f"synthetic_{i:02d}_{label}.flac"
        write_bytes(out / name, buffer.getvalue())
        write_bytes(out / f"synthetic_{i:02d}_{label}.txt", (text + "\n").encode("utf-8"))
        index.append({"audio": name, "transcript": text, "intended_emotion": label,
                      "duration": round(len(samples) / rate, 3), "synthetic": True})
    write_json(out / "examples.json", {
        "note": "SYNTHETIC speech: espeak-ng (Korean voice) reading sentences written for emoens. "
                "intended_emotion is that of the words; the synthetic voice carries no emotion.",
        "generator": "training/default/make_examples.py (espeak-ng -v ko -s 150)",
        "examples": index})
    print(f"{len(index)} examples written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
