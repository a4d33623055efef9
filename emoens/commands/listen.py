"""``emoens listen``: record from the default microphone and print the emotion, clip after clip."""

from __future__ import annotations

import argparse

SAMPLE_RATE = 16000


def _error(message: str):
    from emoens.recognizer import RecognizerError

    return RecognizerError(message)


def register(subparsers) -> None:
    """Add the ``listen`` sub-command."""
    parser = subparsers.add_parser(
        "listen",
        help="record from the microphone and print the emotion live",
        description="Record N-second clips from the default microphone (sounddevice/PortAudio) "
        "and print each clip's transcript and emotions. Ctrl-C stops.",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each clip (default 5)")
    parser.add_argument("--once", action="store_true", help="record one clip and stop")
    parser.add_argument("--bundle", help="bundle folder or Hub id (default: the embedded bundle)")
    parser.add_argument("--no-transcribe", action="store_true", help="speech model only")
    parser.add_argument("--json", action="store_true", help="print the full JSON result")
    parser.set_defaults(func=run)


def open_sounddevice():
    """Import sounddevice and check for an input device; clear errors when either is missing."""
    try:
        import sounddevice
    except OSError as exc:  # the module imports, but libportaudio is missing
        raise _error(f"cannot use the microphone: PortAudio is not installed ({exc}); install it "
                     "(e.g. `sudo apt-get install libportaudio2`)") from exc
    except ImportError as exc:
        raise _error("cannot use the microphone: the sounddevice package is missing "
                     "(pip install -r requirements.txt)") from exc
    try:
        device = sounddevice.query_devices(kind="input")
    except Exception as exc:  # PortAudioError or ValueError when there is no input device
        raise _error(f"no microphone found ({exc}): connect one, or analyse files with "
                     "`emoens predict`") from exc
    return sounddevice, device


def format_result(result: dict) -> str:
    """One human-readable line for a result."""
    top = sorted(result["ensemble"].items(), key=lambda kv: -kv[1])[:3]
    probs = "  ".join(f"{label} {p:.2f}" for label, p in top)
    text = f" | {result['transcript']!r}" if result.get("transcript") else ""
    note = " (silent)" if result.get("silent") else ""
    return f"{result['label']} ({result['label_ko']}){note}  {probs}{text}"


def run(args: argparse.Namespace) -> int:
    """Record and analyse until Ctrl-C (or once)."""
    import json

    from emoens.recognizer import EmotionRecognizer

    if args.seconds <= 0 or args.seconds > 120:
        raise _error(f"--seconds {args.seconds}: choose a length between 0 and 120 seconds")
    sd, device = open_sounddevice()
    recognizer = EmotionRecognizer.from_bundle(args.bundle)
    print(f"listening on {device['name']!r}, {args.seconds:g}-s clips (Ctrl-C to stop)")
    while True:
        frames = int(args.seconds * SAMPLE_RATE)
        try:
            audio = sd.rec(frames, samplerate=SAMPLE_RATE, channels=1, dtype="float32")
            sd.wait()
        except Exception as exc:  # PortAudioError mid-recording (device unplugged…)
            raise _error(f"recording failed: {exc}") from exc
        result = recognizer.analyze((SAMPLE_RATE, audio[:, 0]),
                                    transcribe=False if args.no_transcribe else None)
        print(json.dumps(result, ensure_ascii=False) if args.json else format_result(result),
              flush=True)
        if args.once:
            return 0
