"""`xemogpt evaluate`: EmoCue-360 (cue precision / recall / F1 per category) and emotion-label accuracy.

    xemogpt evaluate --ref-cues R.json --pred-cues P.json [--compat paper] [--strict] [--json]
    xemogpt evaluate --references R --predictions P.jsonl [--extractor rule|hf:DIR|openai:URL] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import warnings

from processing.errors import XEmoGPTError

DESCRIPTION = """Score explanations against references with EmoCue-360 (ARCHITECTURE.md §4).
Each side is either a cue file (--ref-cues / --pred-cues: JSON id -> {"visual","auditory","emotional"} lists)
or records (--references / --predictions: an EmoCue dataset folder, JSONL, JSON list, Parquet or EMER CSV;
what `xemogpt predict` writes). Records without cues have their `explanation` parsed by --extractor."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="EmoCue-360 and emotion accuracy of explanations",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    ref = parser.add_mutually_exclusive_group(required=True)
    ref.add_argument("--ref-cues", metavar="R.json", help="reference cue file (published id -> cues format)")
    ref.add_argument("--references", metavar="R", help="reference records: dataset folder, .jsonl, .json, .parquet, .csv")
    pred = parser.add_mutually_exclusive_group(required=True)
    pred.add_argument("--pred-cues", metavar="P.json", help="predicted cue file (published id -> cues format)")
    pred.add_argument("--predictions", metavar="P.jsonl", help="prediction records (JSONL with id and explanation / cues)")
    parser.add_argument("--compat", choices=("default", "paper"), default="default",
                        help="paper: the published auditory filter (drop cues containing 'text'); "
                             "default: a word-level subtitle-cue filter (see processing/metrics/emocue360/README.md)")
    parser.add_argument("--strict", action="store_true", help="fail when some ids are on one side only")
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    parser.add_argument("--out", metavar="DIR", help="write emocue360.json, report.md, emocue360.png, samples.jsonl")
    parser.add_argument("--extractor", default="rule", metavar="SPEC",
                        help="cue extractor for explanations: rule (default), hf:DIR or openai:BASE_URL")
    parser.add_argument("--reextract-predictions", action="store_true",
                        help="extract prediction cues with --extractor even when the records carry cues "
                             "(xemogpt predict stores rule-parsed cues)")
    parser.add_argument("--extractor-model", default="deepseek-chat", help="model name for openai: (default %(default)s)")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel requests for openai: (default %(default)s)")
    parser.add_argument("--retries", type=int, default=None, help="extra tries per explanation for hf:/openai:")
    parser.add_argument("--cache-dir", default=None, help="extraction cache for openai: (default ~/.cache/xemogpt/...)")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="generation length for hf: (default %(default)s)")
    parser.add_argument("--fallback", choices=("rule", "error"), default="rule",
                        help="when hf:/openai: give no valid JSON: parse with the rule extractor, or fail")
    parser.add_argument("--embedder", default=None, metavar="MODEL",
                        help="sentence-transformers folder or id (default: all-MiniLM-L6-v2, bundled)")
    parser.add_argument("--batch-size", type=int, default=64, help="embedding batch size (default %(default)s)")
    parser.add_argument("--miss-threshold", type=float, default=0.5,
                        help="similarity below which a cue counts as missed / invented in reports (default %(default)s)")
    parser.add_argument("--device", default=None, help="device for the embedder and hf: extractor (default: auto)")
    parser.add_argument("--worst", type=int, default=10, help="weakest samples listed in report.md (default %(default)s)")
    parser.set_defaults(func=run)


def _extractor_options(args) -> dict:
    kind = args.extractor.partition(":")[0]
    options: dict = {"fallback": args.fallback}
    if args.retries is not None:
        options["retries"] = args.retries
    if kind == "openai":
        options.update(model=args.extractor_model, api_key_env=args.api_key_env, concurrency=args.concurrency,
                       cache_dir=args.cache_dir)
    elif kind == "hf":
        options.update(max_new_tokens=args.max_new_tokens, device=args.device)
    else:
        options = {}
    return options


def run(args) -> int:
    from processing.metrics.emocue360 import EmoCue360Warning, evaluate, format_table, load_cue_file, write_report

    if args.batch_size < 1:
        raise XEmoGPTError("--batch-size must be at least 1")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise XEmoGPTError(f"--out {args.out} is a file: give a folder for the report files")
    references = load_cue_file(args.ref_cues) if args.ref_cues else args.references
    predictions = load_cue_file(args.pred_cues) if args.pred_cues else args.predictions
    with warnings.catch_warnings():  # the notes are printed below, once
        warnings.simplefilter("ignore", EmoCue360Warning)
        result = evaluate(references, predictions, extractor=args.extractor, extractor_options=_extractor_options(args),
                          embedder=args.embedder, compat=args.compat, strict=args.strict,
                          reextract_predictions=args.reextract_predictions,
                          batch_size=args.batch_size, miss_threshold=args.miss_threshold, device=args.device)
    if args.ref_cues and args.pred_cues:
        result.reference_cues = result.predicted_cues = None  # nothing was extracted: no cue files to write
    for note in result.warnings:
        print(f"xemogpt evaluate: warning: {note}", file=sys.stderr)
    if args.out:
        settings = {"compat": args.compat, "extractor": args.extractor,
                    "embedder": args.embedder or "all-MiniLM-L6-v2", "miss threshold": args.miss_threshold}
        written = write_report(result, args.out, worst=args.worst, settings=settings)
        print(f"xemogpt evaluate: wrote {', '.join(sorted(written))} to {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(format_table(result))
    return 0
