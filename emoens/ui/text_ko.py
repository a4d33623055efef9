"""Visitor-facing words of the app in Korean and English.

Static labels go through gradio's i18n (:data:`I18N`; every locale shows the Korean line first,
then the English one). Messages made at run time are bilingual strings; the library's English
error messages (docs/errors.md) are given a Korean sentence in front by :func:`korean_error`, and
developer advice (environment variables, design-document sections, server paths) is removed.
"""

from __future__ import annotations

import re

from emoens.labels import LABELS_KO

# key -> (Korean, English)
WORDS: dict[str, tuple[str, str]] = {
    "intro": ("한국어 음성을 녹음하거나 올리면 음성 모델·텍스트 모델·앙상블이 각각 어떻게 듣는지 보여 줍니다.",
              "Record or upload Korean speech and see how the speech model, the text model and their ensemble hear it."),
    "tab_analyze": ("분석", "Analyze"), "tab_compare": ("비교", "Compare"),
    "tab_explore": ("탐색", "Explore"), "tab_model": ("모델", "Model"),
    "audio": ("음성 (녹음 또는 파일)", "speech (record or upload)"),
    "transcript": ("전사 (선택, 고칠 수 있음)", "transcript (optional, editable)"),
    "transcript_ph": ("말한 내용을 입력하세요", "type what was said"),
    "transcribe": ("전사가 없으면 자동 전사 (Whisper)", "transcribe automatically (Whisper) when no transcript is typed"),
    "transcribe_off": ("자동 전사 없음", "no automatic transcription"),
    "analyze_btn": ("분석", "Analyze"), "cancel_btn": ("취소", "Cancel"),
    "rerun_btn": ("이 텍스트로 다시 계산", "re-run with this text"),
    "examples": ("예시 — 합성 음성 (espeak-ng가 학습 데이터와 비슷한 문장을 읽음): 실제 음성보다 점수가 높게 나옵니다",
                 "examples — synthetic voice reading training-like sentences: scores here are higher than on real speech"),
    "chart": ("감정 확률", "emotion probabilities"),
    "va": ("정서가–각성 평면", "valence–arousal plane"),
    "weight": ("음성 비중 (1 = 음성만, 0 = 텍스트만): 모델을 다시 돌리지 않고 다시 섞음",
               "speech weight (1 = speech only, 0 = text only): re-mixes without re-running the models"),
    "source": ("전사 출처", "transcript source"),
    "timeline": ("시간에 따른 감정", "emotion over time"),
    "segments": ("구간별 결과 (행을 누르면 재생)", "per segment (click a row to play)"),
    "segment_audio": ("선택한 구간", "selected segment"),
    "json": ("JSON 결과 (화면에 보이는 결과와 같음)", "JSON result (the one shown)"),
    "download_json": ("JSON 내려받기", "Download JSON"), "download_csv": ("CSV 내려받기", "Download CSV"),
    "compare_intro": ("여러 음성 파일(같은 이름의 NAME.txt 전사와 함께) 또는 매니페스트 CSV(utt_id, audio_path, 선택: text, label)를 모든 모델에 넣습니다. 정답이 있으면 정확도·macro-F1·가중치 없는 정확도를 '항상 중립' 기준선과 나란히 보여 줍니다.",
                      "Several clips (a NAME.txt beside NAME.wav is its transcript) or a manifest CSV (utt_id, audio_path; optional text, label) through every model; with true labels, accuracy, macro-F1 and unweighted accuracy beside the all-neutral baseline."),
    "compare_files": ("음성 파일, 전사 .txt, 매니페스트 CSV", "audio files, .txt transcripts, manifest CSV"),
    "compare_path": ("또는 이 서버의 매니페스트 경로", "or a manifest path on this machine"),
    "compare_transcribe": ("전사가 없는 파일은 자동 전사 (느림)", "transcribe clips without a transcript (slower)"),
    "compare_btn": ("비교", "Compare"),
    "per_utt": ("발화별 결과 — 초록 = 모든 모델이 같은 답 (정답이라는 뜻은 아님), 노랑 = 모델끼리 다름, 빨강 = 오류",
                "per utterance — green = all models agree (not: correct), amber = they differ, red = error"),
    "metrics": ("지표 (정답이 있는 행)", "metrics (rows with a true label)"),
    "confusion": ("혼동 행렬", "confusion matrices"),
    "explore_intro": ("학습 데이터나 매니페스트의 클래스 분포, 길이, 정서가·각성, 동률을 봅니다. 막대나 표의 행을 누르면 그 클래스의 발화 목록이 나옵니다.",
                      "Class distribution, durations, valence/arousal and ties of the training data or a manifest; click a bar or a row to list that class's utterances."),
    "stats_choice": ("내장 통계", "bundled statistics"),
    "explore_path": ("이 서버의 매니페스트 경로", "manifest path on this machine"),
    "explore_upload": ("또는 매니페스트 CSV 올리기", "or upload a manifest CSV"),
    "load_btn": ("불러오기", "Load"),
    "corpus": ("코퍼스", "corpus"), "split": ("분할", "split"), "style": ("스타일", "style"), "gender": ("성별", "gender"),
    "distribution": ("클래스 분포", "class distribution"),
    "counts": ("클래스별 발화 수 (행을 누르세요)", "utterances per class (click a row)"),
    "listing": ("선택한 클래스의 발화 (행을 누르면 재생)", "utterances of the clicked class (click one to play)"),
    "player": ("선택한 발화의 음성", "audio of the clicked utterance"),
    "durations": ("길이", "durations"), "valence_arousal": ("정서가와 각성", "valence and arousal"),
    "ties": ("동률 (평가자 다수결이 갈린 발화)", "ties (raters' majority split between classes)"),
    "members": ("구성 모델과 융합 가중치", "members and fusion weights"),
    "heldout": ("처음 듣는 코퍼스에서의 성능 (UAR: 클래스별 재현율 평균, F1: macro-F1)",
                "results on corpora the models never heard (UAR: unweighted average recall)"),
    "card_full": ("모델 카드 전문 (영어)", "full model card (English)"),
}


def both(key: str) -> str:
    """The Korean line, then the English one: ``"분석 · Analyze"``."""
    ko, en = WORDS[key]
    return f"{ko} · {en}"


def make_i18n():
    """A ``gr.I18n`` whose every locale shows the bilingual text (Korean first)."""
    import gradio as gr

    table = {key: both(key) for key in WORDS}
    return gr.I18n(ko=table, en=table)


# --------------------------------------------------------------------------- result reasons

REASONS: dict[str, tuple[str, str]] = {
    "silent": ("소리가 거의 없어 판단할 수 없습니다", "the audio is silent: there is nothing to judge"),
    "no_speech": ("말소리를 찾지 못했습니다", "no speech found in the audio"),
    "low_confidence": ("뚜렷한 감정이 보이지 않습니다 (확신이 낮음)", "no clear emotion (low confidence)"),
    "disagreement": ("음성과 텍스트가 서로 다른 감정을 가리킵니다", "speech and text point different ways"),
}


def reason_line(reason: str | None) -> str:
    """Why a result is not shown as a headline, in Korean and English."""
    ko, en = REASONS.get(reason or "", ("결과를 믿기 어렵습니다", "the result is not reliable"))
    return f"{ko} · {en}"


def label_both(label: str) -> str:
    return f"{LABELS_KO.get(label, label)} · {label}"


# --------------------------------------------------------------------------- errors

# (pattern of the English message, Korean sentence) - the catalogue of docs/errors.md and the app's own.
_ERRORS: list[tuple[str, str]] = [
    (r"no audio received", "음성이 없습니다: 마이크로 녹음(분석 전에 정지)하거나 파일을 올린 뒤 다시 누르세요."),
    (r"is empty", "빈 파일입니다: 소리가 든 녹음을 올리세요."),
    (r"cannot decode .* as audio", "음성 파일로 읽을 수 없습니다 (WAV, FLAC, OGG, MP3 지원)."),
    (r"needs ffmpeg", "이 형식(WebM/M4A)은 이 서버에서 읽을 수 없습니다: WAV, FLAC, OGG, MP3로 올리세요."),
    (r"NaN or infinite", "음성에 잘못된 값(NaN/무한대)이 들어 있습니다."),
    (r"longer than the .* limit", "음성이 너무 깁니다: 더 짧게 잘라 올리세요."),
    (r"larger than the .* upload limit|File size exceeded", "파일이 너무 큽니다: 더 작은 파일을 올리세요."),
    (r"is a directory", "파일이 아니라 폴더입니다."),
    (r"not found|is missing on the server", "파일을 찾을 수 없습니다: 다시 올리세요."),
    (r"not valid text|cannot decode transcript", "전사를 글자로 읽을 수 없습니다: UTF-8 텍스트로 주세요."),
    (r"missing column", "매니페스트에 필요한 열이 없습니다 (utt_id, audio_path 필수; text, label 선택)."),
    (r"nothing to compare", "비교할 것이 없습니다: 음성 파일이나 매니페스트를 올리세요."),
    (r"at most \d+ per run", "한 번에 비교할 수 있는 개수를 넘었습니다."),
    (r"paths on the server are disabled", "이 서버에서는 경로 대신 파일을 올려 주세요."),
    (r"statistics|give a manifest", "통계나 매니페스트를 읽을 수 없습니다."),
    (r"not a class row", "클래스 행을 누르세요."),
    (r"unexpected error", "예기치 못한 오류가 났습니다 (자세한 내용은 서버 기록에 있음)."),
]
_ADVICE = [
    r"\s*\((?:pass max_seconds or )?set EMOENS_\w+[^)]*\)",  # "(... set EMOENS_MAX_AUDIO_SECONDS ...)"
    r"\s*\(EMOENS_\w+(?:=\w+)?\)",
    r"\s*\(EMOENS_LOCAL_PATHS=0\)",
    r";?\s*see DESIGN §\d+",
    r"\s*\(e\.g\. `?sudo apt-get install ffmpeg`?\)",
    r": install ffmpeg",
]


def visitor_text(message: str) -> str:
    """The library's message without developer advice (environment variables, design sections)."""
    out = str(message)
    for pattern in _ADVICE:
        out = re.sub(pattern, "", out)
    return re.sub(r"\(\s*\)", "", out).strip()


def korean_error(message: str) -> str:
    """``"<Korean sentence> · <English message>"`` for a known message; the English one otherwise."""
    english = visitor_text(message)
    for pattern, korean in _ERRORS:
        if re.search(pattern, english):
            return f"{korean} · {english}"
    return f"오류 · {english}"


_WARNINGS: list[tuple[str, str]] = [
    (r"silent", "소리가 없습니다: 이 결과에는 정보가 없습니다."),
    (r"no transcript", "전사가 없어 음성 모델만으로 판단했습니다."),
    (r"transcri|ASR|Whisper", "자동 전사를 쓸 수 없어 음성 모델만으로 판단했습니다."),
]


def korean_warning(warning: str) -> str:
    """A recognizer warning with a Korean sentence in front (developer advice removed)."""
    english = visitor_text(warning)
    for pattern, korean in _WARNINGS:
        if re.search(pattern, english):
            return f"{korean} · {english}"
    return f"주의 · {english}"
