"""The bad-input catalogue (issue #9): every case below is a row of docs/errors.md.

Each input is generated here (soundfile, ffmpeg, plain bytes); each test goes through an entry
point people use (``load_audio``, ``EmotionRecognizer.analyze``, ``emoens`` commands through
``emoens.cli.main``, the manifest/bundle/fusion/config loaders) and asserts the *exact* message,
or that the input works. Cases are named ``C01``… so that the docs table can be checked against them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emoens import audio
from emoens.audio import AudioError, load_audio
from emoens.labels import LABELS

REPO = Path(__file__).resolve().parents[1]
SR = 16000
UNDECODABLE_TAIL = "; WAV, FLAC, OGG, MP3 are supported, and WebM/M4A with ffmpeg"
NEEDS_FFMPEG = ("{p} needs ffmpeg to be decoded (WebM/M4A/AAC and similar formats): install ffmpeg "
                "(e.g. `sudo apt-get install ffmpeg`)")


def sine(seconds: float = 1.0, sr: int = SR, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav(path: Path, samples: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> Path:
    sf.write(str(path), samples, sr, subtype=subtype)
    return path


def message(excinfo) -> str:
    return str(excinfo.value)


def dominant_freq(samples: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / sr)[int(np.argmax(spectrum))])


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``emoens ARGV`` in-process; returns (exit code, stdout, stderr)."""
    from emoens.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


# =========================================================================== audio files


def test_C01_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError) as info:
        load_audio(p)
    assert message(info) == f"{p} is empty: it contains no audio samples"


def test_C02_wav_header_without_samples(tmp_path):
    full = wav(tmp_path / "full.wav", sine(0.1))
    p = tmp_path / "header-only.wav"
    p.write_bytes(full.read_bytes()[:44])
    assert p.stat().st_size == 44
    with pytest.raises(AudioError) as info:
        load_audio(p)
    assert message(info) == f"{p} is empty: it contains no audio samples"


def test_C03_random_bytes_named_wav(tmp_path):
    p = tmp_path / "random.wav"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError) as info:
        load_audio(p)
    text = message(info)
    assert text.startswith(f"cannot decode {p} as audio (") and text.endswith(UNDECODABLE_TAIL)


def test_C04_text_file_named_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is a shopping list, not a recording\n", encoding="utf-8")
    with pytest.raises(AudioError) as info:
        load_audio(p)
    text = message(info)
    assert text.startswith(f"cannot decode {p} as audio (") and text.endswith(UNDECODABLE_TAIL)


def test_C05_truncated_wav_decodes_the_samples_present(tmp_path):
    data = wav(tmp_path / "full.wav", sine(1.0)).read_bytes()
    p = tmp_path / "truncated.wav"
    p.write_bytes(data[: 44 + (len(data) - 44) // 2])  # header says 1 s, half of the data is there
    out = load_audio(p)
    assert out.dtype == np.float32 and out.size == pytest.approx(SR / 2, abs=2)
    assert dominant_freq(out) == pytest.approx(440, abs=3)


def test_C06_wav_cut_inside_its_header(tmp_path):
    data = wav(tmp_path / "full.wav", sine(0.5)).read_bytes()
    p = tmp_path / "cut-header.wav"
    p.write_bytes(data[:20])
    with pytest.raises(AudioError) as info:
        load_audio(p)
    text = message(info)
    assert text.startswith(f"cannot decode {p} as audio (") and text.endswith(UNDECODABLE_TAIL)


@pytest.mark.parametrize("case, sr, channels, subtype", [
    ("C07", 8000, 1, "PCM_16"),
    ("C08", 44100, 1, "PCM_16"),
    ("C09", 48000, 1, "PCM_16"),
    ("C10", 16000, 2, "PCM_16"),
    ("C11", 16000, 1, "PCM_24"),
    ("C12", 16000, 1, "FLOAT"),
    ("C13", 16000, 1, "ULAW"),
])
def test_C07_C13_wav_variants_work(tmp_path, case, sr, channels, subtype):
    tone = sine(1.0, sr=sr)
    samples = np.stack([tone, tone], axis=1) if channels == 2 else tone
    p = wav(tmp_path / f"{case}.wav", samples, sr=sr, subtype=subtype)
    out = load_audio(p)
    assert out.dtype == np.float32 and out.ndim == 1
    assert out.size == pytest.approx(SR, abs=2)  # 1 s at 16 kHz whatever the input rate
    assert float(np.max(np.abs(out))) == pytest.approx(0.3, abs=0.01)  # scaled, not clipped
    assert dominant_freq(out) == pytest.approx(440, abs=3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_C14_nan_or_inf_samples(tmp_path, bad):
    samples = sine(0.5)
    samples[1000] = bad
    p = wav(tmp_path / "nonfinite.wav", samples, subtype="FLOAT")
    with pytest.raises(AudioError) as info:
        load_audio(p)
    assert message(info) == f"{p} contains NaN or infinite samples"
    # the same through the array entry point (gradio's microphone value)
    with pytest.raises(AudioError) as info:
        load_audio((SR, samples))
    assert message(info) == "audio array contains NaN or infinite samples"


def test_C15_ten_milliseconds_of_audio_is_analysed(tmp_path, tone_recognizer):
    p = wav(tmp_path / "blip.wav", sine(0.01))
    result = tone_recognizer.analyze(str(p))
    assert result["duration"] == pytest.approx(0.01)
    assert result["label"] in LABELS
    assert sum(result["ensemble"].values()) == pytest.approx(1.0)


def test_C16_thirty_minutes_of_audio_is_over_the_cap(tmp_path):
    p = tmp_path / "thirty-minutes.wav"
    block = np.zeros(8000 * 60, dtype=np.uint8) + 128  # 1 min of 8-bit silence at 8 kHz
    with sf.SoundFile(str(p), "w", samplerate=8000, channels=1, subtype="PCM_U8") as out:
        for _ in range(30):
            out.write(block.astype(np.int16))
    assert sf.info(str(p)).duration == pytest.approx(1800)
    with pytest.raises(AudioError) as info:
        load_audio(p)
    limit = audio.DEFAULT_MAX_SECONDS
    assert message(info) == (f"{p} is 1800.0 s long, longer than the {limit:g} s limit (pass "
                             "max_seconds or set EMOENS_MAX_AUDIO_SECONDS to allow longer audio)")


def test_C17_digital_silence_works_and_says_so(tmp_path, tone_recognizer):
    p = wav(tmp_path / "silence.wav", np.zeros(SR, dtype=np.float32))
    assert audio.is_silent(load_audio(p))
    result = tone_recognizer.analyze(str(p))
    assert result["silent"] is True
    assert ("the audio is silent (no signal above -60 dBFS): the result carries no information"
            in result["warnings"])


def _encode(tmp_path: Path, suffix: str, codec: str) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    encoders = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True,
                              text=True).stdout
    if not re.search(rf"\s{re.escape(codec)}\s", encoders):
        pytest.skip(f"this ffmpeg has no {codec} encoder")
    src = wav(tmp_path / "src.wav", sine(1.0))
    out = tmp_path / f"clip{suffix}"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-c:a", codec,
                    "-b:a", "64k", str(out)], check=True, capture_output=True)
    return out


CODECS = [("C18", ".webm", "libopus"), ("C19", ".ogg", "libvorbis"), ("C20", ".m4a", "aac"),
          ("C21", ".mp3", "libmp3lame")]


@pytest.mark.parametrize("case, suffix, codec", CODECS)
def test_C18_C21_compressed_formats_work_with_ffmpeg(tmp_path, case, suffix, codec):
    p = _encode(tmp_path, suffix, codec)
    out = load_audio(p)
    assert out.dtype == np.float32 and out.size == pytest.approx(SR, rel=0.1)
    assert dominant_freq(out) == pytest.approx(440, abs=5)
    # bytes (an upload held in memory) work too
    assert load_audio(p.read_bytes()).size == pytest.approx(SR, rel=0.1)


def _no_ffmpeg(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("ffmpeg") is None


@pytest.mark.parametrize("case, suffix, codec", [CODECS[0], CODECS[2]])
def test_C22_webm_m4a_without_ffmpeg(tmp_path, monkeypatch, case, suffix, codec):
    p = _encode(tmp_path, suffix, codec)
    _no_ffmpeg(monkeypatch, tmp_path)
    with pytest.raises(AudioError) as info:
        load_audio(p)
    assert message(info) == NEEDS_FFMPEG.format(p=p)
    with pytest.raises(AudioError) as info:  # bytes: recognised by their magic number
        load_audio(p.read_bytes(), name="upload")
    assert message(info) == NEEDS_FFMPEG.format(p="upload")


@pytest.mark.parametrize("case, suffix, codec", [CODECS[1], CODECS[3]])
def test_C23_ogg_mp3_without_ffmpeg_still_work(tmp_path, monkeypatch, case, suffix, codec):
    p = _encode(tmp_path, suffix, codec)
    _no_ffmpeg(monkeypatch, tmp_path)
    assert load_audio(p).size == pytest.approx(SR, rel=0.1)  # libsndfile decodes them itself


def test_C24_directory_given_as_a_file(tmp_path):
    p = tmp_path / "recordings.wav"
    p.mkdir()
    with pytest.raises(AudioError) as info:
        load_audio(p)
    assert message(info) == f"{p} is a directory, not an audio file"


def test_C25_missing_path(tmp_path, tone_recognizer):
    p = tmp_path / "nowhere" / "missing.wav"
    with pytest.raises(AudioError) as info:
        load_audio(p)
    assert message(info) == f"audio file not found: {p}"
    with pytest.raises(AudioError) as info:  # the same message through the recognizer
        tone_recognizer.analyze(str(p))
    assert message(info) == f"audio file not found: {p}"


def test_C26_bad_item_in_a_batch_does_not_stop_it(tmp_path, tone_recognizer):
    good = wav(tmp_path / "good.wav", sine(1.0))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    results = tone_recognizer.analyze_batch([str(good), str(bad), str(good)], errors="return")
    assert [("error" in r) for r in results] == [False, True, False]
    assert results[1] == {"error": f"{bad} is empty: it contains no audio samples", "input": str(bad)}


# =========================================================================== transcripts


def test_C27_non_utf8_transcript_file(tmp_path):
    from emoens.text import TextError, read_transcript

    cp949 = tmp_path / "cp949.txt"
    cp949.write_bytes("b/ 기분이 좋아요.".encode("cp949"))
    assert read_transcript(cp949) == "b/ 기분이 좋아요."  # KEMDy20's encoding works
    p = tmp_path / "latin.txt"
    p.write_bytes(b"\xff\xfe\xff\x80 caf\xe9")
    with pytest.raises(TextError) as info:
        read_transcript(p)
    assert message(info) == f"cannot decode transcript {p}: it is not valid utf-8 or cp949 text"


def test_C28_empty_transcript_gives_a_speech_only_result(tmp_path, tone_recognizer):
    p = wav(tmp_path / "clip.wav", sine(1.0))
    for text in ("", "   ", "\n"):
        result = tone_recognizer.analyze(str(p), text=text)
        assert result["text"] is None and result["transcript_source"] is None
        assert result["ensemble_source"] == "speech-only"
        assert "no transcript: the ensemble is the speech model's output" in result["warnings"]


def test_C29_ten_thousand_character_transcript_works(tmp_path, tone_recognizer):
    from emoens.text import clean_transcript

    long_text = ("정말 행복해 " * 2000)[:10_000]
    assert len(long_text) == 10_000
    assert clean_transcript(long_text).startswith("정말 행복해")
    result = tone_recognizer.analyze(str(wav(tmp_path / "clip.wav", sine(1.0))), text=long_text)
    assert result["transcript_source"] == "given" and result["text"]["happy"] > 0.5


# =========================================================================== corpora (emoens prepare)


@pytest.fixture(scope="module")
def small_kemdy20(tmp_path_factory):
    """Two KEMDy20 sessions; Sess01 has the special rows: unknown label, duplicated id, missing wav…"""
    from tests.fixtures.corpora import make_kemdy20

    return make_kemdy20(tmp_path_factory.mktemp("bad-kemdy20") / "KEMDy20", sessions=2,
                        per_speaker=5, specials=True)


def _copy_corpus(corpus, tmp_path) -> Path:
    root = tmp_path / "KEMDy20"
    shutil.copytree(corpus.root, root)
    return root


def test_C30_kemdy_csv_with_one_header_row(small_kemdy20, tmp_path, capsys):
    root = _copy_corpus(small_kemdy20, tmp_path)
    (root / "annotation" / "Sess02_eval.csv").unlink()
    ann = root / "annotation" / "Sess01_eval.csv"
    ann.write_text(ann.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    code, _, err = cli(capsys, "prepare", "--kemdy20", str(root), "--out", str(tmp_path / "out"),
                       "--quiet")
    assert code == 1
    assert err.strip() == (f"emoens prepare: error: {ann}: expected two header rows and data rows, "
                           "found 1 row(s)")


def test_C31_kemdy_csv_with_wrong_columns(small_kemdy20, tmp_path, capsys):
    root = _copy_corpus(small_kemdy20, tmp_path)
    (root / "annotation" / "Sess02_eval.csv").unlink()
    (root / "annotation" / "Sess01_eval.csv").write_text("name,score\nx,y\nalice,3\nbob,4\n",
                                                         encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = cli(capsys, "prepare", "--kemdy20", str(root), "--out", str(out), "--quiet")
    assert code == 1
    assert err.strip() == (f"emoens prepare: error: no usable row in {root} (2 malformed annotation "
                           f"row); see {out / 'skipped.csv'}")
    import pandas as pd

    skipped = pd.read_csv(out / "skipped.csv", keep_default_na=False)
    assert list(skipped["reason"]) == ["malformed annotation row"] * 2


def test_C32_C35_kemdy_rows_that_cannot_be_used_are_listed_and_the_rest_prepared(small_kemdy20,
                                                                                 tmp_path, capsys):
    """C32 unknown label, C33 duplicated id, C34 missing wav, C35 undecodable transcript."""
    import pandas as pd

    out = tmp_path / "out"
    code, stdout, _ = cli(capsys, "prepare", "--kemdy20", str(small_kemdy20.root), "--out", str(out),
                          "--quiet")
    assert code == 0
    skipped = pd.read_csv(out / "skipped.csv", keep_default_na=False).set_index("utt_id")
    reasons = dict(zip(skipped.index, skipped["reason"]))
    assert reasons["Sess01_impro01_User002M_001"] == "unknown label"
    assert skipped.loc["Sess01_impro01_User002M_001", "detail"] == "bored"
    assert reasons["Sess01_script01_User002M_001"] == "duplicated utt_id"
    assert reasons["Sess01_script01_User001F_004"] == "missing wav"
    assert reasons["Sess01_impro01_User002M_002"] == "unreadable transcript"
    assert "skipped 5 (1 duplicated utt_id, 1 missing wav, 1 silent audio, 1 unknown label, " \
           "1 unreadable transcript)" in stdout
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert len(manifest) == len(small_kemdy20.kept())
    assert not set(skipped.index) - {"Sess01_script01_User002M_001"} & set(manifest["utt_id"])


# =========================================================================== manifest, predictions


def test_C36_manifest_with_missing_columns(tmp_path, capsys):
    from emoens.manifest import ManifestError, read_manifest

    p = tmp_path / "manifest.csv"
    p.write_text("utt_id,label\na,happy\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        read_manifest(p)
    text = message(info)
    assert text.startswith(f"{p}: missing column(s) ") and "audio_path" in text
    assert text.endswith("; see DESIGN §3)")
    code, _, err = cli(capsys, "evaluate", "--predictions", str(p), "--manifest", str(p), "--out",
                       str(tmp_path / "rep"))
    assert code == 1 and err.startswith("emoens evaluate: error: ")


def test_C37_predictions_with_ids_not_in_the_manifest(prepared_manifest, tmp_path, capsys):
    import pandas as pd

    from emoens.manifest import read_manifest

    ids = list(read_manifest(prepared_manifest)["utt_id"])
    preds = pd.DataFrame(np.full((len(ids) + 2, 7), 1 / 7), columns=list(LABELS))
    preds.insert(0, "utt_id", ids + ["ghost_001", "ghost_002"])
    p = tmp_path / "preds.csv"
    preds.to_csv(p, index=False)
    code, _, err = cli(capsys, "evaluate", "--predictions", str(p), "--manifest",
                       str(prepared_manifest), "--out", str(tmp_path / "rep"), "--no-plots")
    assert code == 1
    assert err.strip() == ("emoens evaluate: error: preds: 2 utt_id(s) not in the manifest: "
                           "ghost_001, ghost_002")
    assert not (tmp_path / "rep").exists()


def test_C38_predictions_file_missing_a_class_column(tmp_path):
    from emoens.fusion import FusionError, read_predictions

    p = tmp_path / "preds.csv"
    p.write_text("utt_id,angry,happy\na,0.5,0.5\n", encoding="utf-8")
    with pytest.raises(FusionError) as info:
        read_predictions(p)
    assert message(info) == (f"predictions file {p} lacks column(s) ['disgust', 'fear', 'neutral', "
                             "'sad', 'surprise']; expected utt_id and " + ", ".join(LABELS))


# =========================================================================== bundles, fusion, config


@pytest.fixture
def bundle_copy(tiny_bundle_dir, tmp_path) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(tiny_bundle_dir, root)
    return root


def test_C39_bundle_with_a_missing_member(bundle_copy):
    from emoens.bundle import BundleError, load_bundle

    shutil.rmtree(bundle_copy / "text")
    with pytest.raises(BundleError) as info:
        load_bundle(bundle_copy)
    assert message(info) == (f"{bundle_copy / 'bundle.json'}: member 'text' folder "
                             f"{bundle_copy / 'text'} is missing")


def test_C40_bundle_of_a_wrong_format_version(bundle_copy, capsys):
    from emoens.bundle import BundleError
    from emoens.recognizer import EmotionRecognizer

    path = bundle_copy / "bundle.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["format_version"] = 99
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(BundleError) as info:
        EmotionRecognizer.from_bundle(bundle_copy)
    assert message(info) == (f"{path}: unknown bundle format_version 99; this emoens reads version 1 "
                             "(upgrade emoens or rebuild the bundle)")


@pytest.mark.parametrize("name, payload, reason", [
    ("extra.pkl", b"anything", "a .pkl file is a pickle"),
    ("weights.bin", None, "it is a torch.save zip archive with a pickle inside (data.pkl)"),
    ("head.dat", b"\x80\x04\x95\x00", "it starts with a pickle protocol header"),
])
def test_C41_bundle_carrying_a_pickle(bundle_copy, name, payload, reason):
    from emoens.bundle import BundleError, load_bundle

    target = bundle_copy / "speech" / name
    if payload is None:
        import torch

        torch.save({"w": torch.zeros(2)}, str(target))
    else:
        target.write_bytes(payload)
    with pytest.raises(BundleError) as info:
        load_bundle(bundle_copy)
    assert message(info) == (f"refusing to load {target}: {reason}, and emoens never unpickles files "
                             "(they can run arbitrary code). Save weights as safetensors/ONNX/JSON and "
                             "rebuild the bundle")


def test_C42_fusion_file_with_an_unknown_method(tmp_path):
    from emoens.fusion import FusionError, read_fusion

    p = tmp_path / "fusion.json"
    p.write_text(json.dumps({"format_version": 1, "method": "median", "labels": list(LABELS),
                             "members": [{"name": "s", "modality": "speech", "weight": 1}]}),
                 encoding="utf-8")
    with pytest.raises(FusionError) as info:
        read_fusion(p)
    assert message(info).startswith(f"{p}: unknown fusion method 'median'; expected one of ")


def test_C43_unknown_training_config_key(tmp_path, capsys):
    p = tmp_path / "recipe.yaml"
    p.write_text("modality: text\nbase: /nowhere\nlearning_rat: 0.001\n", encoding="utf-8")
    code, _, err = cli(capsys, "train", "text", "--manifest", str(tmp_path / "m.csv"), "--config",
                       str(p), "--out", str(tmp_path / "model"))
    assert code == 1
    assert err.startswith(f"emoens train: error: {p}: unknown setting(s) 'learning_rat'; known "
                          "settings: ")
    assert "learning_rate" in err


@pytest.mark.parametrize("argv, expected", [
    (["--split", "session", "--test-size", "5"], "test size 5.0 must be between 0 and 1"),
    (["--split", "session", "--valid-size", "1.5"], "validation size 1.5 must be in [0, 1)"),
    (["--split", "session", "--folds", "1"], "--folds 1: at least 2 folds are needed"),
])
def test_C44_out_of_range_cli_values(small_kemdy20, tmp_path, capsys, argv, expected):
    out = tmp_path / "out"
    code, _, err = cli(capsys, "prepare", "--kemdy20", str(small_kemdy20.root), "--out", str(out),
                       "--quiet", *argv)
    assert code == 1
    assert err.strip() == f"emoens prepare: error: {expected}"
    assert not (out / "manifest.csv").exists()


def test_C45_cli_value_of_the_wrong_type(capsys, tmp_path):
    code, _, err = cli(capsys, "prepare", "--kemdy20", str(tmp_path), "--out", str(tmp_path),
                       "--folds", "many")
    assert code == 2
    assert "emoens prepare: error: argument --folds: invalid int value: 'many'" in err



@pytest.mark.parametrize("case", ["missing", "not predict output", "bad suffix"])
def test_C47_emoens_merge_of_what_is_not_shard_outputs(capsys, tmp_path, case):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("utt_id,audio_path\nu1,a.wav\n", encoding="utf-8")
    part, out, expected = {
        "missing": (tmp_path / "gone.csv", tmp_path / "o.csv", f"{tmp_path / 'gone.csv'}: no such "
                    "shard output"),
        "not predict output": (manifest, tmp_path / "o.csv", f"{manifest} has no status and input "
                               "(or utt_id) columns: not an output of emoens predict"),
        "bad suffix": (manifest, tmp_path / "o.txt", f"{tmp_path / 'o.txt'}: the merged file must "
                       "be .csv or .jsonl")}[case]
    code, _, err = cli(capsys, "merge", str(part), "--out", str(out))
    assert code == 1
    assert err.strip() == f"emoens merge: error: {expected}"
    assert not out.exists()

def test_the_docs_catalogue_lists_every_case():
    """docs/errors.md has a row for every case tested here (and no case that is not tested)."""
    source = Path(__file__).read_text(encoding="utf-8")
    tested = set(re.findall(r"(?<![A-Za-z0-9])C(\d\d)(?!\d)", source))
    docs = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    documented = set()
    for a, b in re.findall(r"^\| C(\d\d)(?:–C(\d\d))? \|", docs, flags=re.M):
        documented.update(f"{n:02d}" for n in range(int(a), int(b or a) + 1))
    assert len(tested) >= 30
    assert documented == tested


def test_C46_transcript_with_undecodable_bytes(tmp_path, tone_recognizer, capsys):
    """Non-UTF-8 bytes typed on the command line reach Python as lone surrogates."""
    from emoens.recognizer import RecognizerError

    p = wav(tmp_path / "clip.wav", sine(1.0))
    bad_text = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")
    with pytest.raises(RecognizerError) as info:
        tone_recognizer.analyze(str(p), text=bad_text)
    assert message(info) == (f"the transcript given for {p} is not valid text (it holds bytes that "
                             "are not UTF-8): give the transcript as UTF-8")
    results = tone_recognizer.analyze_batch([str(p), str(p)], texts=[bad_text, "행복해"],
                                            errors="return")
    assert results[0]["error"] == message(info) and results[1]["label"] == "happy"
