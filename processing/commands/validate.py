"""`xemogpt validate DATASET`: check an EmoCue dataset row by row; exit 1 when anything is wrong."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check an EmoCue dataset (schema, unique ids, splits, media)",
        description="Check every row of an EmoCue dataset: required fields, cue lists, unique ids, known splits, "
        "and that each referenced video/audio file exists and decodes. Prints one line per problem and a "
        "summary; exits 1 when anything is wrong.",
    )
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, metadata file, or Hub dataset id")
    parser.add_argument("--split", help="check only this split")
    parser.add_argument("--media-root", metavar="DIR", help="folder that relative media paths resolve against "
                        "(default: the dataset folder)")
    parser.add_argument("--no-media-check", action="store_true", help="do not open the media files")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run)


def run(args) -> int:
    from processing.data.emocue.validation import validate_dataset  # imported here: `xemogpt --help` stays fast

    report = validate_dataset(
        args.dataset, split=args.split, media_root=args.media_root, check_media=not args.no_media_check
    )
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for problem in report.problems:
            print(problem)
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
        print(report.summary())
    return 0 if report.ok else 1
