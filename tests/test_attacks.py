"""Attacks on a hosted emoens (issue #14): files reachable through events, memory bombs, a flooded
queue, hostile bundles, and the CLI's output under kill / full disk / wrong ``--out``.

Every test here failed before the fix it covers. The server tests serve the real app on
127.0.0.1 bound as 0.0.0.0 (see ``hosted_app``) and call its events the way a browser does.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emoens.audio import AudioError, audio_duration, load_audio
from tests.fixtures.audio import tone, write_wav

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
GB = 1024 ** 3


# --------------------------------------------------------------------------- helpers


class PeakRSS:
    """The peak resident memory of this process above its level on entry (sampled every 5 ms)."""

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self.base = self._proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def extra(self) -> int:
        return self.peak - self.base


def flac_bomb(path: Path, seconds: int = 600, rate: int = 192000, channels: int = 8) -> Path:
    """Silence in FLAC: ~250 KB on disk, ``seconds × rate × channels`` samples decoded."""
    block = np.zeros((rate * 5, channels), np.int16)
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=channels, format="FLAC",
                      subtype="PCM_16") as snd:
        for _ in range(seconds // 5):
            snd.write(block)
    return path


def forget_flac_length(path: Path) -> Path:
    """Zero the total-samples field of a FLAC's STREAMINFO, as a streaming encoder leaves it."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    word = struct.unpack(">Q", data[18:26])[0]
    data[18:26] = struct.pack(">Q", word & ~((1 << 36) - 1))
    path.write_bytes(bytes(data))
    return path


def adts_aac(path: Path, seconds: float = 1.0) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=f=300:d={seconds}", "-c:a", "aac", "-f", "adts", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """The issue's FLAC bomb: 8 channels, 192 kHz, 600 s of silence in a few hundred KB."""
    path = flac_bomb(tmp_path_factory.mktemp("bomb") / "bomb.flac")
    assert path.stat().st_size < 1024 * 1024
    return path


# --------------------------------------------------------------------------- decoding


@needs_ffmpeg
@pytest.mark.parametrize("kind", ["m3u8", "ffconcat"])
def test_playlists_are_not_followed(tmp_path, kind):
    secret = adts_aac(tmp_path / "secret.aac")
    wav = write_wav(tmp_path / "secret.wav", tone(1.0))
    if kind == "m3u8":
        text = (f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{secret}\n#EXT-X-ENDLIST\n")
    else:
        text = f"ffconcat version 1.0\nfile '{wav}'\n"
    playlist = tmp_path / f"list.{kind}"
    playlist.write_text(text)
    with pytest.raises(AudioError, match=r"^cannot decode .*list\." + kind):
        load_audio(playlist)
    with pytest.raises(AudioError):
        load_audio(playlist.read_bytes())
    with pytest.raises(AudioError):
        audio_duration(playlist)


def test_flac_bomb_is_refused_with_little_memory(bomb):
    with PeakRSS() as rss:
        with pytest.raises(AudioError, match=r"samples .*channels") as info:
            load_audio(bomb, name="bomb.flac")
    assert "\n" not in str(info.value)
    assert rss.extra < 256 * 1024 * 1024


def test_flac_without_length_streams_and_stops_at_the_cap(tmp_path):
    path = forget_flac_length(flac_bomb(tmp_path / "nolength.flac", seconds=60))
    assert sf.info(str(path)).frames > 2 ** 62  # what libsndfile reports: "unknown"
    with PeakRSS() as rss:
        with pytest.raises(AudioError) as info:
            load_audio(path, name="nolength.flac", max_seconds=30)
    message = str(info.value)
    assert "header gave no length" in message and "576460752303423" not in message
    assert rss.extra < 256 * 1024 * 1024
    short = forget_flac_length(flac_bomb(tmp_path / "short.flac", seconds=5, rate=16000,
                                         channels=1))
    assert load_audio(short).size == 5 * 16000
    assert audio_duration(short) == pytest.approx(5.0)


def test_samples_times_channels_are_capped_not_seconds(tmp_path):
    # 60 s × 8 channels × 192 kHz is within 600 s but 92 M samples to read.
    path = flac_bomb(tmp_path / "wide.flac", seconds=60)
    with pytest.raises(AudioError, match=r"92,160,000 samples \(8 channels at 192000 Hz\)"):
        load_audio(path, name="wide.flac")
    ok = write_wav(tmp_path / "stereo48.wav", np.zeros((48000 * 2, 2), np.float32), sr=48000)
    assert load_audio(ok).size == 2 * 16000


def test_one_hertz_wav_is_refused(tmp_path):
    path = tmp_path / "slow.wav"
    sf.write(str(path), np.zeros(600, np.int16), 1, subtype="PCM_16")
    assert path.stat().st_size < 1300
    with pytest.raises(AudioError, match="sample rate of 1 Hz"):
        load_audio(path, name="slow.wav")
    with pytest.raises(AudioError, match="sample rate of 1 Hz"):
        load_audio((1, np.zeros(600, np.float32)))


def test_float_wav_over_full_scale_is_normalised_like_an_array(tmp_path):
    samples = (100 * np.sin(np.linspace(0, 200, 16000))).astype(np.float32)
    path = write_wav(tmp_path / "loud.wav", samples, subtype="FLOAT")
    from_file = load_audio(path)
    from_array = load_audio((16000, samples))
    np.testing.assert_allclose(from_file, from_array, atol=1e-6)
    assert 0.9 < np.abs(from_file).max() <= 1.0
    assert np.mean(np.abs(from_file) > 0.999) < 0.05  # not clipped flat


def test_id3_only_mp3_says_no_audio(tmp_path):
    path = tmp_path / "tag.mp3"
    path.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10))
    with pytest.raises(AudioError) as info:
        load_audio(path, name="tag.mp3")
    message = str(info.value)
    assert message.startswith("cannot decode tag.mp3") or message.startswith("tag.mp3 is empty")
    assert "does not exist" not in message and "pipe" not in message


# --------------------------------------------------------------------------- bundles

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "emoens" / "assets" / "default"


@pytest.fixture
def bundle_copy(tmp_path) -> Path:
    if not (DEFAULT_BUNDLE / "bundle.json").is_file():
        pytest.skip("needs the embedded default bundle (emoens/assets/default)")
    dest = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, dest)
    return dest


def _refused(root: Path, match: str) -> str:
    from emoens.bundle import BundleError, load_bundle

    with pytest.raises(BundleError, match=match) as info:
        load_bundle(root)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_member_folder_linked_outside_the_bundle_is_refused(bundle_copy, tmp_path):
    outside = tmp_path / "outside_speech"
    shutil.move(str(bundle_copy / "speech"), outside)
    (outside / "evil.dat").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    (bundle_copy / "speech").symlink_to(outside, target_is_directory=True)
    _refused(bundle_copy, "outside the bundle")


def test_model_card_linked_to_a_server_file_is_refused(bundle_copy, tmp_path):
    from emoens.bundle import Bundle, read_card

    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret-hash:19000:0:99999:7:::\n")
    (bundle_copy / "MODEL_CARD.md").unlink()
    (bundle_copy / "MODEL_CARD.md").symlink_to(secret)
    _refused(bundle_copy, r"MODEL_CARD\.md: it is a symbolic link to outside")
    assert "secret-hash" not in read_card(Bundle(root=bundle_copy, config={}))


@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
def test_pickles_of_every_protocol_are_refused(bundle_copy, protocol):
    import pickle  # only to *write* the hostile file

    class Boom:
        def __reduce__(self):
            return (print, ("unpickled!",))

    data = pickle.dumps({"weights": [1.0, 2.0], "x": Boom()}, protocol=protocol)
    (bundle_copy / "speech" / "weights.dat").write_bytes(data)
    _refused(bundle_copy, r"weights\.dat: .*pickle")


def test_text_and_weights_files_are_not_taken_for_pickles(bundle_copy):
    from emoens.bundle import load_bundle

    (bundle_copy / "text" / "vocab.txt").write_text("[PAD]\n[UNK]\n(a)\nI like it\n")
    (bundle_copy / "text" / "notes.md").write_text("(see) the card.\n")
    assert load_bundle(bundle_copy).name


def _npz_declaring(path: Path, shape: tuple[int, ...]) -> Path:
    """An npz whose one array's header declares ``shape`` (float32) but holds 4 MB of zeros."""
    import zipfile

    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    buffer = __import__("io").BytesIO()
    np.lib.format.write_array_header_2_0(buffer, header)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("mean.npy", "w", force_zip64=True) as handle:
            handle.write(buffer.getvalue())
            handle.write(bytes(4 * 1024 * 1024))
    return path


def test_npz_declaring_a_3_gib_array_is_refused(bundle_copy):
    _npz_declaring(bundle_copy / "speech" / "weights.npz", (3 * GB // 4,))
    assert (bundle_copy / "speech" / "weights.npz").stat().st_size < 5 * 1024 * 1024
    _refused(bundle_copy, r"weights\.npz: mean\.npy declares a 3\.0 GiB array")


def test_deeply_nested_bundle_json_is_one_line(bundle_copy, tmp_path):
    (bundle_copy / "bundle.json").write_text("[" * 100000 + "]" * 100000)
    _refused(bundle_copy, "nested too deeply")
    (bundle_copy / "bundle.json").write_text('{"a":' * 200 + "1" + "}" * 200)
    _refused(bundle_copy, "nested deeper than 64")
    out = subprocess.run([str(Path(__file__).resolve().parents[1] / ".venv/bin/python"), "-m",
                          "emoens", "predict", "--bundle", str(bundle_copy), str(tmp_path / "x.wav"),
                          "--out", str(tmp_path / "o.csv")], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "nested" in out.stderr


def test_lying_safetensors_header_is_one_line(tmp_path):
    import json

    from emoens.bundle import BundleError, MemberSpec, load_member_checked

    member = tmp_path / "speech"
    member.mkdir()
    (member / "config.json").write_text("{}")
    header = json.dumps({"w": {"dtype": "F32", "shape": [1000000, 1000], "data_offsets": [0, 4 * 10 ** 9]}})
    blob = len(header).to_bytes(8, "little") + header.encode() + bytes(64)
    (member / "model.safetensors").write_bytes(blob)
    with pytest.raises(BundleError, match=r"model\.safetensors: tensor 'w' lies outside the file"):
        load_member_checked(MemberSpec("speech", "hf-speech", "speech", "speech"), member)
    (member / "model.safetensors").write_bytes((10 ** 12).to_bytes(8, "little") + b"{}")
    with pytest.raises(BundleError, match="header length does not fit"):
        load_member_checked(MemberSpec("speech", "hf-speech", "speech", "speech"), member)


def test_bundle_command_detects_light_members(bundle_copy, tmp_path):
    from emoens.bundle import detect_kind, load_bundle

    assert detect_kind(bundle_copy / "speech", "speech") == "whisper-head"
    assert detect_kind(bundle_copy / "text", "text") == "text-head"
    out = subprocess.run([str(Path(__file__).resolve().parents[1] / ".venv/bin/python"), "-m",
                          "emoens", "bundle", "--speech", str(bundle_copy / "speech"), "--text",
                          str(bundle_copy / "text"), "--asr", "none", "--out", str(tmp_path / "b")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    kinds = {m.name: m.kind for m in load_bundle(tmp_path / "b").members}
    assert kinds == {"speech": "whisper-head", "text": "text-head"}


# --------------------------------------------------------------------------- transcripts


def test_long_transcript_is_truncated_with_a_warning(tone_recognizer):
    from emoens.text import MAX_TRANSCRIPT_CHARS

    text = "행복해 " * 300000  # ~1.2 M characters
    with PeakRSS() as rss:
        result = tone_recognizer.analyze((16000, tone(1.0)), text=text)
    assert len(result["transcript"]) == MAX_TRANSCRIPT_CHARS
    assert any("only the first 2,000 were classified" in w for w in result["warnings"])
    assert rss.extra < 256 * 1024 * 1024


def test_megabyte_transcript_on_the_real_bundle_stays_small(app_recognizer):
    text = "오늘은 정말 기분이 좋아요 " * 70000  # ~1 MB of UTF-8
    assert len(text.encode()) > 1_000_000
    with PeakRSS() as rss:
        result = app_recognizer.analyze((16000, tone(1.0)), text=text)
    assert result["label"] and any("characters" in w for w in result["warnings"])
    assert rss.extra < 1.5 * GB


# --------------------------------------------------------------------------- CLI outputs

REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv/bin/python").exists() else "python"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_overwrite_is_never_half_done(tmp_path, monkeypatch):
    """A kill while the old folder is being deleted leaves the complete new one (it used to
    leave the old folder half deleted, and no new one)."""
    import emoens.files as files

    out = tmp_path / "b"
    with files.atomic_directory(out) as staging:
        for i in range(5):
            (staging / f"old{i}.bin").write_bytes(b"old" * 100)
    real = shutil.rmtree
    calls = []

    def killed_rmtree(path, *args, **kwargs):
        calls.append(Path(path))
        if len(calls) == 1 and Path(path).is_dir():
            next(p for p in Path(path).iterdir() if p.is_file()).unlink()
            raise KeyboardInterrupt  # the kill lands mid-deletion
        return real(path, *args, **kwargs)

    monkeypatch.setattr(files.shutil, "rmtree", killed_rmtree)
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_directory(out) as staging:
            for i in range(3):
                (staging / f"new{i}.bin").write_bytes(b"new")
    monkeypatch.setattr(files.shutil, "rmtree", real)
    assert _tree(out) == {f"new{i}.bin": b"new" for i in range(3)}


def test_staging_folders_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "bundle"
    code = ("import os, sys\nfrom emoens.files import atomic_directory\n"
            f"with atomic_directory({str(out)!r}) as s:\n"
            "    (s / 'weights.bin').write_bytes(bytes(1 << 20))\n"
            "    os.kill(os.getpid(), 9)\n")
    subprocess.run([PYTHON, "-c", code], cwd=REPO, check=False)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle")]  # the leftover
    from emoens.files import atomic_directory

    with atomic_directory(out) as staging:
        (staging / "ok").write_text("ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_prepare_writes_its_three_files_as_one_unit(tmp_path):
    from tests.fixtures.corpora import make_kemdy20

    small = make_kemdy20(tmp_path / "small" / "KEMDy20", sessions=1, per_speaker=2, specials=False)
    big = make_kemdy20(tmp_path / "big" / "KEMDy20", sessions=2, per_speaker=4, specials=False)
    out = tmp_path / "prepared"
    (out).mkdir()
    (out / "notes.txt").write_text("mine")
    run = [PYTHON, "-m", "emoens", "prepare", "--out", str(out), "--quiet", "--kemdy20"]
    subprocess.run(run + [str(small.root)], cwd=REPO, check=True, capture_output=True)
    killer = ("import os, runpy, sys\nimport emoens.files as f\nreal = f.write_json\n"
              "def write_json(path, obj):\n"
              "    if 'prepare_report' in str(path): os.kill(os.getpid(), 9)\n"
              "    real(path, obj)\n"
              "f.write_json = write_json\n"
              "sys.argv = ['emoens'] + sys.argv[1:]\n"
              "runpy.run_module('emoens', run_name='__main__')\n")
    proc = subprocess.run([PYTHON, "-c", killer, *run[3:], str(big.root)], cwd=REPO,
                          capture_output=True)
    assert proc.returncode == -9
    import json

    import pandas as pd

    report = json.loads((out / "prepare_report.json").read_text())
    assert report["rows"] == len(pd.read_csv(out / "manifest.csv")) == 8  # old and old, together
    assert (out / "notes.txt").read_text() == "mine"
    subprocess.run(run + [str(big.root)], cwd=REPO, check=True, capture_output=True)
    report = json.loads((out / "prepare_report.json").read_text())
    assert report["rows"] == len(pd.read_csv(out / "manifest.csv")) == 32
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.fixture
def predict_cli(tone_recognizer, monkeypatch):
    """``emoens predict`` in-process over the deterministic tone recognizer."""
    from emoens.cli import main
    from emoens.recognizer import EmotionRecognizer

    monkeypatch.setattr(EmotionRecognizer, "from_bundle", classmethod(lambda cls, *a, **k: tone_recognizer))
    return lambda *args: main(["predict", *map(str, args), "--quiet"])


def test_predict_gives_an_empty_folder_its_row(predict_cli, tmp_path):
    import pandas as pd

    empty = tmp_path / "EMPTY_DIR"
    empty.mkdir()
    clip = write_wav(tmp_path / "clip.flac", tone(0.5))
    out = tmp_path / "o.csv"
    assert predict_cli(empty, clip, "--out", out) == 1
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame["input"]) == [str(empty), str(clip)]
    assert frame["status"][0].startswith(f"folder {empty} holds no audio files (.wav")
    assert frame["status"][1] == "ok"


def test_predict_out_naming_a_folder_fails_before_the_model(predict_cli, tmp_path, capsys,
                                                             tone_recognizer):
    clip = write_wav(tmp_path / "clip.wav", tone(0.5))
    folder = tmp_path / "results.csv"
    folder.mkdir()
    calls = []
    tone_recognizer.analyze_batch = lambda *a, **k: calls.append(1) or []
    assert predict_cli(clip, "--out", folder) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err and not calls


def test_predict_appends_instead_of_rewriting(predict_cli, tmp_path, monkeypatch):
    import pandas as pd

    import emoens.files as files

    clips = [write_wav(tmp_path / f"c{i}.wav", tone(0.2, freq=200 + 10 * i)) for i in range(12)]
    out = tmp_path / "o.csv"
    replaced = []
    real = files.os.replace
    monkeypatch.setattr(files.os, "replace", lambda a, b: replaced.append(b) or real(a, b))
    assert predict_cli(*clips, "--out", out, "--chunk", "1") == 0
    assert len([p for p in replaced if Path(p) == out]) <= 1  # the start only, not once per chunk
    assert len(pd.read_csv(out)) == 12


def test_predict_resume_drops_a_half_written_last_line(predict_cli, tmp_path):
    import pandas as pd

    clips = [write_wav(tmp_path / f"c{i}.wav", tone(0.2, freq=200 + 10 * i)) for i in range(4)]
    out = tmp_path / "o.csv"
    assert predict_cli(*clips[:2], "--out", out) == 0
    with open(out, "a") as handle:
        handle.write(f"{clips[2]},ok,hap")  # killed mid-append
    assert predict_cli(*clips, "--out", out, "--resume") == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert sorted(frame["input"]) == sorted(map(str, clips)) and (frame["status"] == "ok").all()
    from emoens.labels import LABELS

    assert frame["label"].isin(LABELS).all()  # the half row ("hap") was not kept as done


def test_full_disk_is_one_line(predict_cli, tmp_path, capsys, monkeypatch):
    import errno

    import emoens.files as files

    clip = write_wav(tmp_path / "clip.wav", tone(0.5))

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    assert predict_cli(clip, "--out", tmp_path / "o.csv") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err


# --------------------------------------------------------------------------- the hosted app


class Browser:
    """Calls events the way the page does: upload, ``queue/join`` with ``fn_index`` and
    ``trigger_id``, then the ``queue/data`` event stream of its session."""

    def __init__(self, url: str, source: str | None = None):
        import uuid

        import httpx

        transport = httpx.HTTPTransport(local_address=source) if source else None
        self.http = httpx.Client(base_url=url + "gradio_api", timeout=300, transport=transport)
        self.session = uuid.uuid4().hex[:11]

    def upload(self, path: Path) -> dict:
        with open(path, "rb") as handle:
            names = self.http.post("/upload", files={"files": (path.name, handle)}).json()
        return {"path": names[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def join(self, dep: dict, data: list, event_data=None) -> dict:
        body = {"data": data, "event_data": event_data, "fn_index": dep["id"],
                "trigger_id": dep["targets"][0][0], "session_hash": self.session}
        return self.http.post("/queue/join", json=body).json()

    def call(self, dep: dict, data: list, event_data=None) -> list[dict]:
        """Every message of the stream until this call completes."""
        import json

        answer = self.join(dep, data, event_data)
        if not answer.get("event_id"):
            return [{"msg": "refused", "detail": answer}]
        messages = []
        with self.http.stream("GET", "/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    messages.append(json.loads(line[5:]))
                    if messages[-1].get("msg") in ("process_completed", "close_stream"):
                        break
        return messages


@pytest.fixture(scope="module")
def hosted_app(app_recognizer):
    """The app as an operator would host it: ``GRADIO_SERVER_NAME=0.0.0.0``, default settings
    (from the environment), served on all addresses; clients connect to 127.0.0.1."""
    import os

    from emoens.ui import build_demo, launch_kwargs
    from emoens.ui.config import Settings
    from tests.fixtures.app import free_port

    saved = {k: os.environ.pop(k, None) for k in ("GRADIO_SERVER_NAME", "EMOENS_LOCAL_PATHS",
                                                   "SPACE_ID", "EMOENS_DATA_ROOT")}
    os.environ["GRADIO_SERVER_NAME"] = "0.0.0.0"
    try:
        settings = Settings.from_env()
        kwargs = launch_kwargs(settings)
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
    assert kwargs["server_name"] == "0.0.0.0" and settings.local_paths is False
    demo = build_demo(app_recognizer, settings)
    kwargs["server_port"] = free_port()
    demo.launch(**kwargs, prevent_thread_lock=True, quiet=True)
    try:
        from types import SimpleNamespace

        config = demo.get_config_file()
        types = {c["id"]: c["type"] for c in config["components"]}
        yield SimpleNamespace(url=f"http://127.0.0.1:{kwargs['server_port']}/", demo=demo,
                              settings=settings, deps=config["dependencies"], types=types)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def secrets(tmp_path_factory) -> dict:
    """Server files no visitor uploaded: a corpus-like clip, a manifest naming it, repo files."""
    root = tmp_path_factory.mktemp("server_only")
    clip = write_wav(root / "licensed_clip.wav", tone(1.5, freq=440.0))
    manifest = root / "manifest.csv"
    manifest.write_text(f"utt_id,audio_path,label,text\nsecret_001,{clip},happy,비밀\n")
    files = {"clip": clip, "manifest": manifest, "git_config": REPO / ".git" / "config",
             "app": REPO / "app.py", "passwd": Path("/etc/passwd"),
             "pyvenv": REPO / ".venv" / "pyvenv.cfg"}
    return {k: v for k, v in files.items() if v.exists()}


@pytest.fixture
def decode_spy(monkeypatch):
    """Every path the server decodes or reads audio headers of."""
    import emoens.audio as audio

    seen: list[str] = []
    real_load, real_duration = audio._load_path, audio.audio_duration
    monkeypatch.setattr(audio, "_load_path", lambda p, *a, **k: seen.append(str(p)) or real_load(p, *a, **k))
    monkeypatch.setattr(audio, "audio_duration", lambda p: seen.append(str(p)) or real_duration(p))
    return seen


def _hostile_values(kind: str, path: str) -> list:
    """What a page could send for a component of ``kind``, naming ``path``."""
    filedata = {"path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}
    table = {"headers": ["utt_id", "audio_path"], "data": [["x", path]], "metadata": None}
    return {"audio": [filedata, path], "file": [[filedata], filedata, [path]], "state": [None, path],
            "dataframe": [table], "checkboxgroup": [[path]], "dropdown": [path],
            "dataset": [0, path], "textbox": [path], "checkbox": [True], "slider": [0.5]}.get(kind, [path])


def _leaks(messages: list[dict], browser: Browser, secrets: dict) -> list[str]:
    """What of the secrets came back: their text, a file value naming them, or their bytes
    behind a URL (an error quoting the path the caller sent is not a leak)."""
    import json
    import re

    text = json.dumps(messages, ensure_ascii=False)
    found = []
    for name, path in secrets.items():
        if re.search(r'"(path|url|value)": "[^"]*' + re.escape(path.name) + '"', text):
            found.append(f"{name}: a file value names it")
        snippet = path.read_bytes()[:60].decode("utf-8", "ignore").strip()
        if len(snippet) > 20 and snippet in text:
            found.append(f"{name}: content in the answer")
    for url in set(re.findall(r'"url": "([^"]+)"', text)):
        body = browser.http.get(url.split("/gradio_api", 1)[-1]).content
        for name, path in secrets.items():
            if body and body == path.read_bytes():
                found.append(f"{name}: served at {url}")
    return found


def _answer(messages: list[dict], path: str) -> str:
    """The outputs of a call with ``path`` written as P and timings and ids dropped."""
    import json

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()
                    if k not in ("event_id", "duration", "average_duration", "avg_time", "eta",
                                 "cache_duration", "rank_eta", "queue_size", "rank")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(messages), ensure_ascii=False).replace(path, "P")


def test_no_event_returns_decodes_or_serves_a_server_file(hosted_app, secrets, decode_spy):
    """Every event, public and private, called as the page calls it, with a server path in every
    input slot (and in the select-event data): nothing of the file comes back, nothing is decoded,
    and the answer is the same as for a path that does not exist (existence is not revealed)."""
    import itertools

    calls, problems = 0, []
    for dep, (name, path) in itertools.product(hosted_app.deps, secrets.items()):
        kinds = [hosted_app.types.get(i, "") for i in dep["inputs"]]
        ghost = path.with_name("no_such_" + path.name)
        variants = list(itertools.product(*[range(len(_hostile_values(k, ""))) for k in kinds]))[:8]
        for choice in variants or [()]:
            answers = []
            for target in (path, ghost):
                data = [_hostile_values(k, str(target))[c] for k, c in zip(kinds, choice)]
                event_data = {"index": [0, 0], "value": str(target), "row_value": [str(target)] * 2,
                              "selected": True}
                browser = Browser(hosted_app.url)
                messages = browser.call(dep, data, event_data)
                calls += 1
                answers.append(_answer(messages, str(target)))
                if not str(target).startswith(str(REPO)) and str(REPO) in answers[-1]:
                    problems.append(f"event {dep['id']} ({dep.get('api_name')}) <- {name}: the "
                                    "answer names the server's working directory")
                problems += [f"event {dep['id']} ({dep.get('api_name')}) <- {name}: {leak}"
                             for leak in _leaks(messages, browser, secrets)]
            if answers[0] != answers[1]:
                problems.append(f"event {dep['id']} ({dep.get('api_name')}) <- {name}: the answer "
                                f"tells the file exists: {answers[0][:300]} vs {answers[1][:300]}")
    assert calls > 100
    assert problems == [], "\n".join(problems[:30])
    assert not [p for p in decode_spy if any(str(s) in p for s in secrets.values())]


def test_an_uploaded_manifest_cannot_name_server_audio(hosted_app, secrets, decode_spy):
    """Compare and Explore with an *uploaded* manifest whose audio_path is a server file: not
    analysed, not listed as present, not played; the message does not tell that it exists."""
    import json

    from emoens.ui.paths import NOT_ALLOWED

    by_name = {d.get("api_name"): d for d in hosted_app.deps}
    browser = Browser(hosted_app.url)
    manifest = browser.upload(secrets["manifest"])
    missing = secrets["manifest"].parent / "ghost.csv"
    missing.write_text(secrets["manifest"].read_text().replace("licensed_clip", "no_such_clip"))
    answers = []
    for upload in (manifest, browser.upload(missing)):
        compare = browser.call(by_name["on_compare"], [[upload], "", False])
        answers.append(json.dumps(compare, ensure_ascii=False))
        assert _leaks(compare, browser, secrets) == []
    assert NOT_ALLOWED in answers[0] and NOT_ALLOWED in answers[1]
    # Explore: load it, list the class, click the utterance
    browser.call(by_name["on_load"], [None, "", manifest])
    listed = browser.call(by_name["on_counts_select"], [None, [], [], [], []],
                          {"index": [3, 0], "value": "기쁨 happy", "row_value": ["기쁨 happy"]})
    text = json.dumps(listed, ensure_ascii=False)
    assert "secret_001" in text and str(secrets["clip"]) not in text
    tables = [v for m in listed if m.get("msg") == "process_completed"
              for v in m["output"]["data"] if isinstance(v, dict) and "on_disk" in v.get("headers", [])]
    assert tables and [row[tables[0]["headers"].index("on_disk")] for row in tables[0]["data"]] == [False]
    assert "audio_path" not in tables[0]["headers"]
    played = browser.call(by_name["on_play"], [None], {"index": [0, 0], "value": "secret_001"})
    assert _leaks(played, browser, secrets) == []
    assert not [p for p in decode_spy if str(secrets["clip"]) in p]


def test_local_paths_policy():
    import os

    from emoens.ui.config import Settings, UIError
    from emoens.ui.paths import NOT_ALLOWED, ServerPaths

    def settings(**env):
        saved = dict(os.environ)
        for key in ("GRADIO_SERVER_NAME", "EMOENS_LOCAL_PATHS", "SPACE_ID", "EMOENS_DATA_ROOT"):
            os.environ.pop(key, None)
        os.environ.update(env)
        try:
            return Settings.from_env()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    assert settings().local_paths is True  # loopback by default
    assert settings(GRADIO_SERVER_NAME="0.0.0.0").local_paths is False
    assert settings(SPACE_ID="x/y").local_paths is False
    with pytest.raises(UIError, match="needs EMOENS_DATA_ROOT"):
        settings(GRADIO_SERVER_NAME="0.0.0.0", EMOENS_LOCAL_PATHS="1")
    opted = settings(GRADIO_SERVER_NAME="0.0.0.0", EMOENS_LOCAL_PATHS="1", EMOENS_DATA_ROOT=str(REPO / "tests"))
    paths = ServerPaths.of(opted)
    assert paths.file(REPO / "tests" / "conftest.py").name == "conftest.py"
    messages = set()
    for outside in (REPO / "app.py", REPO / "tests" / ".." / "app.py", Path("/etc/passwd"),
                    Path("/no/such/file"), REPO / "tests" / "no_such.csv"):
        with pytest.raises(UIError) as info:
            paths.file(outside)
        messages.add(str(info.value))
    assert messages == {NOT_ALLOWED}  # one message: existence is not revealed


def _outcome(messages: list[dict]) -> tuple[bool, str]:
    done = [m for m in messages if m.get("msg") == "process_completed"]
    if not done:
        return False, str(messages[-1] if messages else "no answer")
    output = done[-1].get("output") or {}
    return bool(done[-1].get("success")), str(output.get("error") or output.get("data"))


@needs_ffmpeg
def test_hostile_uploads_are_answered_with_little_memory(hosted_app, bomb, tmp_path):
    """The playlist, the FLAC bomb and the 1 MB transcript, through /analyze as a browser sends them."""
    api = next(d for d in hosted_app.deps if d.get("api_name") == "analyze")
    secret = adts_aac(tmp_path / "corpus_clip.aac", 3.0)
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3.0,\n{secret}\n#EXT-X-ENDLIST\n")
    clip = write_wav(tmp_path / "short.wav", tone(1.0))
    browser = Browser(hosted_app.url)
    cases = [(browser.upload(playlist), "", False, "cannot decode list.m3u8"),
             (browser.upload(bomb), "", False, "samples"),
             (browser.upload(clip), "오늘은 정말 기분이 좋아요 " * 70000, True, "characters")]
    for upload, text, ok, expected in cases:
        with PeakRSS() as rss:
            success, answer = _outcome(browser.call(api, [upload, text]))
        assert success is ok and expected in answer, answer[:300]
        assert "\n" not in answer.split("warnings", 1)[0] and "Traceback" not in answer
        assert rss.extra < 1.5 * GB, (expected, rss.extra / GB)


def test_result_folders_are_swept(monkeypatch):
    import os

    from emoens.ui import fair

    first = fair.result_dir()
    (first / "emoens_result.json").write_text("{}")
    old = time.time() - 2 * fair.RESULT_TTL_SECONDS
    os.utime(first, (old, old))
    second = fair.result_dir()
    assert not first.exists() and second.is_dir() and second.parent == first.parent


def test_uploads_are_cleaned_by_gradio(hosted_app):
    assert hosted_app.demo.delete_cache == (600, 3600)


def test_a_flood_from_one_client_does_not_hold_up_another(hosted_app, app_recognizer, tmp_path,
                                                          monkeypatch):
    """200 calls with a 5-minute clip from one address, then one short call from another: the
    flood is refused at the door past 2 jobs, and the short call runs in its own lane.

    Measured here (2 shared cores): see the printed figures; the bound asserted is 20 s over the
    short call's time on an idle server."""
    api = next(d for d in hosted_app.deps if d.get("api_name") == "analyze")
    long_clip = write_wav(tmp_path / "five_minutes.wav", tone(300.0))
    short_clip = write_wav(tmp_path / "short.wav", tone(2.0))
    seen = []
    real = app_recognizer.analyze
    monkeypatch.setattr(app_recognizer, "analyze",
                        lambda audio, *a, **k: seen.append(np.size(audio[1]) / 16000) or real(audio, *a, **k))
    other = Browser(hosted_app.url, source="127.0.0.2")
    short = other.upload(short_clip)
    t0 = time.perf_counter()
    assert _outcome(other.call(api, [short, ""]))[0]
    alone = time.perf_counter() - t0

    flooder = Browser(hosted_app.url)
    long = flooder.upload(long_clip)
    t0 = time.perf_counter()
    answers = [flooder.join(api, [long, ""]) for _ in range(200)]
    flood_seconds = time.perf_counter() - t0
    admitted = [a for a in answers if a.get("event_id")]
    refused = [a for a in answers if not a.get("event_id")]
    assert len(admitted) == 2 and len(refused) == 198
    assert "at most 2 per visitor" in str(refused[0])
    time.sleep(1.0)  # the first long job is running now
    t0 = time.perf_counter()
    success, answer = _outcome(other.call(api, [short, ""]))
    under_flood = time.perf_counter() - t0
    print(f"\nshort call: {alone:.2f} s alone, {under_flood:.2f} s under the flood "
          f"(200 joins in {flood_seconds:.2f} s, {len(admitted)} admitted)")
    assert success, answer
    assert under_flood < alone + 20.0

    # the flooder leaves: its stream closes; the job still waiting for the long lane is dropped
    with flooder.http.stream("GET", "/queue/data", params={"session_hash": flooder.session}) as s:
        next(s.iter_lines())
    deadline = time.time() + 900
    from emoens.ui.fair import client_alive

    while time.time() < deadline and client_alive(flooder.session):
        time.sleep(0.5)
    assert not client_alive(flooder.session)
    while time.time() < deadline and any(e.alive or True for e in _pending(hosted_app.demo)):
        time.sleep(1.0)
    long_runs = [s for s in seen if s > 100]
    assert len(long_runs) <= 1, long_runs  # the one running when the client left; not the queued one


def _pending(demo) -> list:
    from emoens.ui.fair import _events

    return [e for e in _events(demo._queue)]


def test_compare_has_an_audio_budget_per_request(tone_recognizer, tmp_path):
    from emoens.ui import compare as C
    from emoens.ui.config import Settings

    clips = [write_wav(tmp_path / f"c{i}.wav", tone(4.0, freq=200 + 30 * i)) for i in range(5)]
    items = C.items_from_files([str(c) for c in clips])
    frame = C.run_compare(tone_recognizer, items, Settings(max_work_seconds=10.0))
    assert list(frame["status"]) == ["ok", "ok"] + ["not analysed: this run reached its 10 s of "
                                                   "audio (the limit per request)"] * 3


def test_fifo_in_a_bundle_is_refused(bundle_copy):
    import os

    os.mkfifo(bundle_copy / "text" / "notes.md")
    _refused(bundle_copy, r"notes\.md: it is not a regular file or folder")


def test_a_flood_of_light_events_does_not_fill_the_queue(hosted_app, tmp_path):
    """300 cheap events (Explore filters) from one address, never read: refused past 8 waiting or
    running, so the queue (64) does not fill, and another visitor is served."""
    filters = next(d for d in hosted_app.deps if d.get("api_name") == "on_filter")
    api = next(d for d in hosted_app.deps if d.get("api_name") == "analyze")
    flooder = Browser(hosted_app.url)
    answers = [flooder.join(filters, [None, [], [], [], []]) for _ in range(300)]
    refused = [a for a in answers if not a.get("event_id")]
    assert refused and all("requests waiting or running" in str(a) for a in refused)  # never "Queue is full"
    other = Browser(hosted_app.url, source="127.0.0.3")
    success, answer = _outcome(other.call(api, [other.upload(write_wav(tmp_path / "s.wav", tone(1.0))), ""]))
    assert success, answer
