"""Load test of the web app: 8 concurrent users for 60 s, good and bad uploads mixed.

Two runs one after the other against the same server: users made by ``gradio_client``, then
users over plain HTTP (Gradio's REST API, as ``curl`` calls it). Both kinds of client run in this
process, on the same 2 cores as the server: ``gradio_client``'s threads cost about 40 % of them
(the CPU split is reported), which a hosted app's remote users never take from it.

Serves the app as users do (``python app.py`` on a free 127.0.0.1 port) with the default bundle,
or a tiny random-weight bundle built here when ``emoens/assets/default`` does not exist yet, and small
caps (2 MB uploads, 30 s audio) so that the bad uploads exercise them. Each user loops over a
shuffled mix: Korean speech (espeak-ng), the same with a typed transcript, an empty file, a text
file named .wav, a 40-s clip (over the duration cap) and a 3-MB file (over the size cap).

Pass criteria: zero failed good requests; every bad one answered with its message; the server's
memory (RSS, sampled every second) reported at start and end. Writes bench/results/load.json/.md.

    .venv/bin/python bench/load.py [--users 8] [--seconds 60] [--bundle DIR] [--clients gradio_client,http]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from common import REPO, percentile, write_results  # noqa: E402

SENTENCE = "오늘은 정말 기분이 좋아요"  # made up, not corpus data
MAX_UPLOAD_MB = 2.0
MAX_AUDIO_SECONDS = 30.0

# kind -> (is good?, text sent, how its answer must read)
KINDS = {
    "speech": (True, "", None),
    "speech+text": (True, SENTENCE, None),
    "empty": (False, "", "empty.wav is empty (0 bytes): upload a recording with sound in it"),
    "not_audio": (False, "", "cannot decode notes.wav as audio"),
    "too_long": (False, "", "long.wav is 40.0 s long, longer than the 30 s limit"),
    "too_big": (False, "", "413"),  # sent raw (as a hostile client would): the server refuses it
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_clips(root: Path) -> SimpleNamespace:
    """The uploads: Korean speech (espeak-ng, else a tone), an empty file, a text file, 40 s, 3 MB."""
    import numpy as np
    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    speech = root / "speech.wav"
    espeak = shutil.which("espeak-ng")
    if espeak:
        raw = root / "speech.raw.wav"
        subprocess.run([espeak, "-v", "ko", "-s", "150", "-w", str(raw), SENTENCE], check=True,
                       capture_output=True)
        samples, sr = sf.read(str(raw), dtype="float32")
        raw.unlink()
    else:
        sr = 16000
        samples = (0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * sr) / sr)).astype(np.float32)
    sf.write(str(speech), samples, sr, subtype="PCM_16")
    t = np.arange(40 * 16000) / 16000
    long_clip = root / "long.wav"
    sf.write(str(long_clip), (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    empty = root / "empty.wav"
    empty.write_bytes(b"")
    not_audio = root / "notes.wav"
    not_audio.write_text("this is not audio\n", encoding="utf-8")
    big = root / "big.wav"
    big.write_bytes(b"RIFF" + bytes(3 * 1024 * 1024))
    return SimpleNamespace(speech=speech, empty=empty, not_audio=not_audio, too_long=long_clip,
                           too_big=big)


def clip_for(clips: SimpleNamespace, kind: str) -> Path:
    return clips.speech if kind.startswith("speech") else getattr(clips, kind)


class Refused(Exception):
    """The app answered a request with an error event (its message is the exception's text)."""


def gradio_user(url: str):
    """A user as `gradio_client` makes one: ``predict(path, text) -> result``."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    return lambda path, text: client.predict(handle_file(str(path)), text, api_name="/analyze")


def http_user(url: str):
    """A user over plain HTTP, Gradio's documented REST API as ``curl`` calls it: upload the
    file, ``POST /gradio_api/call/analyze``, read the event stream. Far less client CPU than
    `gradio_client` (its threads and polling), which shares the 2 cores with the server here."""
    import json

    import httpx

    http = httpx.Client(base_url=url.rstrip("/"), timeout=120)

    def predict(path, text):
        path = Path(path)
        with open(path, "rb") as handle:
            response = http.post("/gradio_api/upload", files=[("files", (path.name, handle, "audio/wav"))])
        if response.status_code != 200:
            raise Refused(f"HTTP {response.status_code}: {response.text[:200]}")
        file = {"path": response.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}
        response = http.post("/gradio_api/call/analyze", json={"data": [file, text]})
        event_id = response.json().get("event_id") if response.status_code == 200 else None
        if not event_id:
            raise Refused(f"HTTP {response.status_code} without an event: {response.text[:200]}")
        event = None
        with http.stream("GET", f"/gradio_api/call/analyze/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line.split(":", 1)[1])
                    if event == "complete":
                        return data[0]
                    raise Refused((data or {}).get("error") or "error (no message)")
        raise Refused("the event stream ended without a result")

    return predict


USERS = {"gradio_client": gradio_user, "http": http_user}
CLIENT_NAMES = {"gradio_client": "`gradio_client` users",
                "http": "plain-HTTP users (Gradio's REST API, as `curl` calls it)"}


def one_request(predict, url: str, clips: SimpleNamespace, kind: str) -> dict:
    """Send one request; returns {kind, good, ok, answered, message, seconds}."""
    good, text, needle = KINDS[kind]
    started = time.perf_counter()
    if kind == "too_big":  # gradio_client refuses it itself: post it raw to test the server's cap
        import httpx

        with open(clip_for(clips, kind), "rb") as handle:
            response = httpx.post(url.rstrip("/") + "/gradio_api/upload",
                                  files=[("files", ("big.wav", handle, "audio/wav"))], timeout=60)
        message = f"HTTP {response.status_code}: {response.text[:200]}"
        return {"kind": kind, "good": False, "ok": False, "message": message,
                "answered": response.status_code == 413 and "maximum allowed size" in response.text,
                "seconds": round(time.perf_counter() - started, 4)}
    try:
        result = predict(clip_for(clips, kind), text)
        message, ok = None, isinstance(result, dict) and "ensemble" in result and "label" in result
    except Exception as exc:  # noqa: BLE001  (every failure is recorded and judged below)
        message, ok = f"{type(exc).__name__}: {exc}", False
    seconds = time.perf_counter() - started
    if good:
        answered = ok
    else:
        answered = (not ok) and message is not None and needle in message
    return {"kind": kind, "good": good, "ok": ok, "answered": answered, "message": message,
            "seconds": round(seconds, 4)}


def drive(url: str, clips: SimpleNamespace, *, users: int = 8, seconds: float = 60.0,
          seed: int = 0, rss=None, client: str = "gradio_client") -> dict:
    """``users`` threads, each its own user (:data:`USERS` ``[client]``), sending a shuffled mix
    until ``seconds`` pass.

    ``rss`` (optional) is a callable giving the server's RSS in MiB, sampled every second.
    """
    records: list[dict] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def user(index: int) -> None:
        rng = random.Random(seed + index)
        predict = USERS[client](url)
        kinds = list(KINDS)
        while time.monotonic() < deadline:
            kind = rng.choice(kinds)
            record = one_request(predict, url, clips, kind)
            record["user"] = index
            with lock:
                records.append(record)

    def sampler() -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            samples.append((round(time.monotonic() - t0, 1), rss()))
            stop.wait(1.0)

    watcher = threading.Thread(target=sampler, daemon=True) if rss else None
    if watcher:
        watcher.start()
    started = time.monotonic()
    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    stop.set()
    if watcher:
        watcher.join(timeout=5)
    return summarise(records, elapsed, users, samples)


def summarise(records: list[dict], elapsed: float, users: int,
              samples: list[tuple[float, float]]) -> dict:
    by_kind = {}
    for kind in KINDS:
        rows = [r for r in records if r["kind"] == kind]
        if not rows:
            continue
        latencies = [r["seconds"] for r in rows]
        by_kind[kind] = {
            "requests": len(rows),
            "answered_as_expected": sum(r["answered"] for r in rows),
            "median_s": round(statistics.median(latencies), 3),
            "p95_s": round(percentile(latencies, 95), 3),
            "example_message": next((r["message"] for r in rows if r["message"]), None),
        }
    good = [r for r in records if r["good"]]
    bad = [r for r in records if not r["good"]]
    return {
        "users": users,
        "seconds": round(elapsed, 1),
        "requests": len(records),
        "requests_per_s": round(len(records) / elapsed, 2) if elapsed else None,
        "good_requests": len(good),
        "good_failed": sum(not r["ok"] for r in good),
        "bad_requests": len(bad),
        "bad_not_answered_with_message": sum(not r["answered"] for r in bad),
        "by_kind": by_kind,
        "rss_mb": {"start": samples[0][1], "end": samples[-1][1],
                   "at_one_third": samples[len(samples) // 3][1],
                   "max": max(v for _, v in samples), "samples": samples} if samples else None,
        "failures": [r for r in records if (r["good"] and not r["ok"]) or
                     (not r["good"] and not r["answered"])][:20],
    }


def tiny_bundle(root: Path) -> Path:
    """A bundle of random-weight tiny members (for when emoens/assets/default does not exist yet)."""
    from emoens.bundle import MemberSpec, build_bundle
    from tests.fixtures.models import (make_kobert_tokenizer_dir, make_tiny_speech_model_dir,
                                       make_tiny_text_model_dir)

    tok = make_kobert_tokenizer_dir(root / "tokenizer")
    speech = make_tiny_speech_model_dir(root / "speech")
    text = make_tiny_text_model_dir(root / "text", tok)
    bundle, _ = build_bundle(root / "bundle", [
        (MemberSpec("speech", "hf-speech", "speech", "speech"), speech),
        (MemberSpec("text", "hf-text", "text", "text"), text)],
        name="tiny-load-test", asr={"backend": "none"},
        provenance={"note": "random weights, load test only"})
    return bundle.root


def serve(bundle: Path, port: int, users: int = 8) -> subprocess.Popen:
    """``python app.py`` on ``port``; every simulated user comes from 127.0.0.1, so the per-client
    limit is raised to ``users`` (each stands for a different person with one request at a time:
    a refusal is a failure of the per-visitor count)."""
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               EMOENS_BUNDLE=str(bundle), EMOENS_MAX_UPLOAD_MB=str(MAX_UPLOAD_MB),
               EMOENS_MAX_AUDIO_SECONDS=str(MAX_AUDIO_SECONDS), GRADIO_ANALYTICS_ENABLED="False",
               EMOENS_PER_CLIENT=os.environ.get("EMOENS_PER_CLIENT", str(users)))
    return subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_up(proc: subprocess.Popen, url: str, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the app exited:\n" + proc.stdout.read())
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the app did not answer at {url} within {timeout:.0f} s")


def markdown(result: dict, client: str, setup: dict) -> str:
    """One run's section of bench/results/load.md (``setup``: the users, the app's settings)."""
    rss = result["rss_mb"] or {}
    lines = [
        f"### {CLIENT_NAMES[client]}", "",
        f"{setup['users']} concurrent users ({CLIENT_NAMES[client]}) for {setup['seconds']} s against "
        f"`python app.py` (bundle: {setup['bundle_kind']}; caps {MAX_UPLOAD_MB:g} MB / "
        f"{MAX_AUDIO_SECONDS:g} s; {setup['app_short_concurrency']} short and {setup['app_concurrency']} "
        "long analyses at a time).",
        "",
        f"- requests: **{result['requests']}** ({result['requests_per_s']}/s); good: "
        f"{result['good_requests']}, **failed: {result['good_failed']}**; bad: {result['bad_requests']}, "
        f"**not answered with their message: {result['bad_not_answered_with_message']}**",
        f"- server RSS: start **{rss.get('start')} MiB**, end **{rss.get('end')} MiB**, "
        f"max {rss.get('max')} MiB (at one third of the run: {rss.get('at_one_third')} MiB)",
    ]
    cpu = result.get("cpu_s")
    if cpu:
        lines.append(f"- CPU seconds in the {cpu['wall']} s of load: server {cpu['server']}, the "
                     f"users' clients (this process) {cpu['clients']}, of {cpu['cores']} cores x "
                     f"{cpu['wall']} s = {round(cpu['cores'] * cpu['wall'], 1)}")
    lines += [
        "",
        "| request | count | as expected | median s | p95 s | message (example) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for kind, row in result["by_kind"].items():
        msg = (row["example_message"] or "(result)").replace("|", "\\|").replace("\n", " ")[:110]
        lines.append(f"| {kind} | {row['requests']} | {row['answered_as_expected']} | "
                     f"{row['median_s']} | {row['p95_s']} | {msg} |")
    short = result["by_kind"].get("speech")
    if short:
        lines += ["", f"**p95 of short requests with automatic transcription (`speech`): "
                  f"{short['p95_s']} s** (target ≤ 3 s; median {short['median_s']} s)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--bundle", help="bundle folder (default: emoens/assets/default, else a tiny one)")
    parser.add_argument("--clients", default="gradio_client,http",
                        help="kinds of user, one 60-s run each, one after the other: "
                             + ", ".join(USERS))
    parser.add_argument("--no-write", action="store_true", help="print, do not write bench/results")
    args = parser.parse_args(argv)

    import psutil

    with tempfile.TemporaryDirectory(prefix="emoens-load-") as tmp:
        tmp = Path(tmp)
        default = REPO / "emoens" / "assets" / "default"
        if args.bundle:
            bundle, kind = Path(args.bundle), f"given ({args.bundle})"
        elif (default / "bundle.json").is_file():
            bundle, kind = default, "emoens/assets/default"
        else:
            bundle, kind = tiny_bundle(tmp / "tiny"), "tiny random-weight (emoens/assets/default not built yet)"
        clips = make_clips(tmp / "clips")
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        proc = serve(bundle, port, args.users)
        try:
            wait_up(proc, url)
            server = psutil.Process(proc.pid)

            def rss() -> float:
                return round(server.memory_info().rss / 2**20, 1)

            # one warm-up request per kind, so that "start" is the served, loaded state
            warm = USERS["http"](url)
            for k in KINDS:
                one_request(warm, url, clips, k)
            me = psutil.Process()
            result = {"users": args.users, "seconds": args.seconds, "runs": {}}
            for client in args.clients.split(","):
                cpu0 = (sum(server.cpu_times()[:2]), sum(me.cpu_times()[:2]), time.perf_counter())
                run = drive(url, clips, users=args.users, seconds=args.seconds, rss=rss, client=client)
                # where the 2 cores went: the server, and this process (the users' clients)
                wall = time.perf_counter() - cpu0[2]
                run["cpu_s"] = {"server": round(sum(server.cpu_times()[:2]) - cpu0[0], 1),
                                "clients": round(sum(me.cpu_times()[:2]) - cpu0[1], 1),
                                "wall": round(wall, 1), "cores": psutil.cpu_count()}
                result["runs"][client] = run
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    from emoens.ui.config import Settings

    settings = Settings.from_env()  # what the served app reads
    result.update(bundle_kind=kind, app_concurrency=settings.concurrency,
                  app_short_concurrency=settings.short_concurrency)
    text = "\n\n".join(markdown(run, client, result) for client, run in result["runs"].items())
    print(text)
    if not args.no_write:
        for path in write_results("load", result, text):
            print("written:", path.relative_to(REPO))
    ok = all(run["good_failed"] == 0 and run["bad_not_answered_with_message"] == 0
             for run in result["runs"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
