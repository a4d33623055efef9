"""The model bundle: a directory with ``bundle.json``, one folder per member and ``MODEL_CARD.md``.

``bundle.json`` (format version 1)::

    {"format": "emoens-bundle", "format_version": 1, "name": "…",
     "labels": [the 7 labels in canonical order],
     "members": [{"name": "speech", "kind": "whisper-head", "modality": "speech",
                  "path": "speech", "weight": 0.5, "options": {}}, …],
     "fusion": {"method": "weighted"}            # or {"method": "stack", "stack": {…coefficients…}}
     "asr": {"backend": "faster-whisper", "model": "whisper-base"},
     "runtime": {"window_seconds": 10, "hop_seconds": 10, "single_pass_max_seconds": 20},  # optional
     "provenance": {}, "metrics": {}}

Loading validates the file, refuses unknown format versions and any pickle-bearing file, and
never imports torch (members are loaded by :mod:`emoens.recognizer` through
:func:`emoens.models.load_member`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from emoens.bundle_checks import (  # noqa: F401  (the bundle's error and checks, re-exported)
    PICKLE_SUFFIXES, BundleError, check_arrays, check_bundle_files, check_no_pickle,
    check_safetensors, load_member_checked, pickle_reason, read_json)
from emoens.files import atomic_directory, write_json, write_text
from emoens.labels import LABELS

FORMAT = "emoens-bundle"
FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
CARD_FILE = "MODEL_CARD.md"
ASR_BACKENDS = ("faster-whisper", "transformers", "vosk", "none")
# Trainer leftovers that are torch pickles and never needed at inference: skipped when bundling.
TRAINING_LEFTOVERS = ("training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt")
_LEFTOVER_RE = re.compile(r"^(rng_state.*\.pth|optimizer.*\.pt|scheduler.*\.pt)$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class MemberSpec:
    """One member entry of ``bundle.json``."""

    name: str
    kind: str
    modality: str
    path: str
    weight: float = 0.0
    options: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "modality": self.modality,
                "path": self.path, "weight": float(self.weight), "options": dict(self.options)}


@dataclass
class Bundle:
    """A validated bundle on disk: its folder and its ``bundle.json`` content."""

    root: Path
    config: dict

    @property
    def name(self) -> str:
        return self.config.get("name") or self.root.name

    @property
    def members(self) -> list[MemberSpec]:
        return [MemberSpec(**{k: m[k] for k in ("name", "kind", "modality", "path")},
                           weight=float(m.get("weight", 0.0)), options=dict(m.get("options") or {}))
                for m in self.config["members"]]

    def member_path(self, member: MemberSpec) -> Path:
        return self.root / member.path

    @property
    def fusion(self) -> dict:
        """The fusion config (:mod:`emoens.fusion` format) built from the members and ``fusion``."""
        return fusion_from_bundle_config(self.config)

    @property
    def asr(self) -> dict:
        return dict(self.config.get("asr") or {"backend": "none"})

    @property
    def runtime(self) -> dict:
        return dict(self.config.get("runtime") or {})


def fusion_from_bundle_config(config: Mapping) -> dict:
    """Turn a bundle's ``members`` + ``fusion`` into a fusion config for :func:`emoens.fusion.apply_fusion`."""
    from emoens.fusion import FORMAT as FUSION_FORMAT, FORMAT_VERSION as FUSION_VERSION, FusionError, validate_fusion

    fusion = dict(config.get("fusion") or {"method": "weighted"})
    fusion.update({
        "format": FUSION_FORMAT, "format_version": FUSION_VERSION, "labels": list(LABELS),
        "members": [{"name": m["name"], "modality": m["modality"], "weight": float(m.get("weight", 0))}
                    for m in config["members"]],
    })
    try:
        return validate_fusion(fusion, source="bundle.json 'fusion'")
    except FusionError as exc:
        raise BundleError(str(exc)) from exc


def bundle_fusion_entry(fusion_config: Mapping) -> dict:
    """The ``fusion`` entry of bundle.json for a fusion config (weights go to the members)."""
    entry = {k: v for k, v in fusion_config.items()
             if k not in ("format", "format_version", "labels", "members")}
    entry.setdefault("method", "weighted")
    return entry


# --------------------------------------------------------------------------- reading


def _inside(root: Path, path: Path) -> bool:
    real_root, target = Path(root).resolve(), Path(path).resolve()
    return target == real_root or real_root in target.parents


def read_card(bundle: "Bundle") -> str:
    """The bundle's MODEL_CARD.md ('' when absent); only a file inside the bundle is read."""
    path = bundle.root / CARD_FILE
    if not path.is_file() or not _inside(bundle.root, path):
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


def validate_config(config: Any, source: str, root: Path | None = None) -> dict:
    """Check a bundle.json object; raise :class:`BundleError` naming ``source`` and the field."""
    if not isinstance(config, Mapping):
        raise BundleError(f"{source}: expected a JSON object")
    config = dict(config)
    if config.get("format") != FORMAT:
        raise BundleError(f"{source}: 'format' is {config.get('format')!r}, expected {FORMAT!r}: "
                          "this is not an emoens bundle")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{source}: unknown bundle format_version {version!r}; this emoens reads "
                          f"version {FORMAT_VERSION} (upgrade emoens or rebuild the bundle)")
    if list(config.get("labels") or []) != list(LABELS):
        raise BundleError(f"{source}: labels {config.get('labels')} differ from the canonical "
                          f"{list(LABELS)}")
    members = config.get("members")
    if not isinstance(members, list) or not members:
        raise BundleError(f"{source}: 'members' must be a non-empty list")
    seen = set()
    for i, member in enumerate(members):
        if not isinstance(member, Mapping):
            raise BundleError(f"{source}: member #{i} is not an object")
        for key in ("name", "kind", "modality", "path"):
            if not isinstance(member.get(key), str) or not member.get(key):
                raise BundleError(f"{source}: member #{i} lacks a string {key!r}")
        if member["name"] in seen:
            raise BundleError(f"{source}: member name {member['name']!r} appears twice")
        seen.add(member["name"])
        if member["modality"] not in ("speech", "text"):
            raise BundleError(f"{source}: member {member['name']!r} has modality "
                              f"{member['modality']!r}; expected speech or text")
        rel = Path(member["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise BundleError(f"{source}: member {member['name']!r} path {member['path']!r} must be "
                              "a folder inside the bundle")
        if root is not None and not (root / rel).exists():
            raise BundleError(f"{source}: member {member['name']!r} folder {root / rel} is missing")
        if root is not None and not _inside(root, root / rel):
            raise BundleError(f"{source}: member {member['name']!r} folder {root / rel} leads "
                              "outside the bundle (a symbolic link)")
    if not any(m["modality"] == "speech" for m in members):
        raise BundleError(f"{source}: a bundle needs at least one speech member")
    asr = config.get("asr") or {"backend": "none"}
    if asr.get("backend") not in ASR_BACKENDS:
        raise BundleError(f"{source}: unknown ASR backend {asr.get('backend')!r}; expected one of "
                          f"{ASR_BACKENDS}")
    fusion_from_bundle_config(config)
    return config


def resolve_bundle_path(path_or_hub_id: str | os.PathLike) -> Path:
    """A local bundle folder; a Hub repo id (``owner/name``) is fetched with huggingface_hub only
    when no such local folder exists."""
    path = Path(path_or_hub_id).expanduser()
    if path.exists():
        return path
    text = str(path_or_hub_id)
    if _HUB_ID.match(text):
        try:
            from huggingface_hub import snapshot_download
        except ImportError as exc:
            raise BundleError(f"{text!r} is not a local folder, and huggingface_hub (needed to fetch "
                              "it from the Hub) is not installed") from exc
        try:
            return Path(snapshot_download(text, ignore_patterns=["*.pkl", "*.pickle", "*.joblib"]))
        except Exception as exc:  # network, auth, missing repo: all reported the same way
            raise BundleError(f"cannot fetch bundle {text!r} from the Hugging Face Hub: {exc}") from exc
    raise BundleError(f"bundle {text} not found: give a bundle folder (with {BUNDLE_FILE}) or a Hub "
                      "repo id such as owner/name")


def load_bundle(path_or_hub_id: str | os.PathLike) -> Bundle:
    """Read and validate a bundle (a folder, or a Hub id when no such folder exists)."""
    root = resolve_bundle_path(path_or_hub_id)
    if not root.is_dir():
        raise BundleError(f"bundle {root} is not a folder")
    config_path = root / BUNDLE_FILE
    if not config_path.is_file():
        raise BundleError(f"{root} is not an emoens bundle: {BUNDLE_FILE} is missing")
    config = read_json(config_path)
    config = validate_config(config, str(config_path), root)
    check_bundle_files(root)
    return Bundle(root=root, config=config)


# --------------------------------------------------------------------------- writing


def make_config(members: list[MemberSpec], *, name: str, fusion: Mapping | None = None,
                asr: Mapping | None = None, runtime: Mapping | None = None,
                provenance: Mapping | None = None, metrics: Mapping | None = None) -> dict:
    """A bundle.json object; with a fusion config, member weights come from it (by name)."""
    from emoens.fusion import default_weights, member_weights

    if fusion is not None:
        weights = member_weights(fusion)
        missing = [m.name for m in members if m.name not in weights]
        extra = [n for n in weights if n not in {m.name for m in members}]
        if missing or extra:
            raise BundleError(
                f"the fusion's members ({', '.join(weights)}) do not match the bundle's members "
                f"({', '.join(m.name for m in members)}): name the member folders like the fusion's "
                "members (NAME=DIR)")
    else:
        weights = default_weights({m.name: m.modality for m in members})
    config = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "labels": list(LABELS),
        "members": [MemberSpec(m.name, m.kind, m.modality, m.path, weights[m.name], m.options).to_json()
                    for m in members],
        "fusion": bundle_fusion_entry(fusion) if fusion is not None else {"method": "weighted"},
        "asr": dict(asr or {"backend": "faster-whisper", "model": "whisper-base"}),
        "provenance": dict(provenance or {}), "metrics": dict(metrics or {}),
    }
    if runtime:
        config["runtime"] = dict(runtime)
    return validate_config(config, "bundle.json")


def write_config(root: str | os.PathLike, config: Mapping) -> Path:
    """Validate ``config`` against the folder and write ``root/bundle.json`` atomically."""
    root = Path(root)
    config = validate_config(config, str(root / BUNDLE_FILE), root)
    write_json(root / BUNDLE_FILE, config)
    return root / BUNDLE_FILE


def model_card(config: Mapping) -> str:
    """MODEL_CARD.md text generated from bundle.json (:func:`emoens.model_card.model_card`)."""
    from emoens.model_card import model_card as write_card

    return write_card(config)


def _copy_member(src: Path, dest: Path) -> list[str]:
    """Copy a member folder, skipping Trainer leftovers; returns the skipped file names."""
    skipped = []

    def ignore(folder, names):
        out = [n for n in names if n in TRAINING_LEFTOVERS or _LEFTOVER_RE.match(n)
               or n.startswith("checkpoint-") or n in ("runs", "__pycache__")]
        skipped.extend(os.path.join(folder, n) for n in out)
        return out

    if src.is_dir():
        shutil.copytree(src, dest, ignore=ignore)
    else:
        dest.mkdir(parents=True)
        shutil.copy2(src, dest / src.name)
    return skipped


def build_bundle(out: str | os.PathLike, members: list[tuple[MemberSpec, Path]], *,
                 name: str | None = None, fusion: Mapping | None = None,
                 asr: Mapping | None = None, runtime: Mapping | None = None,
                 provenance: Mapping | None = None, metrics: Mapping | None = None,
                 overwrite: bool = False) -> tuple[Bundle, list[str]]:
    """Assemble a bundle in ``out`` from ``(spec, source folder)`` pairs: copy, write, validate.

    The bundle is built in a temporary sibling folder and renamed into place, so ``out`` is either
    the complete new bundle or untouched. Returns the bundle and the list of skipped leftovers.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise BundleError(f"{out} already exists: choose another --out or pass --overwrite")
    skipped: list[str] = []
    with atomic_directory(out) as tmp:
        specs = []
        for spec, src in members:
            src = Path(src)
            if not src.exists():
                raise BundleError(f"member {spec.name!r}: {src} does not exist")
            if spec.name in {s.name for s in specs}:
                raise BundleError(f"two members are named {spec.name!r}: name them NAME=DIR")
            spec = MemberSpec(spec.name, spec.kind, spec.modality, spec.path or spec.name,
                              spec.weight, spec.options)
            skipped += _copy_member(src, tmp / spec.path)
            specs.append(spec)
        check_no_pickle(tmp)
        config = make_config(specs, name=name or out.name, fusion=fusion, asr=asr, runtime=runtime,
                             provenance=provenance, metrics=metrics)
        write_config(tmp, config)
        write_text(tmp / CARD_FILE, model_card(config))
    return load_bundle(out), skipped


def detect_kind(path: Path, modality: str) -> str:
    """Guess a member's kind from its folder: ``member.json`` 'kind', ONNX file, or transformers."""
    path = Path(path)
    meta = path / "member.json"
    if meta.is_file():
        try:
            kind = json.loads(meta.read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError) as exc:
            raise BundleError(f"{meta} is not readable JSON: {exc}") from exc
        if kind:
            return kind
    if any(path.glob("*.onnx")):
        return f"onnx-{modality}"
    config = path / "config.json"
    if config.is_file():
        from emoens.models import MEMBER_LOADERS

        declared = read_json(config)
        kind = declared.get("kind") if isinstance(declared, dict) else None
        if isinstance(kind, str) and kind in MEMBER_LOADERS:
            return kind  # a light member (whisper-head, text-head) names its kind in config.json
        return f"hf-{modality}"
    raise BundleError(f"cannot tell what kind of member {path} is: expected a transformers folder "
                      "(config.json), an ONNX export (*.onnx) or a member.json naming its 'kind'")
