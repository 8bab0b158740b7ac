"""`xemogpt`: one command for explaining clips, making and checking data, training, scoring and export."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from .errors import XEmoGPTError

# Each sub-command lives in processing/commands/<module>.py with register(subparsers) and run(args).
COMMANDS = ["explain", "synth", "validate", "evaluate", "train", "predict", "export", "convert_original"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xemogpt",
        description="XEmoGPT: explainable multimodal emotion recognition (video + audio + subtitle).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f"processing.commands.{name}").register(subparsers)
    return parser


# Commands that load models: their weight-loading progress bars are noise on a terminal.
MODEL_COMMANDS = {"explain", "export", "predict", "convert-original"}


def quiet_model_loading() -> None:
    """No per-weight progress bars and no info-level chatter from transformers."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: `finally` blocks run (staging folders removed, workers ended), exit 143."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _run(args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args) -> int:
    if args.command in MODEL_COMMANDS and not os.environ.get("XEMOGPT_DEBUG"):
        quiet_model_loading()
    try:
        code = args.func(args)
    except KeyboardInterrupt as exc:
        print(f"xemogpt {args.command}: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}; nothing "
              "half-written is left (predict and train resume where they stopped)", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except (XEmoGPTError, OSError) as exc:  # OSError: a path the user gave (missing, a folder, read-only, full disk)
        if os.environ.get("XEMOGPT_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
            message = f"{exc.filename}: {exc.strerror}"
        else:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        print(f"xemogpt {args.command}: error: {message}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
