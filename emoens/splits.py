"""Train/valid/test splits written into the manifest's ``split`` (and ``fold``) columns.

- ``seed``: the seed paper's split, reproduced exactly. For each corpus with sessions, its sessions
  sorted by name go through ``train_test_split(sessions, test_size=0.2, random_state=42)``; on
  the 40 KEMDy20 sessions the test sessions are Sess05, 13, 16, 17, 20, 27, 28, 38. Corpora
  without sessions (AI Hub, tables) get the seed's utterance-level 80/20 shuffle with seed 42 over
  their rows in manifest order. **That leaks speakers and scripts between train and test**: use it
  only to compare with the seed's numbers.
- ``session``: named held-out test sessions (``Sess05``, ``5``, or ``kemdy19:Sess01`` for one
  corpus), or a seeded ``test_size`` share of each corpus's sessions, or ``folds`` k folds by
  session (``fold`` column; fold 0 is the test part in ``split``, :func:`fold_split` gives any
  other). Rows without a session are grouped by speaker, then by utterance.
- ``speaker``: the same, grouped by speaker, for corpora without sessions.
- Validation is carved from the training part by whole sessions (speakers), never from test:
  ``valid_size`` is the share of each corpus's training groups (at least one when > 0).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from emoens.errors import EmoensError

METHODS: tuple[str, ...] = ("seed", "session", "speaker", "none")
SEED = 42
SEED_TEST_SIZE = 0.2


class SplitError(EmoensError):
    """A split that cannot be made (unknown sessions, too few sessions for the folds asked)."""


def _text(series: pd.Series) -> pd.Series:
    return series.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))


def group_keys(frame: pd.DataFrame, by: str = "session") -> pd.Series:
    """The unit kept together by a split: ``corpus/session`` (``by="session"``), else
    ``corpus/speaker``, else ``corpus/utt_id`` when a row has neither."""
    corpus = _text(frame["corpus"]) if "corpus" in frame else pd.Series([""] * len(frame), index=frame.index)
    session = _text(frame["session"]) if by == "session" and "session" in frame else pd.Series(
        [""] * len(frame), index=frame.index)
    speaker = _text(frame["speaker"]) if "speaker" in frame else pd.Series([""] * len(frame), index=frame.index)
    utt = _text(frame["utt_id"])
    unit = session.where(session != "", speaker.where(speaker != "", "utt:" + utt))
    return corpus + "/" + unit


def normalize_session(name: str) -> str:
    """``5``, ``05``, ``Sess5``, ``Session05`` -> ``Sess05``; other names are kept as given."""
    text = str(name).strip()
    match = re.fullmatch(r"(?i)(?:sess(?:ion)?)?_?(\d+)", text)
    return f"Sess{int(match.group(1)):02d}" if match else text


def _sessions_of(frame: pd.DataFrame) -> pd.Series:
    return _text(frame["session"]) if "session" in frame else pd.Series([""] * len(frame), index=frame.index)


def seed_split(frame: pd.DataFrame, *, valid_size: float = 0.0, seed: int = SEED) -> pd.DataFrame:
    """The seed paper's split (see the module docstring); returns a copy with ``split`` set."""
    from sklearn.model_selection import train_test_split

    out = frame.copy()
    out["split"] = "train"
    out["fold"] = pd.array([pd.NA] * len(out), dtype="Int64")
    sessions = _sessions_of(out)
    for corpus in pd.unique(_text(out["corpus"])):
        rows = _text(out["corpus"]) == corpus
        names = sorted(set(sessions[rows]) - {""})
        if names:
            if len(names) < 2:
                raise SplitError(
                    f"the seed split holds out 20 % of the sessions, but corpus {corpus!r} has only "
                    f"{names[0]}: add sessions or use --split none")
            _, test = train_test_split(names, test_size=SEED_TEST_SIZE, random_state=SEED)
            out.loc[rows & sessions.isin(test), "split"] = "test"
        no_session = rows & (sessions == "")
        index = list(out.index[no_session])
        if len(index) >= 2:
            _, test_index = train_test_split(index, test_size=SEED_TEST_SIZE, random_state=SEED)
            out.loc[test_index, "split"] = "test"
    return carve_validation(out, valid_size, seed=seed, by="session")


def _resolve_test_groups(frame: pd.DataFrame, keys: pd.Series, test_sessions: Sequence[str]) -> set[str]:
    corpus = _text(frame["corpus"])
    sessions = _sessions_of(frame)
    available = sorted(set(zip(corpus, sessions)) - {(c, "") for c in corpus})
    chosen: set[str] = set()
    for raw in test_sessions:
        for part in str(raw).split(","):
            if not part.strip():
                continue
            want_corpus, _, name = part.strip().rpartition(":")
            name = normalize_session(name)
            hits = [(c, s) for c, s in available if s == name and (not want_corpus or c == want_corpus)]
            if not hits:
                listing = ", ".join(f"{c}:{s}" for c, s in available) or "none"
                raise SplitError(f"test session {part.strip()!r} is not in the manifest "
                                 f"(sessions: {listing})")
            chosen.update(f"{c}/{s}" for c, s in hits)
    return chosen


def carve_validation(frame: pd.DataFrame, valid_size: float, *, seed: int = SEED,
                     by: str = "session") -> pd.DataFrame:
    """Move a seeded ``valid_size`` share of each corpus's training groups to ``valid``."""
    if not 0 <= valid_size < 1:
        raise SplitError(f"validation size {valid_size} must be in [0, 1)")
    out = frame.copy()
    if valid_size == 0:
        return out
    keys = group_keys(out, by)
    corpus = _text(out["corpus"])
    rng = np.random.default_rng(seed)
    for name in sorted(set(corpus)):
        train_groups = sorted(set(keys[(corpus == name) & (out["split"] == "train")]))
        if len(train_groups) < 2:
            continue  # keep at least one training group
        n_valid = min(len(train_groups) - 1, max(1, int(round(valid_size * len(train_groups)))))
        picked = set(rng.permutation(train_groups)[:n_valid])
        out.loc[(out["split"] == "train") & keys.isin(picked), "split"] = "valid"
    return out


def assign_folds(frame: pd.DataFrame, folds: int, *, seed: int = SEED, by: str = "session",
                 exclude: set[str] | None = None) -> pd.DataFrame:
    """Write a ``fold`` column: groups (sessions) shuffled with ``seed`` and dealt into ``folds``."""
    keys = group_keys(frame, by)
    groups = sorted(set(keys) - (exclude or set()))
    if folds < 2:
        raise SplitError(f"--folds {folds}: at least 2 folds are needed")
    if folds > len(groups):
        raise SplitError(f"--folds {folds}: only {len(groups)} {by} group(s) to divide")
    order = np.random.default_rng(seed).permutation(groups)
    fold_of = {g: i % folds for i, g in enumerate(order)}
    out = frame.copy()
    out["fold"] = pd.array([fold_of.get(k, pd.NA) for k in keys], dtype="Int64")
    return out


def fold_split(frame: pd.DataFrame, fold: int, *, valid_size: float = 0.1, seed: int = SEED,
               by: str = "session") -> pd.DataFrame:
    """``split`` for cross-validation fold ``fold``: its rows are test, the others train/valid.
    Rows without a fold (held-out test sessions) stay test."""
    if "fold" not in frame or frame["fold"].isna().all():
        raise SplitError("the manifest has no folds: prepare it with --split session --folds K")
    folds = pd.to_numeric(frame["fold"], errors="coerce")
    if fold not in set(folds.dropna().astype(int)):
        raise SplitError(f"fold {fold} is not in the manifest (folds: "
                         f"{', '.join(map(str, sorted(set(folds.dropna().astype(int)))))})")
    out = frame.copy()
    out["split"] = np.where(folds.isna() | (folds == fold), "test", "train")
    return carve_validation(out, valid_size, seed=seed, by=by)


def group_split(frame: pd.DataFrame, *, by: str = "session", test_sessions: Sequence[str] | None = None,
                test_size: float = 0.2, folds: int | None = None, valid_size: float = 0.1,
                seed: int = SEED) -> pd.DataFrame:
    """Held-out split by session (or speaker): named test sessions, a seeded ``test_size`` share
    of each corpus's groups, or ``folds`` k folds (fold 0 as test)."""
    out = frame.copy()
    keys = group_keys(out, by)
    out["fold"] = pd.array([pd.NA] * len(out), dtype="Int64")
    if test_sessions:
        test = _resolve_test_groups(out, keys, test_sessions)
        out["split"] = np.where(keys.isin(test), "test", "train")
        if folds:
            out = assign_folds(out, folds, seed=seed, by=by, exclude=test)
    elif folds:
        out = assign_folds(out, folds, seed=seed, by=by)
        out["split"] = np.where(out["fold"] == 0, "test", "train")
    else:
        if not 0 < test_size < 1:
            raise SplitError(f"test size {test_size} must be between 0 and 1")
        rng = np.random.default_rng(seed)
        corpus = _text(out["corpus"])
        out["split"] = "train"
        for name in sorted(set(corpus)):
            groups = sorted(set(keys[corpus == name]))
            if len(groups) < 2:
                raise SplitError(f"corpus {name!r} has a single {by} ({groups[0].split('/', 1)[1]}): "
                                 "nothing to hold out; name --test-sessions or use --split none")
            n_test = min(len(groups) - 1, max(1, int(round(test_size * len(groups)))))
            test = set(rng.permutation(groups)[:n_test])
            out.loc[keys.isin(test), "split"] = "test"
    return carve_validation(out, valid_size, seed=seed, by=by)


def make_split(frame: pd.DataFrame, method: str, *, test_sessions: Sequence[str] | None = None,
               test_size: float = 0.2, folds: int | None = None, valid_size: float = 0.1,
               seed: int = SEED) -> pd.DataFrame:
    """Apply split ``method`` (:data:`METHODS`) and return the frame with ``split``/``fold`` set."""
    if method not in METHODS:
        raise SplitError(f"unknown split {method!r}: expected one of {', '.join(METHODS)}")
    if method == "none":
        out = frame.copy()
        out["split"] = ""
        out["fold"] = pd.array([pd.NA] * len(out), dtype="Int64")
        return out
    if method == "seed":
        if test_sessions or folds:
            raise SplitError("--split seed fixes its own test sessions: drop --test-sessions/--folds "
                             "or use --split session")
        return seed_split(frame, valid_size=valid_size, seed=seed)
    return group_split(frame, by=method, test_sessions=test_sessions, test_size=test_size,
                       folds=folds, valid_size=valid_size, seed=seed)
