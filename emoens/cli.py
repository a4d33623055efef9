"""The ``emoens`` command line: one sub-command per module in :mod:`emoens.commands`.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func=run``; ``run(args) -> int`` does the work. Command modules import heavy libraries
(torch, transformers, gradio) inside ``run`` so that ``emoens --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from emoens import __version__
from emoens.errors import EmoensError

# Order is the order shown in `emoens --help`.
COMMAND_MODULES = (
    "prepare",
    "stats",
    "train",
    "train_default",
    "infer",
    "evaluate",
    "fuse",
    "bundle",
    "export",
    "predict",
    "merge",
    "listen",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command of :data:`COMMAND_MODULES`."""
    parser = argparse.ArgumentParser(
        prog="emoens",
        description="Korean speech emotion recognition: prepare corpora, train, evaluate, fuse, "
        "bundle and run speech + text emotion models.",
    )
    parser.add_argument("--version", action="version", version=f"emoens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"emoens.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``emoens`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EmoensError as exc:
        print(f"emoens {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # full disk, no permission, read-only folder…: one line, no traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"emoens {args.command}: error: cannot write or read a file{where}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"emoens {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
