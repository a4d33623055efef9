"""One of each (issue 16): settings, suffixes, the CLI's commands, shared model helpers."""

from __future__ import annotations

import numpy as np
import pytest

from emoens import settings
from emoens.labels import LABELS


def test_every_command_module_registers():
    from emoens.cli import COMMAND_MODULES, build_parser

    choices = build_parser()._subparsers._group_actions[0].choices
    assert set(choices) == {name.replace("_", "-") for name in COMMAND_MODULES}


def test_a_missing_command_module_is_an_error_not_a_silent_skip(monkeypatch):
    from emoens import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + ("no_such_command",))
    with pytest.raises(ModuleNotFoundError, match="no_such_command"):
        cli.build_parser()


@pytest.mark.parametrize("stem, modality", [
    ("hubert-base", "speech"), ("kresnik_hubert_preds", "speech"), ("wav2vec2", "speech"),
    ("whisper-head", "speech"), ("kobert", "text"), ("klue-roberta", "text"), ("text", "text"),
    ("kote_bert", "text"), ("model_a", "speech")])
def test_fuse_guesses_modality_from_the_file_name(stem, modality):
    from emoens.commands.fuse import guess_modality

    assert guess_modality(stem) == modality


def test_threads_setting(monkeypatch):
    monkeypatch.setenv("EMOENS_THREADS", "3")
    assert settings.default_threads() == 3
    from emoens.models import whisper

    assert whisper.default_threads() == 3
    monkeypatch.setenv("EMOENS_THREADS", "many")
    with pytest.raises(Exception, match="EMOENS_THREADS='many'"):
        settings.default_threads()
    monkeypatch.delenv("EMOENS_THREADS")
    assert settings.default_threads() >= 1


def test_one_audio_suffix_list():
    from emoens.commands import predict
    from emoens.ui import compare

    assert predict.AUDIO_SUFFIXES is settings.AUDIO_SUFFIXES is compare.AUDIO_SUFFIXES
    assert all(s.startswith(".") and s == s.lower() for s in settings.AUDIO_SUFFIXES)


def test_label_permutation_is_shared_and_light():
    from types import SimpleNamespace

    from emoens.models.common import ModelError, label_permutation

    reversed_config = SimpleNamespace(id2label=dict(enumerate(reversed(LABELS))))
    assert list(label_permutation(reversed_config, "x")) == list(range(6, -1, -1))
    with pytest.raises(ModelError, match="lacks the classes"):
        label_permutation(SimpleNamespace(id2label=dict(enumerate(["angry"] * 7))), "x")
    assert np.asarray(label_permutation(SimpleNamespace(id2label=dict(enumerate(LABELS))),
                                        "x")).tolist() == list(range(7))
