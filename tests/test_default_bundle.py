"""The shipped default bundle (emoens/assets/default): loadable, pickle-free, card numbers = recorded numbers,
and (with ../shared/data) the shipped members reproduce the numbers the training run recorded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from emoens.bundle import load_bundle

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "emoens" / "assets" / "default"
RESULTS = REPO / "training" / "default" / "results" / "results.json"

pytestmark = pytest.mark.skipif(not (BUNDLE / "bundle.json").is_file(),
                                reason="emoens/assets/default not built yet (emoens train-default)")


@pytest.fixture(scope="module")
def config():
    return load_bundle(BUNDLE).config


def test_bundle_is_light_and_safe(config):
    kinds = {m["name"]: m["kind"] for m in config["members"]}
    assert kinds == {"speech": "whisper-head", "text": "text-head"}
    assert config["asr"]["backend"] == "faster-whisper"
    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    assert size < 20 * 1024 * 1024
    assert not [p for p in BUNDLE.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib", ".bin")]
    weights = [m["weight"] for m in config["members"]]
    assert abs(sum(weights) - 1) < 1e-9 and all(w > 0 for w in weights)


def _card_rows(card: str, heading: str) -> dict[tuple[str, str], list[str]]:
    section = card.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"\d+", cells[2]):
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def test_card_numbers_are_the_recorded_numbers(config):
    card = (BUNDLE / "MODEL_CARD.md").read_text(encoding="utf-8")
    heldout = config["metrics"]["heldout"]
    for heading, key in (("### KEMDy19", "kemdy19_mean"), ("### KEMDy20", "kemdy20_sess01_heldout")):
        rows = _card_rows(card, heading)
        assert rows, f"no result table under {heading}"
        for (system, part), cells in rows.items():
            m = heldout[key][system][part]
            assert cells == [str(m["n"]), f"{m['macro_f1']:.3f}", f"{m['unweighted_accuracy']:.3f}",
                             f"{m['accuracy']:.3f}"]
        assert {s for s, _ in rows} >= {"speech", "text", "ensemble", "all-neutral", "class-prior"}
    if RESULTS.is_file():  # the committed results file is from the same run
        assert json.loads(RESULTS.read_text(encoding="utf-8"))["heldout"] == heldout


@pytest.mark.slow
@pytest.mark.data
def test_shipped_bundle_reproduces_its_recorded_numbers(shared_data, config):
    """Run the shipped members on the real KEMDy20 session (the smallest) through the inference path."""
    from emoens.audio import load_audio
    from emoens.commands.train_default import _summary, load_rows
    from emoens.fusion import apply_fusion
    from emoens.labels import LABEL_TO_ID
    from emoens.models import load_member

    bundle = load_bundle(BUNDLE)
    members = {m.name: load_member(m.kind, bundle.member_path(m)) for m in bundle.members}
    frame, _ = load_rows(shared_data)
    frame = frame[frame["session_key"] == "kemdy20:Sess01"]
    assert len(frame) > 100
    y = np.array([LABEL_TO_ID[label] for label in frame["label"]])
    speech = members["speech"].predict_proba([load_audio(p, max_seconds=None) for p in frame["audio_path"]])
    text = members["text"].predict_proba([t if isinstance(t, str) else "" for t in frame["text"]])
    ensemble = apply_fusion(bundle.fusion, {"speech": speech, "text": text})
    recorded = config["metrics"]["training_data_fit"]["kemdy20:Sess01"]
    for name, proba in (("speech", speech), ("text", text), ("ensemble", ensemble)):
        got = _summary(y, proba)
        assert got["n"] == recorded[name]["n"]
        # int8 kernels may differ across CPUs: a prediction or two, not a different model
        assert abs(got["macro_f1"] - recorded[name]["macro_f1"]) <= 0.01, name
        assert abs(got["accuracy"] - recorded[name]["accuracy"]) <= 0.01, name


@pytest.mark.parametrize("form", ["linear", "loglinear", "loglinear_bias"])
def test_fusion_forms_are_applied_by_the_unchanged_loader(form):
    """The fusion forms train-default may choose are plain fusion configs that apply_fusion applies
    exactly as the training code scored them (log-linear pooling stored as a diagonal stack)."""
    from emoens.commands.train_default import _fusion_proba, fusion_config
    from emoens.fusion import apply_fusion, validate_fusion

    rng = np.random.default_rng(0)
    speech, text = rng.dirichlet(np.ones(7), 20), rng.dirichlet(np.ones(7), 20)
    bias = np.linspace(-0.5, 0.5, 7) if form == "loglinear_bias" else None
    config = validate_fusion(json.loads(json.dumps(fusion_config(form, 0.3, {}, bias))))
    got = apply_fusion(config, {"speech": speech, "text": text})
    assert np.allclose(got, _fusion_proba(form, 0.3, bias, speech, text), atol=1e-9)
    # without a transcript the speech member decides alone
    assert np.allclose(apply_fusion(config, {"speech": speech, "text": None}), speech)
