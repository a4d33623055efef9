"""Safety checks of bundle files: every path inside the bundle, no pickle of any protocol,
bounded JSON and arrays, well-formed safetensors; a malformed file is one :class:`BundleError`.

:mod:`emoens.bundle` runs them when it loads or builds a bundle.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emoens.errors import EmoensError

if TYPE_CHECKING:
    from emoens.bundle import MemberSpec

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


class BundleError(EmoensError):
    """A bundle that is missing, malformed, of an unknown version, or carries pickle files."""


MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_ARRAY_BYTES = 2 * 1024 ** 3
"""Largest array (declared size) a bundle file may hold, and the total per file."""
_PICKLE_OPCODES_CHECKED = 10000


def _refuse(path: Path, reason: str) -> BundleError:
    return BundleError(f"refusing to load {path}: {reason}")


def _is_pickle_stream(path: Path) -> bool:
    """True when the file parses as a pickle of any protocol (0-5, with or without a header).

    :mod:`pickletools` only disassembles: nothing is unpickled. A file counts as a pickle when
    it reaches STOP, or when its first 10,000 opcodes all parse (no other format does that)."""
    import pickletools

    try:
        with open(path, "rb") as handle:
            for count, (opcode, _, _) in enumerate(pickletools.genops(handle)):
                if opcode.name == "STOP" or count >= _PICKLE_OPCODES_CHECKED:
                    return True
    except Exception:  # noqa: BLE001 - any parse failure means "not a pickle"
        return False
    return False


def pickle_reason(path: Path) -> str | None:
    """Why ``path`` is (or carries) a pickle, or None."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return f"a {path.suffix} file is a pickle"
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return None
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "it starts with a pickle protocol header"
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return None
        if any(n.endswith((".pkl", ".pickle")) for n in names):
            return "it is a torch.save zip archive with a pickle inside (data.pkl)"
        return None
    if head == _NPY_MAGIC[:4]:
        return None  # a .npy: object arrays (pickles) are refused by check_arrays
    if _is_pickle_stream(path):
        return "it is a pickle stream (protocol 0/1 or headerless)"
    return None


def _pickle_error(path: Path, reason: str) -> BundleError:
    return _refuse(path, f"{reason}, and emoens never unpickles files (they can run arbitrary "
                         "code). Save weights as safetensors/ONNX/JSON and rebuild the bundle")


def _bundle_files(root: Path) -> list[Path]:
    """Every file under ``root``; refuses links that leave it and anything but files and folders."""
    real_root = root.resolve()
    files = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            path = Path(folder) / name
            if path.is_symlink():
                target = path.resolve()
                if target != real_root and real_root not in target.parents:
                    raise _refuse(path, "it is a symbolic link to outside the bundle folder")
            if path.is_file():
                files.append(path)
            elif not path.is_dir():
                raise _refuse(path, "it is not a regular file or folder")
    return files


def check_no_pickle(root: Path) -> None:
    """Raise :class:`BundleError` naming the first pickle-bearing file under ``root``."""
    for path in _bundle_files(Path(root)):
        reason = pickle_reason(path)
        if reason:
            raise _pickle_error(path, reason)


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
    return deepest


def read_json(path: Path, what: str = "JSON") -> Any:
    """A JSON file, bounded in size and nesting; any malformation is a one-line BundleError."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise BundleError(f"{path} is larger than {MAX_JSON_BYTES // 1024 // 1024} MB: not {what}")
        value = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise BundleError(f"{path} is not readable {what}: it is nested too deeply") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{path} is not readable {what}: {exc}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise BundleError(f"{path} is not readable {what}: it is nested deeper than "
                          f"{MAX_JSON_DEPTH} levels")
    return value


_NPY_MAGIC = b"\x93NUMPY"


def _check_npy_header(handle, path: Path, member: str) -> int:
    """Declared bytes of one .npy stream (header only is read); refuses object arrays."""
    import numpy as np

    try:
        version = np.lib.format.read_magic(handle)
        shape, _, dtype = (np.lib.format.read_array_header_1_0(handle) if version == (1, 0)
                           else np.lib.format.read_array_header_2_0(handle))
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise _refuse(path, f"{member} is not a valid numpy array ({exc})") from None
    if dtype.hasobject:
        raise _pickle_error(path, f"{member} is an object array (stored as a pickle)")
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > MAX_ARRAY_BYTES:
        raise _refuse(path, f"{member} declares a {size / 1024 ** 3:.1f} GiB array, more than "
                            f"the {MAX_ARRAY_BYTES / 1024 ** 3:g} GiB a bundle array may hold")
    return size


def check_arrays(path: Path) -> None:
    """Bound the arrays of a .npy / .npz file by their headers (nothing is decompressed)."""
    if path.suffix.lower() == ".npy":
        with open(path, "rb") as handle:
            _check_npy_header(handle, path, path.name)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            total = 0
            for info in archive.infolist():
                with archive.open(info) as handle:
                    total += _check_npy_header(handle, path, info.filename)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _refuse(path, f"it is not a valid npz archive ({exc})") from None
    if total > MAX_ARRAY_BYTES:
        raise _refuse(path, f"its arrays declare {total / 1024 ** 3:.1f} GiB, more than the "
                            f"{MAX_ARRAY_BYTES / 1024 ** 3:g} GiB a bundle file may hold")


_SAFETENSORS_DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
                       "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8,
                       "F64": 8}


def check_safetensors(path: Path) -> None:
    """The header of a .safetensors file is consistent with the file (offsets, sizes, dtypes)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw = handle.read(8)
        length = int.from_bytes(raw, "little") if len(raw) == 8 else -1
        if not 2 <= length <= min(size - 8, MAX_JSON_BYTES):
            raise _refuse(path, "its safetensors header length does not fit the file")
        try:
            header = json.loads(handle.read(length).decode("utf-8"))
        except (RecursionError, UnicodeDecodeError, ValueError):
            raise _refuse(path, "its safetensors header is not valid JSON") from None
    data_size = size - 8 - length
    if not isinstance(header, dict) or _depth(header) > 4:
        raise _refuse(path, "its safetensors header is not a table of tensors")
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = (int(v) for v in entry["data_offsets"])
            count = 1
            for dim in entry["shape"]:
                count *= int(dim)
            nbytes = count * _SAFETENSORS_DTYPES[entry["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise _refuse(path, f"tensor {name!r} of its safetensors header is malformed") from None
        if not 0 <= start <= end <= data_size or end - start != nbytes:
            raise _refuse(path, f"tensor {name!r} lies outside the file or does not match its shape")


def load_member_checked(spec: MemberSpec, path: Path, **options: Any):
    """:func:`emoens.models.load_member`, with any malformed file of the member (a lying
    safetensors header, a broken ONNX graph, …) turned into a one-line :class:`BundleError`."""
    from emoens.models import load_member

    for weights in sorted(Path(path).rglob("*.safetensors")):
        check_safetensors(weights)
    try:
        return load_member(spec.kind, path, **options)
    except EmoensError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the loader trips on, say which member
        detail = (str(exc).strip().splitlines() or [""])[0][:300]
        raise BundleError(f"member {spec.name!r} ({path}) cannot be loaded, a file in it is "
                          f"malformed: {type(exc).__name__}: {detail}") from None


def check_bundle_files(root: Path) -> None:
    """Every file of the bundle: inside it (links too), no pickle of any protocol, bounded arrays,
    well-formed JSON. Raises a one-line :class:`BundleError`. (Weights files are checked when
    their member loads: :func:`check_safetensors`, :func:`member_load_error`.)"""
    for path in _bundle_files(Path(root)):
        reason = pickle_reason(path)
        if reason:
            raise _pickle_error(path, reason)
        suffix = path.suffix.lower()
        if suffix in (".npy", ".npz"):
            check_arrays(path)
        elif suffix == ".json":
            read_json(path)
