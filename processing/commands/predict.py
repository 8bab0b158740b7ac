"""`xemogpt predict MODEL DATASET --out P.jsonl`: explanations for a whole EmoCue split (batched, resumable,
data-parallel under `accelerate launch`); the output is what `xemogpt evaluate --predictions` reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from processing.errors import XEmoGPTError

DESCRIPTION = """Generate an explanation for every row of an EmoCue split and write them as JSONL
(id, explanation, emotion, cues). Rerunning the same command resumes: ids already in --out are skipped.
Rows whose media do not decode are reported and skipped (exit code 1: the others are written; 0: every row
is; 2: nothing was done, e.g. a bad flag or dataset). For several processes / GPUs:
  accelerate launch -m processing.cli predict MODEL DATASET --out P.jsonl"""


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="explain every clip of an EmoCue dataset split (JSONL)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model folder or Hub id")
    parser.add_argument("dataset", help="EmoCue dataset folder, metadata file or Hub id")
    parser.add_argument("--out", required=True, metavar="P.jsonl", help="predictions file (appended to; resumable)")
    parser.add_argument("--split", default=None, help="split to predict (default: test, or the only split)")
    parser.add_argument("--limit", type=_non_negative, default=None, metavar="N", help="only the first N rows of the split")
    parser.add_argument("--batch-size", type=_positive, default=8, help="clips per generate call (default %(default)s)")
    parser.add_argument("--max-new-tokens", type=_positive, default=None,
                        help="generation length (default: the model's generation config, else 256)")
    parser.add_argument("--num-beams", type=_positive, default=None)
    parser.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--media-root", default=None, help="folder that relative media paths resolve against")
    parser.add_argument("--num-workers", type=_positive, default=2, help="media decoding threads (default %(default)s)")
    parser.add_argument("--no-cues", dest="parse_cues", action="store_false",
                        help="write only id + explanation (then `evaluate --extractor` extracts the cues)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    quant = parser.add_mutually_exclusive_group()
    quant.add_argument("--load-in-4bit", action="store_true", help="quantize the language model to 4-bit NF4 (bitsandbytes)")
    quant.add_argument("--load-in-8bit", action="store_true", help="quantize the language model to 8-bit (bitsandbytes)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from processing.inference.predict import predict

    if Path(args.out).is_dir():
        raise XEmoGPTError(f"--out {args.out} is a folder: give the predictions file (e.g. {Path(args.out) / 'predictions.jsonl'})")

    generation = {"do_sample": args.do_sample}
    for key in ("max_new_tokens", "num_beams", "temperature", "top_p"):
        if getattr(args, key) is not None:
            generation[key] = getattr(args, key)
    if not args.do_sample:
        generation.pop("temperature", None)
        generation.pop("top_p", None)
    report = predict(args.model, args.dataset, args.out, split=args.split, limit=args.limit,
                     media_root=args.media_root, load_in_4bit=args.load_in_4bit, load_in_8bit=args.load_in_8bit,
                     batch_size=args.batch_size, generation=generation, parse_cues=args.parse_cues,
                     num_workers=args.num_workers, progress=args.progress)
    if not report.is_main:  # each process reported its own skipped rows; the main one sums up
        return 0
    failed = f", {len(report.failed)} skipped (media did not decode)" if report.failed else ""
    print(f"xemogpt predict: wrote {report.written} predictions to {report.out_path} "
          f"({report.already_done} were already there{failed}; {report.seconds:.1f} s)", file=sys.stderr)
    return 1 if report.failed else 0  # some rows skipped: the others are written, the run says it is incomplete
