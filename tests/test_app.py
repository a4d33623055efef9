"""The web app: the /analyze API through gradio_client, bad input, limits, and the tab handlers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emoens.labels import LABELS, LABELS_KO

REPO = Path(__file__).resolve().parents[1]
RESULT_KEYS = {"speech", "text", "ensemble", "label", "label_ko", "transcript", "transcript_source",
               "timeline", "timing_ms"}


@pytest.fixture(scope="module")
def client(running_app):
    from gradio_client import Client

    return Client(running_app.url, verbose=False)


def _without_timing(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "timing_ms"}


def _assert_probs(probs: dict) -> None:
    assert list(probs) == list(LABELS)
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)


def _assert_structure(result: dict) -> None:
    assert RESULT_KEYS <= set(result)
    _assert_probs(result["speech"])
    _assert_probs(result["ensemble"])
    assert result["label"] == max(result["ensemble"], key=result["ensemble"].get)
    assert result["label_ko"] == LABELS_KO[result["label"]]


def _expected(recognizer, path: Path, text: str | None) -> dict:
    """What EmotionRecognizer.analyze() returns for the same audio, decoded as the app does."""
    from emoens.audio import SAMPLE_RATE, load_audio

    return recognizer.analyze((SAMPLE_RATE, load_audio(str(path))), text=text, transcribe=None)


def test_import_of_ui_loads_neither_gradio_nor_models():
    code = ("import sys, emoens.ui; "
            "print(any(m in sys.modules for m in ('gradio', 'emoens.recognizer', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_only_analyze_is_in_the_public_api(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/analyze"]
    params = api["named_endpoints"]["/analyze"]["parameters"]
    assert len(params) == 2


def test_api_analyze_without_text_equals_recognizer(client, running_app, app_clips):
    from gradio_client import handle_file

    result = client.predict(handle_file(str(app_clips.speech)), "", api_name="/analyze")
    _assert_structure(result)
    expected = _expected(running_app.recognizer, app_clips.speech, None)
    # Exactly analyze()'s result (after the JSON round trip the API implies), timings aside.
    assert _without_timing(result) == _without_timing(json.loads(json.dumps(expected)))


def test_api_analyze_with_text(client, running_app, app_clips):
    from gradio_client import handle_file

    result = client.predict(handle_file(str(app_clips.speech)), app_clips.text, api_name="/analyze")
    _assert_structure(result)
    assert result["transcript"] == app_clips.text
    assert result["transcript_source"] == "given"
    _assert_probs(result["text"])
    expected = _expected(running_app.recognizer, app_clips.speech, app_clips.text)
    for key in ("speech", "text", "ensemble"):
        assert result[key] == pytest.approx(expected[key], abs=1e-9)


@pytest.mark.parametrize("name, needle", [("empty", "empty"), ("not_audio", "cannot decode"),
                                          ("long", "longer than the 30 s limit")])
def test_bad_upload_gives_a_clear_message_and_the_next_request_works(client, app_clips, name, needle):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    path = getattr(app_clips, name)
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(path)), "", api_name="/analyze")
    message = str(info.value)
    assert path.name in message and needle in message
    assert "Traceback" not in message and "/tmp/gradio" not in message
    _assert_structure(client.predict(handle_file(str(app_clips.speech)), "", api_name="/analyze"))


def test_upload_over_the_size_cap_is_refused(client, app_clips):
    from gradio_client import handle_file

    with pytest.raises(Exception) as info:
        client.predict(handle_file(str(app_clips.big)), "", api_name="/analyze")
    assert "size" in str(info.value).lower() or "413" in str(info.value)


@pytest.mark.parametrize("path", ["/etc/passwd", "etc/passwd", "../../../../etc/passwd", "app.py"])
def test_api_never_reads_server_files_outside_the_upload_folder(running_app, path):
    import httpx

    base = running_app.url + "gradio_api"
    payload = {"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}, ""]}
    event = httpx.post(f"{base}/call/analyze", json=payload, timeout=30).json()["event_id"]
    stream = httpx.get(f"{base}/call/analyze/{event}", timeout=60).text
    assert "event: error" in stream and "event: complete" not in stream
    # gradio refuses it ("not uploaded by a user"); with show_error=False (issue #14) its text,
    # which can name server folders, is not sent: a bare error event
    assert "root:" not in stream  # no byte of /etc/passwd comes back
    assert "/etc" not in stream.split("event: error", 1)[1] and str(REPO) not in stream


def test_eight_simultaneous_users_all_get_answers(running_app, app_clips):
    from gradio_client import Client, handle_file

    def one(i):
        client = Client(running_app.url, verbose=False)
        return client.predict(handle_file(str(app_clips.speech)), app_clips.text if i % 2 else "",
                              api_name="/analyze")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert len(results) == 8
    for result in results:
        _assert_structure(result)


# --------------------------------------------------------------------------- Analyze helpers


def test_microphone_none_and_missing_upload_give_messages(app_settings):
    from emoens.ui.analyze import decode_input
    from emoens.ui.config import UIError

    with pytest.raises(UIError, match="no audio received"):
        decode_input(None, app_settings)
    with pytest.raises(UIError, match="no audio received"):
        decode_input((16000, np.zeros(0, dtype=np.int16)), app_settings)
    with pytest.raises(UIError, match="missing.wav"):
        decode_input("/nonexistent/missing.wav", app_settings)


def test_remix_mixes_stored_probabilities_without_rerunning(running_app, app_clips):
    from emoens.ui.analyze import remix, speech_share

    result = _expected(running_app.recognizer, app_clips.speech, app_clips.text)
    speech, text = np.array(list(result["speech"].values())), np.array(list(result["text"].values()))
    geometric = result["fusion"]["method"] != "weighted"  # the slider follows the bundle's fusion
    for w in (0.0, 0.3, 1.0):
        mixed = remix(result, w)
        expected = (np.exp(w * np.log(speech) + (1 - w) * np.log(text)) if geometric
                    else w * speech + (1 - w) * text)
        assert np.allclose(list(mixed["ensemble"].values()), expected / expected.sum())
        assert mixed["label"] == LABELS[int(np.argmax(expected))]
    assert remix(result, 1.0)["ensemble"] == pytest.approx(result["speech"])
    assert 0.0 <= speech_share(result) <= 1.0
    speech_only = dict(result, text=None)
    assert speech_share(speech_only) == 1.0 and remix(speech_only, 0.2)["ensemble"] == result["ensemble"]


def test_chart_has_fixed_order_and_korean_names(running_app, app_clips):
    from emoens.ui.analyze import chart_sources
    from emoens.ui.charts import probabilities_figure

    result = _expected(running_app.recognizer, app_clips.speech, app_clips.text)
    fig = probabilities_figure(chart_sources(result))
    assert [t.name for t in fig.data] == ["음성 speech", "텍스트 text", "앙상블 ensemble"]
    for trace, key in zip(fig.data, ("speech", "text", "ensemble")):
        assert trace.orientation == "h"  # horizontal bars: readable class names on a phone
        assert list(trace.y) == [f"{LABELS_KO[lb]} {lb}" for lb in LABELS]
        assert np.allclose(trace.x, [result[key][lb] for lb in LABELS])


def test_long_audio_gets_a_timeline_chart(running_app, app_settings):
    from emoens.ui.analyze import analyze
    from emoens.ui.charts import timeline_figure
    from tests.fixtures.audio import tone

    samples = np.concatenate([tone(12.0, freq=200.0), tone(12.0, freq=600.0)])
    result = analyze(running_app.recognizer, (16000, samples), None, app_settings, transcribe=False)
    timeline = result["timeline"]
    assert len(timeline) > 1
    fig = timeline_figure(timeline)
    assert [t.name.split()[-1] for t in fig.data] == list(LABELS)
    for i, label in enumerate(LABELS):
        assert np.allclose(fig.data[i].y, [w["ensemble"][label] for w in timeline])
        assert np.allclose(fig.data[i].x, [(w["start"] + w["end"]) / 2 for w in timeline])


def test_zerogpu_decorator_is_applied_only_when_spaces_imports(monkeypatch, running_app, app_settings):
    import types

    from emoens.ui import build_demo

    wrapped = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda fn: wrapped.append(fn.__name__) or fn
    monkeypatch.setitem(sys.modules, "spaces", fake)
    build_demo(running_app.recognizer, app_settings)
    assert wrapped == ["run_analysis", "run_stream"]


def _analyze_tab(recognizer, settings):
    """The Analyze tab's handlers on ``recognizer`` without a page (components as names)."""
    from types import SimpleNamespace

    from emoens.ui import tab_analyze as T
    from emoens.ui.common import Context, bind

    ctx = Context(recognizer=recognizer, settings=settings)
    names = ("state status summary chart va timeline segments json download transcript source weight "
             "rerun segment_audio").split()
    return SimpleNamespace(ctx=ctx, run=bind(T.run_analysis, ctx), stream=bind(T.run_stream, ctx),
                           **{n: n for n in names}), T


def test_analyze_streams_the_timeline_and_the_stage_then_the_result(tone_recognizer, app_settings):
    from tests.fixtures.bundles import planted_tone

    ui, T = _analyze_tab(tone_recognizer, app_settings)
    wave = np.concatenate([planted_tone("happy", 14.0), planted_tone("sad", 14.0, seed=1)])
    tone_recognizer.hop_seconds = 5.0  # overlapping windows at 0, 5, 10, 15, 18 s
    batch, tone_recognizer.batch_size = tone_recognizer.batch_size, 2  # 5 windows: three batches
    try:
        updates = list(T.on_analyze(ui, (16000, wave), "", False))
    finally:
        tone_recognizer.batch_size = batch
    statuses = [u["status"] for u in updates if "status" in u]
    assert statuses[:2] == ["⏳ 음성 읽는 중 · reading the audio…", "⏳ 분석 중 0/28 s · analysing 0/28 s"]
    progress = [u for u in updates if "timeline" in u and "state" not in u]
    assert [u["status"].split(" · 취소")[0] for u in progress] == [
        "⏳ 분석 중 15/28 s · analysing 15/28 s", "⏳ 분석 중 25/28 s · analysing 25/28 s",
        "⏳ 분석 중 28/28 s · analysing 28/28 s"]
    assert [len(u["segments"]["value"]) for u in progress] == [2, 4, 5]  # the table fills in too
    assert all(u["timeline"]["value"].layout.xaxis.range == (0, 28.0) for u in progress)
    assert "텍스트" in statuses[-2] and "scoring the text" in statuses[-2]
    final = updates[-1]
    expected = tone_recognizer.analyze((16000, wave), transcribe=False)
    assert final["status"] == "" and final["state"]["result"]["timeline"] == expected["timeline"]
    assert len(final["segments"]["value"]) == len(expected["timeline"]) == 5


def test_cancelling_the_analyze_generator_stops_between_windows(tone_recognizer, app_settings):
    from tests.fixtures.bundles import planted_tone

    from emoens.ui.fair import Lanes

    ui, T = _analyze_tab(tone_recognizer, app_settings)
    ui.ctx.lanes = Lanes(long_seconds=10.0)  # 29 s: the long lane
    member = tone_recognizer.members["tone"]
    calls, original, batch = [], member.predict_proba, tone_recognizer.batch_size
    member.predict_proba = lambda waves: calls.append(len(waves)) or original(waves)
    tone_recognizer.batch_size = 2  # 29 s: 5 windows in three batches
    try:
        run = T.on_analyze(ui, (16000, planted_tone("sad", 29.0)), "", False)
        while "timeline" not in next(run):  # up to the first partial timeline
            pass
        run.close()  # what gradio does to a cancelled event's generator
    finally:
        member.predict_proba, tone_recognizer.batch_size = original, batch
    assert calls == [2]  # the other three windows never ran
    assert ui.ctx.lanes.long.busy == 0  # and the lane was given back


# --------------------------------------------------------------------------- Compare


@pytest.fixture(scope="module")
def small_manifest(tmp_path_factory, app_clips):
    """Six utterances (3 neutral, 2 happy, 1 angry), one of them with a missing wav."""
    from emoens.manifest import write_manifest
    from tests.fixtures.audio import tone, write_wav

    root = tmp_path_factory.mktemp("compare")
    labels = ["neutral", "neutral", "neutral", "happy", "happy", "angry"]
    rows = []
    for i, label in enumerate(labels):
        rel = f"wav/u{i}.wav"
        if i == 5:
            rel = "wav/missing.wav"
        elif i == 0:
            (root / "wav").mkdir(exist_ok=True)
            (root / rel).write_bytes(app_clips.speech.read_bytes())
        else:
            write_wav(root / rel, tone(1.0 + 0.2 * i, freq=150.0 + 60 * i))
        rows.append({"utt_id": f"u{i}", "corpus": "toy", "audio_path": rel, "label": label,
                     "text": "정말 기뻐요" if label == "happy" else "그냥 그래요"})
    path = root / "manifest.csv"
    write_manifest(pd.DataFrame(rows), path)
    return path


def test_compare_table_and_metrics(running_app, small_manifest, app_settings):
    from sklearn.metrics import f1_score

    from emoens.ui import compare as C

    items = C.items_from_manifest(C.read_manifest_frame(small_manifest))
    frame = C.run_compare(running_app.recognizer, items, app_settings)
    assert list(frame["utterance"]) == [f"u{i}" for i in range(6)]
    assert list(frame["status"][:5]) == ["ok"] * 5
    assert "missing.wav" in frame["status"][5]
    ok = frame[frame["status"] == "ok"]
    for model in ("speech", "text", "ensemble"):
        assert set(ok[f"{model}_label"]) <= set(LABELS)
    agree = (ok["speech_label"] == ok["text_label"]) & (ok["text_label"] == ok["ensemble_label"])
    assert list(ok["agree"]) == list(agree)

    table, matrices = C.metrics(frame)
    by_model = table.set_index("model")
    # The all-neutral baseline on the 5 analysed rows: 3 of 5 are neutral.
    assert by_model.loc[C.BASELINE, "n"] == 5
    assert by_model.loc[C.BASELINE, "accuracy"] == pytest.approx(0.6)
    assert by_model.loc[C.BASELINE, "macro_f1"] == pytest.approx(
        f1_score(["neutral"] * 3 + ["happy"] * 2, ["neutral"] * 5, average="macro", zero_division=0), abs=1e-4)
    assert by_model.loc[C.BASELINE, "unweighted_accuracy"] == pytest.approx(0.5)
    for model in ("speech", "text", "ensemble"):
        correct = (ok["true"] == ok[f"{model}_label"]).mean()
        assert by_model.loc[model, "accuracy"] == pytest.approx(correct, abs=1e-4)
        assert matrices[model].sum() == 5
        assert np.trace(matrices[model]) == int((ok["true"] == ok[f"{model}_label"]).sum())
    assert matrices[C.BASELINE][:, LABELS.index("neutral")].sum() == 5

    styled = C.styled_table(frame).to_html()
    assert "#e3f4e1" in styled or "#fff4d6" in styled
    assert "#fde2e1" in styled  # the error row


def test_compare_refuses_too_many_and_nothing(running_app, app_settings):
    from emoens.ui import compare as C
    from emoens.ui.config import UIError

    with pytest.raises(UIError, match="nothing to compare"):
        C.run_compare(running_app.recognizer, [], app_settings)
    items = [C.Item(name=f"x{i}", audio="x.wav") for i in range(app_settings.max_compare + 1)]
    with pytest.raises(UIError, match="at most 20"):
        C.run_compare(running_app.recognizer, items, app_settings)


# --------------------------------------------------------------------------- Explore


@pytest.fixture(scope="module")
def explore_frame(tmp_path_factory):
    from emoens.manifest import write_manifest

    from emoens.ui.compare import read_manifest_frame

    spec = [  # corpus, split, label, label_raw, duration, valence
        ("kemdy19", "train", "neutral", "neutral", 2.0, 3.0),
        ("kemdy19", "train", "neutral", "neutral;happy", 3.0, 3.2),
        ("kemdy19", "train", "happy", "happy", 4.0, 4.5),
        ("kemdy19", "test", "angry", "angry", 1.5, 1.5),
        ("kemdy20", "train", "neutral", "neutral", 2.5, 3.1),
        ("kemdy20", "train", "sad", "sad;neutral", 5.0, 2.0),
        ("kemdy20", "train", "", "", 1.0, None),
    ]
    rows = [{"utt_id": f"e{i}", "corpus": c, "split": s, "label": lb, "label_raw": raw, "duration": d,
             "valence": v, "audio_path": f"wav/e{i}.wav", "text": f"문장 {i}"}
            for i, (c, s, lb, raw, d, v) in enumerate(spec)]
    path = tmp_path_factory.mktemp("explore") / "manifest.csv"
    write_manifest(pd.DataFrame(rows), path)
    return read_manifest_frame(path)


def test_explore_counts_ties_filters_and_listing(explore_frame):
    from emoens.ui import explore as E

    stats = E.stats_of(explore_frame, "toy")
    counts = E.class_counts(stats)
    assert list(counts.index) == list(LABELS)
    assert counts.loc["neutral", "kemdy19 · train"] == 2
    assert counts.loc["neutral", "kemdy20 · train"] == 1
    assert counts.loc["angry", "kemdy19 · test"] == 1
    assert counts["total"].sum() == 6  # the unlabelled row is not counted
    fig = E.distribution_figure(counts)
    assert sum(sum(t.y) for t in fig.data) == 6
    assert "7 utterances, 6 labelled" in E.summary_markdown(stats, "toy")

    ties = E.ties_table(stats).set_index("코퍼스 corpus")
    assert ties.loc["kemdy19", "동률 ties"] == 1 and ties.loc["kemdy20", "동률 ties"] == 1
    assert ties.loc["전체 all", "비율 share"] == pytest.approx(2 / 7, abs=1e-4)
    assert E.ties_table(E.stats_of(explore_frame.iloc[[0, 2]])).empty  # no ties: no all-zero table

    choices = E.filter_choices(explore_frame)
    assert choices["corpus"] == ["kemdy19", "kemdy20"] and choices["split"] == ["test", "train"]
    only20 = E.apply_filters(explore_frame, {"corpus": ["kemdy20"], "split": []})
    assert set(only20["corpus"]) == {"kemdy20"} and len(only20) == 3
    assert E.class_counts(E.stats_of(only20))["total"].sum() == 2
    assert list(E.class_counts(stats, splits=["test"]).columns) == ["kemdy19 · test", "total"]

    listing = E.utterances_of(explore_frame, "neutral")
    assert list(listing["utt_id"]) == ["e0", "e1", "e4"]
    assert not listing["on_disk"].any()
    assert E.label_from_cell("중립 neutral") == "neutral"

    durations = E.duration_figure(stats)
    assert sum(sum(t.y) for t in durations.data) == 7
    va = E.valence_arousal_figure(stats)
    happy = [lb.split("<br>")[1] for lb in va.data[0].x].index("happy")
    assert va.data[0].y[happy] == pytest.approx(4.5)


def test_explore_reads_bundled_statistics(tmp_path, explore_frame):
    from emoens.files import write_json
    from emoens.ui import explore as E
    from emoens.ui.config import UIError

    write_json(tmp_path / "train.json", E.stats_of(explore_frame, "toy"))
    stats = E.read_stats(tmp_path / "train.json")
    assert E.filter_choices(None, stats)["corpus"] == ["kemdy19", "kemdy20"]
    assert E.class_counts(stats, corpora=["kemdy19"])["total"].tolist() == [1, 0, 0, 1, 2, 0, 0]
    write_json(tmp_path / "other.json", {"format": "something-else"})
    with pytest.raises(UIError, match="other.json"):
        E.read_stats(tmp_path / "other.json")


# --------------------------------------------------------------------------- Model tab, settings, app.py


def test_model_tab_shows_the_bundles_members_and_weights(running_app, app_bundle_dir):
    from emoens.ui import model as M

    directory = M.bundle_dir(running_app.recognizer, str(app_bundle_dir))
    spec, card = M.read_bundle(directory)
    on_disk = json.loads((app_bundle_dir / "bundle.json").read_text(encoding="utf-8"))
    table = M.members_table(spec)
    assert list(table["member"]) == [m["name"] for m in on_disk["members"]]
    assert list(table["weight"]) == [float(m.get("weight", 0)) for m in on_disk["members"]]
    assert table["share"].sum() == pytest.approx(1.0, abs=1e-3)
    if (app_bundle_dir / "MODEL_CARD.md").is_file():
        assert card == (app_bundle_dir / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_settings_and_launch_kwargs_from_the_environment(monkeypatch):
    from emoens.ui import launch_kwargs
    from emoens.ui.config import Settings, UIError

    monkeypatch.setenv("EMOENS_MAX_UPLOAD_MB", "3")
    monkeypatch.setenv("EMOENS_MAX_AUDIO_SECONDS", "45")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    settings = Settings.from_env()
    assert settings.max_upload_mb == 3 and settings.max_audio_seconds == 45
    kwargs = launch_kwargs(settings)
    assert kwargs["server_name"] == "0.0.0.0" and kwargs["server_port"] == 7999
    assert kwargs["max_file_size"] == 3 * 1024 * 1024
    monkeypatch.delenv("GRADIO_SERVER_NAME")
    monkeypatch.delenv("GRADIO_SERVER_PORT")
    assert launch_kwargs(settings)["server_name"] == "127.0.0.1"
    assert launch_kwargs(settings)["server_port"] == 7860
    monkeypatch.setenv("EMOENS_MAX_UPLOAD_MB", "lots")
    with pytest.raises(UIError, match="EMOENS_MAX_UPLOAD_MB"):
        Settings.from_env()


def test_app_py_serves_the_page(app_bundle_dir):
    import httpx

    from tests.fixtures.app import free_port

    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), EMOENS_BUNDLE=str(app_bundle_dir))
    env.pop("GRADIO_SERVER_NAME", None)
    env.pop("GRADIO_ANALYTICS_ENABLED", None)
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                if page.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.5)
        assert page.status_code == 200 and "emoens" in page.text
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).json()
        assert config.get("analytics_enabled") is False
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_app_py_with_a_missing_bundle_says_so_without_traceback(tmp_path):
    env = dict(os.environ, EMOENS_BUNDLE=str(tmp_path / "no-such-bundle"))
    out = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1
    assert "emoens app: error:" in out.stderr and "no-such-bundle" in out.stderr
    assert "Traceback" not in out.stderr


# --------------------------------------------------------------------------- issue 17: honest, Korean, consistent


def test_result_panel_withholds_the_headline_when_not_reliable(running_app, app_clips):
    from emoens.ui import analyze as A

    silent = running_app.recognizer.analyze((16000, np.zeros(32000, dtype=np.float32)), text="정말 기뻐요")
    panel = A.summary_markdown(silent)
    assert "판단 보류" in panel and "no clear result" in panel and "silent" in panel
    assert not panel.startswith(f"## {silent['label_ko']}")
    result = _expected(running_app.recognizer, app_clips.speech, app_clips.text)
    # The recognizer's own judgement wins over the app's fallback rules.
    sure = dict(result, reliable=True, reason=None, disagreement=False)
    assert A.summary_markdown(sure).startswith(f"## {result['label_ko']} · {result['label']} — ")
    unsure = dict(result, reliable=False, reason="disagreement", disagreement=True)
    text = A.summary_markdown(unsure)
    assert text.startswith("## 판단 보류") and "speech and text point different ways" in text
    # a result without the recognizer's verdict (e.g. re-mixed by the slider) is judged by the same rule
    remixed = {k: v for k, v in result.items() if k not in ("reliable", "reason", "confidence", "disagreement")}
    assert A.judgement(dict(remixed, ensemble={lb: 1 / 7 for lb in LABELS}))["reason"] in ("low_confidence",
                                                                                            "disagreement")


def test_slider_json_and_download_show_the_same_result(running_app, app_clips):
    from emoens.ui import analyze as A

    result = _expected(running_app.recognizer, app_clips.speech, app_clips.text)
    shown = A.shown_result(result, 1.0)
    assert shown["ensemble"] == pytest.approx(result["speech"]) and shown["speech_weight"] == 1.0
    assert A.summary_markdown(shown).count(LABELS_KO[shown["label"]]) >= 1
    assert A.shown_result(result, None) == result and A.shown_result(result, A.speech_share(result)) == result
    assert A.download_name("/tmp/gradio/abc/내 녹음 01.wav") == "내녹음01_emoens.json"
    assert A.download_name(None) == "recording_emoens.json"


def test_rerun_with_edited_text_rescores_text_and_fusion_only(running_app, app_clips, monkeypatch):
    from emoens.ui import analyze as A

    recognizer = running_app.recognizer
    first = _expected(recognizer, app_clips.speech, "그냥 그래요")
    expected = _expected(recognizer, app_clips.speech, app_clips.text)
    speech_members = [m for m in recognizer.members.values() if m.modality == "speech"]
    for member in speech_members:  # the speech model must not run again
        monkeypatch.setattr(member, "predict_proba", lambda *a, **k: pytest.fail("speech re-ran"))
    again = A.rescore_text(recognizer, first, app_clips.text)
    assert again["transcript"] == app_clips.text and again["transcript_source"] == "given"
    for key in ("speech", "text", "ensemble"):
        assert again[key] == pytest.approx(expected[key], abs=1e-6)
    assert again["label"] == expected["label"]
    blank = A.rescore_text(recognizer, first, "  ")
    from emoens.fusion import apply_fusion

    speech_only = apply_fusion(recognizer.fusion, {n: [m["proba"][lb] for lb in LABELS]
                                                   for n, m in first["members"].items()
                                                   if m["modality"] == "speech"})[0]
    assert blank["text"] is None and blank["label"] == max(first["speech"], key=first["speech"].get)
    assert list(blank["ensemble"].values()) == pytest.approx(list(speech_only), abs=1e-6)


def test_errors_are_korean_first_without_developer_advice():
    from emoens.ui.text_ko import korean_error

    long = korean_error("long.wav is 40.0 s long, longer than the 30 s limit (pass max_seconds or set "
                        "EMOENS_MAX_AUDIO_SECONDS to allow longer audio)")
    assert long.startswith("음성이 너무 깁니다") and "long.wav" in long and "EMOENS" not in long
    manifest = korean_error("m.csv: missing column(s) utt_id (a manifest needs utt_id, audio_path; see DESIGN §3)")
    assert "utt_id" in manifest and "DESIGN" not in manifest and manifest.startswith("매니페스트")
    for english in ("no audio received: record", "empty.wav is empty (0 bytes): upload",
                    "cannot decode x.wav as audio (bad)", "x.webm needs ffmpeg to be decoded: install ffmpeg"):
        out = korean_error(english)
        assert any("\uac00" <= ch <= "\ud7a3" for ch in out.split(" · ")[0]), out
        assert "ffmpeg`" not in out and "EMOENS" not in out


def test_compare_pairs_txt_with_wav_no_nan_and_bom(tmp_path, running_app, app_settings, app_clips):
    from emoens.ui import compare as C

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    wav = tmp_path / "a" / "clip1.wav"
    wav.write_bytes(app_clips.speech.read_bytes())
    txt = tmp_path / "b" / "clip1.txt"  # uploads land in different folders
    txt.write_text(app_clips.text, encoding="utf-8")
    items = C.items_from_files([str(wav), str(txt), str(app_clips.empty)])
    assert [i.name for i in items] == ["clip1.wav", "empty.wav"] and items[0].text == app_clips.text
    frame = C.run_compare(running_app.recognizer, items, app_settings)
    assert frame["status"][0] == "ok" and frame["transcript"][0] == app_clips.text
    assert "empty" in frame["status"][1] and "/" not in frame["status"][1].split(" · ")[-1].split(" ")[0]
    html = C.styled_table(frame).to_html()
    assert "nan" not in html.lower().replace("nanum", "")
    C.write_csv_bom(tmp_path / "out.csv", frame)
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and app_clips.text.encode("utf-8") in raw


def test_explore_summary_follows_filters_and_no_none_options(explore_frame, tmp_path):
    from emoens.ui import explore as E

    frame = explore_frame.copy()
    frame.loc[frame.index[0], "corpus"] = ""
    choices = E.filter_choices(frame)
    assert all("(none)" not in values and "" not in values for values in choices.values())
    stats = E.stats_of(explore_frame, "toy")
    only20 = E.class_counts(stats, corpora=["kemdy20"])
    assert "2 labelled utterances match" in E.summary_markdown(stats, "toy", only20)
    assert "0.3 min of audio" in E.summary_markdown(stats, "toy", seconds=E.audio_seconds(explore_frame))
    no_durations = E.summary_markdown(E.stats_of(explore_frame.assign(duration=float("nan"))), "x", seconds=0.0)
    assert "durations not given" in no_durations and "0.0 min" not in no_durations


def test_model_tab_card_and_metrics_are_readable(running_app, app_bundle_dir):
    from emoens.ui import model as M

    spec, card = M.read_bundle(M.bundle_dir(running_app.recognizer, str(app_bundle_dir)))
    shown = M.card_for_display(card or "x {form} y", spec)
    assert "{form}" not in shown and shown.startswith("> **요약**")
    overview = M.overview_markdown(spec, app_bundle_dir)
    assert "{'" not in overview and "': " not in overview  # no raw Python dict
    table = M.metrics_table(spec)
    nums = M.headline_numbers(spec)
    if nums:
        assert f"UAR 음성 {nums['speech']:.2f}" in M.model_line(spec) and not table.empty
        assert "nan" not in table.to_string().lower()
    assert "아닙니다" in M.model_line(spec) and "not" in M.model_line(spec)


def _scores(uar: float, n: int = 100) -> dict:
    return {"uar": uar, "macro_f1": uar - 0.02, "n": n}


NEW_METRICS = {
    "protocol": "leave one corpus out", "checks": {"mean_speech_gain": 0.07},
    "mean_uar": {"speech": 0.372, "text": 0.2, "ensemble": 0.451, "previous speech": 0.3, "previous ensemble": 0.33},
    "heldout_corpora": {
        "kemdy19": {"scores": {"speech": _scores(0.4), "text": _scores(0.3), "ensemble": _scores(0.5, 956),
                               "previous ensemble": _scores(0.35), "all-neutral": _scores(1 / 7)},
                    "ece": 0.05, "va": {"valence_ccc": 0.2}},
        "crema": {"scores": {"speech": _scores(0.34), "ensemble": _scores(0.4), "all-neutral": _scores(0.25)},
                  "ece": 0.1},
        "kemdy19 impro": {"scores": {"ensemble": _scores(0.3), "all-neutral": _scores(0.125)}}}}


def test_model_line_and_table_read_the_bundles_heldout_corpora():
    from emoens.model_card import model_card
    from emoens.ui import model as M

    spec = {"name": "t", "fusion": {"method": "confidence"}, "metrics": NEW_METRICS,
            "members": [{"name": "s", "modality": "speech", "kind": "k", "path": "s", "weight": 0.5}]}
    line = M.model_line(spec)
    # the sub-row (kemdy19 impro, 8 classes) is not a corpus: chance spans 1/7 .. 1/4
    assert "처음 듣는 코퍼스에서 평균 UAR 음성 0.37 · 앙상블 0.45 (우연 0.14–0.25)" in line
    assert "speech 0.37, ensemble 0.45 (chance 0.14–0.25)" in line
    table = M.metrics_table(spec)
    assert list(table["코퍼스 corpus"]) == ["평균 mean", "kemdy19", "crema", "kemdy19 impro"]
    assert table.loc[1, "n"] == "956" and table.loc[1, "앙상블 ensemble UAR"] == "0.500"
    assert table.loc[2, "텍스트 text UAR"] == "–" and table.loc[0, "음성 speech UAR"] == "0.372"
    assert "nan" not in table.to_string().lower()
    card = model_card(spec)
    summary = M.card_summary(spec, card)
    assert summary.startswith("> **요약**") and "0.372" in summary  # the card's own Korean summary
    body = M.card_body(card, spec)
    assert "## 요약" not in body and "## Evaluation" in body and "{form}" not in body
    # a bundle without the new keys (the old metrics.heldout, or nothing) shows no numbers
    for old in ({"metrics": {"heldout": {"x": {"ensemble": {"overall": {"macro_f1": 0.4}}}}}}, {}, {"metrics": None}):
        assert "UAR" not in M.model_line(old) and "아닙니다" in M.model_line(old)
        assert M.headline_numbers(old) is None and M.metrics_table(old).empty
    broken = {"metrics": {"mean_uar": {"speech": "x"}, "heldout_corpora": {"a": {"scores": [1]}, "b": 3}}}
    assert M.headline_numbers(broken) is None and M.metrics_table(broken).empty


def test_short_lane_admits_its_width_and_the_long_lane_stays_narrow():
    """Lanes(…, workers=1, short_workers=3): three short clips at once, a fourth waits; one long."""
    import threading

    from emoens.ui.fair import Lanes

    lanes = Lanes(long_seconds=30.0, workers=1, short_workers=3)
    held, release = [], threading.Event()

    def hold(seconds):
        with lanes.slot(seconds):
            held.append(seconds)
            release.wait(10)

    threads = [threading.Thread(target=hold, args=(s,), daemon=True) for s in (5, 5, 5, 5, 60, 60)]
    for th in threads:
        th.start()
    deadline = time.time() + 5
    while len(held) < 4 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a fifth holder would have had time to get in
    assert sorted(held) == [5, 5, 5, 60]
    release.set()
    for th in threads:
        th.join(10)
    assert sorted(held) == [5, 5, 5, 5, 60, 60]


def test_a_lane_serves_waiters_in_the_order_they_came():
    """One place, five waiters lined up one after another: they get in in that order (a polled
    semaphore hands the place to whoever polls first); a waiter whose client leaves drops out."""
    import threading

    from emoens.ui.config import UIError
    from emoens.ui.fair import FifoLane

    lane = FifoLane(1)
    lane.acquire()
    order, gone, threads = [], threading.Event(), []

    def wait(i):
        try:
            lane.acquire(alive=lambda: not (i == 2 and gone.is_set()), poll=0.01)
        except UIError:
            order.append(f"{i} left")
            return
        order.append(i)
        time.sleep(0.02)
        lane.release()

    for i in range(5):
        threads.append(threading.Thread(target=wait, args=(i,), daemon=True))
        threads[-1].start()
        time.sleep(0.1)  # each is in line before the next comes
    gone.set()
    time.sleep(0.1)
    lane.release()
    for th in threads:
        th.join(5)
    assert order == ["2 left", 0, 1, 3, 4]
    assert lane.busy == 0
    with pytest.raises(RuntimeError, match="released more often"):
        lane.release()


def test_a_finished_event_no_longer_counts_against_its_client():
    """gradio sends an event's result, then clears its job a moment later: from the result on,
    the per-visitor count (emoens.ui.fair._events) leaves it out."""
    from types import SimpleNamespace

    from gradio.server_messages import ProcessCompletedMessage, ProgressMessage

    from emoens.ui import fair

    sent = []
    done, running = SimpleNamespace(name="done"), SimpleNamespace(name="running")
    queue = SimpleNamespace(event_queue_per_concurrency_id={}, active_jobs=[[done, running], None],
                            push=None, send_message=lambda e, m: sent.append((e.name, m.msg)))
    fair.install(SimpleNamespace(_queue=queue), per_client=2)
    try:
        queue.send_message(done, ProgressMessage(progress_data=[]))
        assert [e.name for e in fair._events(queue)] == ["done", "running"]
        queue.send_message(done, ProcessCompletedMessage(output={}, success=True))
        assert [e.name for e in fair._events(queue)] == ["running"]
        assert sent == [("done", "progress"), ("done", "process_completed")]  # still delivered
    finally:
        fair._queues.remove(queue)
