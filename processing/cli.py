"""`xemogpt`: one command for explaining clips, making and checking data, training, scoring and export."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

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
        try:
            module = importlib.import_module(f"processing.commands.{name}")
        except ModuleNotFoundError as exc:  # a command whose module is not written yet
            if exc.name == f"processing.commands.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


# Commands that load models: their weight-loading progress bars are noise on a terminal.
MODEL_COMMANDS = {"explain", "export", "predict", "convert-original"}


def quiet_model_loading() -> None:
    """No per-weight progress bars and no info-level chatter from transformers."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in MODEL_COMMANDS and not os.environ.get("XEMOGPT_DEBUG"):
        quiet_model_loading()
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        print(f"xemogpt {args.command}: interrupted", file=sys.stderr)
        return 130
    except (XEmoGPTError, FileNotFoundError) as exc:
        if os.environ.get("XEMOGPT_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        print(f"xemogpt {args.command}: error: {message}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
