"""Per-request latency, memory and cold start: naive transformers pipelines vs emoens' fast path.

One request = a 5-s clip through the speech model + a 64-token transcript through the text model.

- naive: two ``transformers`` pipelines (``audio-classification``, ``text-classification``), fp32;
- fast: emoens' ONNX members (``emoens export --quantize int8``) run by ONNX Runtime, no torch.

Both use the same architectures with random weights built from configs (nothing downloaded):
wav2vec2-base-sized speech + KoBERT-sized text (BERT-base, vocab 8002), and the XLSR-large-sized
speech model. Models and their exports are cached in ``.cache/bench/`` (git-ignored).

    python bench/latency.py            # full run, writes bench/results/latency.{json,md}
    python bench/latency.py --quick    # smoke test with small models (writes to .cache/bench/)

The last line printed is ``speedup_vs_naive=X.XX`` (median naive / median fast, base models).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, REPO, machine_info, peak_rss_mb, percentile, write_results  # noqa: E402

import numpy as np  # noqa: E402

CACHE = REPO / ".cache" / "bench"
SR = 16000
TOKENS = 64
CLIP_SECONDS = 5.0
TARGETS = {"speedup": 2.5, "speedup_goal": 3.0, "peak_rss_mb": 512, "cold_start_s": 2.0}

# Architectures (random weights). base = facebook/wav2vec2-base, large = wav2vec2-large-xlsr-53
# (kresnik/wav2vec2-large-xlsr-korean), text = skt/kobert-base-v1 (BERT-base, 8002 tokens).
SPEECH_ARCHS = {
    "base": {"model_type": "wav2vec2"},
    "large": {"model_type": "wav2vec2", "hidden_size": 1024, "num_hidden_layers": 24,
              "num_attention_heads": 16, "intermediate_size": 4096, "feat_extract_norm": "layer",
              "do_stable_layer_norm": True, "conv_bias": True},
    "tiny": {"model_type": "wav2vec2", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 128, "conv_dim": [64] * 7, "classifier_proj_size": 32},
}
TEXT_ARCHS = {
    "kobert": {"model_type": "bert", "vocab_size": 8002},
    "tiny": {"model_type": "bert", "vocab_size": 8002, "hidden_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 2, "intermediate_size": 128},
}
FALLBACK_SENTENCES = [
    "오늘 날씨가 정말 좋아서 기분이 좋아요", "왜 이렇게 화가 나는지 모르겠어", "너무 슬퍼서 눈물이 나요",
    "깜짝 놀랐잖아 갑자기 나타나서", "그냥 평범한 하루였어요", "무서워서 잠을 한숨도 못 잤어",
    "친구랑 같이 밥을 먹으러 갔어요", "내일은 회의가 있어서 일찍 가야 해", "선물을 받아서 너무 행복해요",
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _stamp(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _real_transcripts() -> list[str]:
    """Transcripts of the real KEMDy20 samples (only to train the benchmark's tokenizer)."""
    root = DATA / "KEMDy20"
    if not root.is_dir():
        return []
    from emoens.text import clean_transcript, read_transcript

    texts = []
    for path in sorted(root.rglob("*.txt")):
        try:
            texts.append(clean_transcript(read_transcript(path)))
        except Exception:  # an unreadable transcript only shrinks the training text
            continue
    return [t for t in texts if t]


def ensure_tokenizer() -> Path:
    """A KoBERT-style SentencePiece tokenizer directory (cached)."""
    out = CACHE / "hf" / "kobert-tokenizer"
    if (out / "tokenizer_config.json").is_file():
        return out
    from emoens.models.kobert import KoBERTTokenizer, train_sentencepiece

    texts = _real_transcripts() or FALLBACK_SENTENCES * 20
    raw = CACHE / "hf" / "kobert-spm"
    train_sentencepiece(texts, raw, vocab_size=2000)
    KoBERTTokenizer.from_directory(raw).save_pretrained(str(out))
    return out


def ensure_hf(kind: str, arch: str) -> Path:
    """A random-weight transformers model directory for ``kind`` (speech/text) and ``arch``."""
    config = SPEECH_ARCHS[arch] if kind == "speech" else TEXT_ARCHS[arch]
    out = CACHE / "hf" / f"{kind}-{arch}"
    stamp = _stamp({"kind": kind, "config": config, "v": 1})
    if (out / "STAMP").is_file() and (out / "STAMP").read_text() == stamp:
        return out
    import shutil

    import torch

    from emoens.files import write_text

    log(f"building random-weight {kind} model {arch} in {out}")
    torch.manual_seed(0)
    shutil.rmtree(out, ignore_errors=True)
    if kind == "speech":
        from emoens.models.speech import build_speech_model

        model, extractor = build_speech_model(None, model_config=dict(config))
        model.save_pretrained(str(out))
        extractor.save_pretrained(str(out))
    else:
        from emoens.models.text import build_text_model

        model, tok = build_text_model(None, model_config=dict(config), tokenizer=ensure_tokenizer())
        model.config.emoens_max_length = TOKENS
        model.save_pretrained(str(out))
        tok.save_pretrained(str(out))
    write_text(out / "STAMP", stamp)
    return out


def ensure_bundle(speech_arch: str, text_arch: str) -> tuple[Path, Path]:
    """An hf bundle of the two models and its ``emoens export --quantize int8`` (both cached)."""
    from emoens.bundle import MemberSpec, build_bundle
    from emoens.onnx.export import export_bundle
    from emoens.files import write_text

    speech, text = ensure_hf("speech", speech_arch), ensure_hf("text", text_arch)
    name = f"{speech_arch}-{text_arch}"
    hf, fast = CACHE / "bundles" / f"hf-{name}", CACHE / "bundles" / f"onnx-int8-{name}"
    stamp = _stamp({"speech": (speech / "STAMP").read_text(), "text": (text / "STAMP").read_text(),
                    "export": 11})  # bump when emoens.onnx changes what it writes
    if (fast / "STAMP").is_file() and (fast / "STAMP").read_text() == stamp:
        return hf, fast
    log(f"building bundle {hf} and exporting it to {fast}")
    build_bundle(hf, [(MemberSpec("speech", "hf-speech", "speech", "speech", 0.5), speech),
                      (MemberSpec("text", "hf-text", "text", "text", 0.5), text)],
                 name=f"bench-{name}", asr={"backend": "none"}, overwrite=True)
    export_bundle(hf, fast, quantize="int8", overwrite=True, log=log)
    write_text(fast / "STAMP", stamp)
    return hf, fast


def make_clip(seconds: float, seed: int = 0) -> np.ndarray:
    """A deterministic speech-like test signal (cost depends only on its length)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    wave = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (wave + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def make_transcripts(n: int, tokenizer_dir: Path) -> list[str]:
    """``n`` distinct transcripts of at least 64 tokens (so each request tokenises anew)."""
    from emoens.onnx.runtime import SentencePieceEncoder

    words = " ".join(_real_transcripts()[:400] or FALLBACK_SENTENCES).split()
    enc = SentencePieceEncoder(tokenizer_dir, {"spm_file": "spiece.model"})
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        picked: list[str] = []
        while len(enc.encode(" ".join(picked), 10_000)) < TOKENS:
            picked.append(words[int(rng.integers(len(words)))])
        out.append(" ".join(picked))
    return out


# ------------------------------------------------------------------------------ the two paths


class Naive:
    """Two plain transformers pipelines, fp32 (what a first version would do)."""

    name = "naive"

    def __init__(self, speech_dir: Path, text_dir: Path):
        from transformers import pipeline

        import emoens.models.kobert  # noqa: F401  (registers KoBERTTokenizer with AutoTokenizer)

        self.speech = pipeline("audio-classification", model=str(speech_dir), device="cpu")
        self.text = pipeline("text-classification", model=str(text_dir), device="cpu")

    def speech_only(self, wave: np.ndarray):
        return self.speech({"raw": wave, "sampling_rate": SR}, top_k=None)

    def __call__(self, wave: np.ndarray, text: str):
        s = self.speech_only(wave)
        t = self.text(text, top_k=None, truncation=True, max_length=TOKENS)
        return s, t


class Fast:
    """emoens' product path: ``EmotionRecognizer`` on the exported int8 ONNX bundle (no torch),
    loaded once; one ``analyze`` per request (fusion and result dict included)."""

    name = "fast"

    def __init__(self, bundle: Path):
        from emoens.onnx.export import onnxruntime_available, torch_int8_member
        from emoens.recognizer import EmotionRecognizer

        if onnxruntime_available():
            self.recognizer = EmotionRecognizer.from_bundle(bundle, asr="none")
        else:  # the fallback: the hf bundle with torch.ao dynamic int8
            log("onnxruntime is not installed: fast path = hf bundle + torch.ao dynamic int8")
            hf = bundle.parent / bundle.name.replace("onnx-int8-", "hf-")
            self.recognizer = EmotionRecognizer.from_bundle(hf, asr="none")
            for member in self.recognizer.members.values():
                torch_int8_member(member)
        self.speech = self.recognizer.members["speech"]

    def speech_only(self, wave: np.ndarray):
        return self.speech.predict_proba([wave])

    def __call__(self, wave: np.ndarray, text: str):
        return self.recognizer.analyze((SR, wave), text=text, transcribe=False)


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def stats_ms(seconds: list[float]) -> dict:
    ms = [1000 * s for s in seconds]
    return {"median_ms": round(percentile(ms, 50), 1), "p90_ms": round(percentile(ms, 90), 1),
            "mean_ms": round(float(np.mean(ms)), 1), "n": len(ms)}


def alternate(paths: list, make_args, requests: int, warmup: int, label: str) -> dict:
    """Run the paths alternately (the order flips every request) and collect per-request times."""
    times: dict[str, list[float]] = {p.name: [] for p in paths}
    for i in range(warmup):
        for p in paths:
            p(*make_args(i))
    for i in range(requests):
        order = paths if i % 2 == 0 else paths[::-1]
        for p in order:
            times[p.name].append(timed(p, *make_args(warmup + i)))
    out = {name: stats_ms(ts) for name, ts in times.items()}
    log(f"{label}: " + ", ".join(f"{k} median {v['median_ms']} ms p90 {v['p90_ms']} ms"
                                  for k, v in out.items()))
    return out


# ------------------------------------------------------------------------------ child process


def child(args) -> int:
    """Cold start and peak memory of one path, in a fresh process (``--child PATH``)."""
    spawn = args.spawn_time
    paths = json.loads(args.paths)
    wave = make_clip(CLIP_SECONDS)
    text = args.text
    if args.child == "naive":
        runner = Naive(Path(paths["speech_hf"]), Path(paths["text_hf"]))
    else:
        runner = Fast(Path(paths["bundle_onnx"]))
    loaded = time.time() - spawn
    runner(wave, text)
    first = time.time() - spawn
    times = [timed(runner, make_clip(CLIP_SECONDS, seed=i + 1), text) for i in range(args.child_requests)]
    print(json.dumps({"load_s": round(loaded, 3), "first_result_s": round(first, 3),
                      "median_ms": round(1000 * float(np.median(times)), 1),
                      "peak_rss_mb": round(peak_rss_mb(), 1),
                      "torch_imported": "torch" in sys.modules}))
    return 0


def run_child(which: str, paths: dict, text: str, requests: int, runs: int,
              env: dict | None = None) -> dict:
    """Start ``runs`` fresh processes for path ``which``; medians of cold start, peak RSS and
    per-request latency (``requests`` after the first)."""
    results = []
    for _ in range(runs):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", which,
               "--paths", json.dumps({k: str(v) for k, v in paths.items()}), "--text", text,
               "--child-requests", str(requests), "--spawn-time", repr(time.time())]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900,
                              env={**os.environ, **(env or {})})
        if proc.returncode != 0:
            raise RuntimeError(f"child {which} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out = {k: round(float(np.median([r[k] for r in results])), 3)
           for k in ("load_s", "first_result_s", "peak_rss_mb", "median_ms")}
    out["torch_imported"] = any(r["torch_imported"] for r in results)
    out["runs"] = results
    log(f"{which} process: cold start {out['first_result_s']} s, peak RSS {out['peak_rss_mb']} MB")
    return out


# ------------------------------------------------------------------------------ accuracy guard


def accuracy_guard(speech_hf: Path, text_hf: Path, speech_onnx: Path, text_onnx: Path, n: int) -> dict:
    """int8 ONNX vs fp32 torch members on real KEMDy20 clips: largest probability difference and
    label agreement (speech, text, their 50/50 soft vote)."""
    mat = REPO / ".cache" / "materialized"
    data = DATA
    if not (mat / "KEMDy20").is_dir():
        if not (data / "materialize.py").is_file():
            return {"skipped": "no real samples (../shared/data absent)"}
        subprocess.run([sys.executable, str(data / "materialize.py"), str(mat)], check=True,
                       capture_output=True)
    from emoens.audio import load_audio
    from emoens.models import load_member
    from emoens.text import clean_transcript, read_transcript

    wavs = sorted((mat / "KEMDy20").rglob("*.wav"))[:n]
    waves, texts = [], []
    for wav in wavs:
        waves.append(load_audio(wav, max_seconds=None))
        txt = wav.with_suffix(".txt")
        texts.append(clean_transcript(read_transcript(txt)) if txt.is_file() else "")
    ref_s = load_member("hf-speech", speech_hf, batch_size=1).predict_proba(waves)
    ref_t = load_member("hf-text", text_hf).predict_proba(texts)
    got_s = load_member("onnx-speech", speech_onnx).predict_proba(waves)
    got_t = load_member("onnx-text", text_onnx).predict_proba(texts)
    ref_e, got_e = 0.5 * (ref_s + ref_t), 0.5 * (got_s + got_t)
    out = {"clips": len(wavs), "audio_seconds": round(sum(w.size for w in waves) / SR, 1)}
    for name, ref, got in (("speech", ref_s, got_s), ("text", ref_t, got_t), ("ensemble", ref_e, got_e)):
        out[name] = {"max_abs_prob_diff": round(float(np.abs(ref - got).max()), 5),
                     "label_agreement": round(float((ref.argmax(1) == got.argmax(1)).mean()), 4),
                     # how far apart the top two classes are in fp32: random heads are near-uniform
                     "median_top2_margin": round(float(np.median(np.diff(np.sort(ref, 1)[:, -2:], axis=1))), 5)}
    log(f"accuracy guard on {len(wavs)} clips: " + json.dumps({k: out[k] for k in ('speech', 'text', 'ensemble')}))
    return out


# ------------------------------------------------------------------------------ main


def markdown(res: dict) -> str:
    b = res["base"]
    lines = [
        f"One request = {CLIP_SECONDS:.0f}-s clip (speech) + {TOKENS}-token transcript (text), in one "
        "process, naive and fast alternating; models have random weights built from configs "
        f"({res['models']}). Load average before/after: {res['load_before']} / {res['load_after']}.",
        "",
        f"| path ({res['size']}) | median ms | p90 ms | requests | median ms, own process | "
        "cold start s | peak RSS MB | imports torch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, title in (("naive", "naive: 2 transformers pipelines, fp32"),
                        ("naive_passive", "naive, OMP_WAIT_POLICY=PASSIVE (own process only)"),
                        ("fast", "emoens fast path: EmotionRecognizer on the int8 ONNX bundle")):
        lat, proc = b["latency"].get(name, {}), b["process"].get(name, {})
        lines.append(f"| {title} | {lat.get('median_ms', '–')} | {lat.get('p90_ms', '–')} | "
                     f"{lat.get('n', '–')} | {proc.get('median_ms', '–')} | "
                     f"{proc.get('first_result_s', '–')} | {proc.get('peak_rss_mb', '–')} | "
                     f"{proc.get('torch_imported', '–')} |")
    if "export" in res:  # what `emoens export` did to the members (from their onnx_member.json)
        lines += ["", "Fast path as exported: " + "; ".join(
            f"{m}: " + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in meta.items())
            for m, meta in res["export"].items()) + "."]
    t = res["targets"]
    cores = os.cpu_count() or 1
    if res["load_before"][0] > 0.5 * cores:
        lines += ["", f"⚠ The machine was busy during this run (load average {res['load_before'][0]} on "
                  f"{cores} cores): the naive path's OpenMP threads suffer more from sharing the cores "
                  "than ONNX Runtime's pool (which stops spinning when a run returns), so the ratio below "
                  "may overstate the speed-up "
                  "on a quiet machine."]
    lines += ["", f"**Speed-up (median): {b['speedup']:.2f}×** (target ≥ {t['speedup']}×, goal "
              f"{t['speedup_goal']}×); in separate processes {b['speedup_own_process']:.2f}×, and "
              f"{b['speedup_vs_passive']:.2f}× against the passive-waiting baseline; fast path peak RSS {b['process'].get('fast', {}).get('peak_rss_mb', '–')} MB "
              f"(target ≤ {t['peak_rss_mb']} MB); cold start {b['process'].get('fast', {}).get('first_result_s', '–')} s "
              f"(target ≤ {t['cold_start_s']} s).", ""]
    if "large" in res:
        lg = res["large"]
        lines += ["| path (XLSR-large-sized speech + KoBERT-sized text) | median ms | p90 ms | requests | cold start s | peak RSS MB |",
                  "|---|---|---|---|---|---|"]
        for name in ("naive", "fast"):
            lat, proc = lg["latency"][name], lg["process"].get(name, {})
            lines.append(f"| {name} | {lat['median_ms']} | {lat['p90_ms']} | {lat['n']} | "
                         f"{proc.get('first_result_s', '–')} | {proc.get('peak_rss_mb', '–')} |")
        lines += ["", f"Speed-up (large): {lg['speedup']:.2f}×.", ""]
    if "lengths" in res:
        lines += [f"Speech model alone ({res['size']}) against audio length:", "",
                  "| audio s | naive median ms | fast median ms | speed-up |", "|---|---|---|---|"]
        for row in res["lengths"]:
            lines.append(f"| {row['seconds']} | {row['naive']['median_ms']} | {row['fast']['median_ms']} | "
                         f"{row['speedup']:.2f}× |")
        lines.append("")
    acc = res.get("accuracy")
    if acc and "skipped" not in acc:
        lines += [f"Accuracy guard: int8 ONNX vs fp32 torch on {acc['clips']} real KEMDy20 clips "
                  f"({acc['audio_seconds']} s of audio), {res['size']}, random weights:", "",
                  "| output | largest probability difference | label agreement | median fp32 top-2 margin |",
                  "|---|---|---|---|"]
        for name in ("speech", "text", "ensemble"):
            a = acc[name]
            lines.append(f"| {name} | {a['max_abs_prob_diff']} | {100 * a['label_agreement']:.1f} % | "
                         f"{a['median_top2_margin']} |")
        lines += ["", "Random-weight heads give near-uniform probabilities (small top-2 margins), so "
                  "label agreement here is a pessimistic bound; trained models have larger margins."]
    elif acc:
        lines.append(f"Accuracy guard skipped: {acc['skipped']}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke test: small models, few requests")
    parser.add_argument("--requests", type=int, default=None, help="timed requests per path (default 40)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed requests first (default 3)")
    parser.add_argument("--no-large", action="store_true", help="skip the XLSR-large-sized model")
    parser.add_argument("--accuracy-clips", type=int, default=None, help="real clips for the guard (default 60)")
    parser.add_argument("--child", choices=["naive", "fast"], help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    parser.add_argument("--text", help=argparse.SUPPRESS)
    parser.add_argument("--child-requests", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--spawn-time", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    quick = args.quick
    requests = args.requests or (5 if quick else 40)
    warmup = args.warmup if args.warmup is not None else (1 if quick else 3)
    speech_arch, text_arch = ("tiny", "tiny") if quick else ("base", "kobert")
    load_before = [round(x, 2) for x in os.getloadavg()]
    machine = machine_info()

    _, bundle = ensure_bundle(speech_arch, text_arch)
    paths = {"speech_hf": ensure_hf("speech", speech_arch), "text_hf": ensure_hf("text", text_arch),
             "bundle_onnx": bundle, "speech_onnx": bundle / "speech", "text_onnx": bundle / "text"}
    tok_dir = paths["text_onnx"]
    transcripts = make_transcripts(max(requests, 10) + warmup + 8, tok_dir)
    clips = [make_clip(CLIP_SECONDS, seed=i) for i in range(8)]

    def request_args(i):
        return clips[i % len(clips)], transcripts[i % len(transcripts)]

    res: dict = {"quick": quick, "targets": TARGETS, "load_before": load_before,
                 "models": f"speech {speech_arch}, text {text_arch}" + ("" if quick else
                           " = wav2vec2-base and BERT-base with vocab 8002"),
                 "size": "tiny models (smoke test)" if quick else "base-sized models",
                 "request": {"clip_seconds": CLIP_SECONDS, "tokens": TOKENS},
                 "export": {m: {k: v for k, v in json.loads((bundle / m / "onnx_member.json").read_text()).items()
                                if k in ("quantize", "conv_as_matmul", "spectral_positional_conv", "fused_operators")}
                            for m in ("speech", "text")}}
    naive = Naive(paths["speech_hf"], paths["text_hf"])
    fast = Fast(paths["bundle_onnx"])
    latency = alternate([naive, fast], request_args, requests, warmup, "base request")
    res["base"] = {"latency": latency,
                   "speedup": latency["naive"]["median_ms"] / latency["fast"]["median_ms"]}

    lengths = [1, 5] if quick else [1, 5, 20, 60]
    res["lengths"] = []
    for seconds in lengths:
        long_clips = [make_clip(seconds, seed=s) for s in range(2)]
        reps = 2 if quick else (5 if seconds < 60 else 3)
        lat = alternate([_SpeechOnly(naive), _SpeechOnly(fast)], lambda i: (long_clips[i % 2],),
                        reps, 1, f"speech {seconds} s")
        res["lengths"].append({"seconds": seconds, **lat,
                               "speedup": lat["naive"]["median_ms"] / lat["fast"]["median_ms"]})
    del naive, fast

    child_runs = 1 if quick else 3
    child_requests = 2 if quick else 10
    res["base"]["process"] = {name: run_child(name, paths, transcripts[0], child_requests, child_runs)
                              for name in ("naive", "fast")}
    # torch's OpenMP threads spin while waiting; on shared cores that costs it dearly, so the
    # baseline is also measured with passive waiting (a conservative comparison)
    res["base"]["process"]["naive_passive"] = run_child("naive", paths, transcripts[0], child_requests,
                                                        child_runs, env={"OMP_WAIT_POLICY": "PASSIVE"})
    procs = res["base"]["process"]
    res["base"]["speedup_own_process"] = procs["naive"]["median_ms"] / procs["fast"]["median_ms"]
    res["base"]["speedup_vs_passive"] = procs["naive_passive"]["median_ms"] / procs["fast"]["median_ms"]
    res["accuracy"] = accuracy_guard(paths["speech_hf"], paths["text_hf"], paths["speech_onnx"],
                                     paths["text_onnx"], args.accuracy_clips or (5 if quick else 60))

    if not quick and not args.no_large:
        _, large_bundle = ensure_bundle("large", text_arch)
        large = dict(paths, speech_hf=ensure_hf("speech", "large"), bundle_onnx=large_bundle)
        naive = Naive(large["speech_hf"], large["text_hf"])
        fast = Fast(large_bundle)
        n_large = max(10, requests // 3)
        lat = alternate([naive, fast], request_args, n_large, 2, "large request")
        del naive, fast
        res["large"] = {"latency": lat, "speedup": lat["naive"]["median_ms"] / lat["fast"]["median_ms"],
                        "process": {name: run_child(name, large, transcripts[0], 2, 1)
                                    for name in ("naive", "fast")}}

    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results_dir = CACHE / "results-quick" if quick else None
    cmd = " ".join(["python bench/latency.py", *(sys.argv[1:] if argv is None else argv)])
    json_path, md_path = write_results("latency", res, markdown(res), command=cmd, machine=machine,
                                       results_dir=results_dir)
    log(f"wrote {json_path} and {md_path}")
    print(f"speedup_vs_naive={res['base']['speedup']:.2f}")
    return 0


class _SpeechOnly:
    """A path's speech model alone (for the audio-length sweep)."""

    def __init__(self, path):
        self.path = path
        self.name = path.name

    def __call__(self, wave):
        return self.path.speech_only(wave)


if __name__ == "__main__":
    sys.exit(main())
