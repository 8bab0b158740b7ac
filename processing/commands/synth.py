"""`xemogpt synth OUT_DIR`: generate an EmoCue-Synth dataset folder (MP4 + WAV + Parquet + card)."""

from __future__ import annotations

import argparse
import json
import sys

from processing.errors import XEmoGPTError


def _fractions(text: str) -> dict[str, float]:
    """"train=0.7,validation=0.1,..." (or just "train") -> {split: fraction}."""
    fractions = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        try:
            fractions[name.strip()] = float(value) if value else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not NAME=FRACTION (e.g. train=0.8,test=0.2)") from None
    if not fractions:
        raise argparse.ArgumentTypeError("empty: give e.g. train=0.8,test=0.2")
    return fractions


def register(subparsers) -> None:
    from processing.data.synth.corpus import FPS, FRAME_SIZE

    parser = subparsers.add_parser(
        "synth", help="generate the EmoCue-Synth corpus (procedural clips with exact cues)",
        description="Generate EmoCue-Synth: drawn faces + wordless voices with exact visual/auditory/emotional "
                    "cues, written as an EmoCue dataset folder (data/<split>.parquet, media/, README.md).")
    parser.add_argument("out_dir", help="dataset folder to create (written atomically)")
    parser.add_argument("--num-samples", type=int, default=200, help="clips in total over all splits (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed: same seed, same bytes (default 0)")
    parser.add_argument("--splits", type=_fractions, default=None, metavar="NAME=FRAC,...",
                        help="splits and their shares (default train=0.7,validation=0.1,test=0.1,compositional=0.1)")
    parser.add_argument("--split", choices=["train", "validation", "test", "compositional"], default=None,
                        help="write only this split (the same as --splits NAME=1)")
    parser.add_argument("--size", type=int, default=FRAME_SIZE, help=f"frame size in pixels (default {FRAME_SIZE})")
    parser.add_argument("--fps", type=int, default=FPS, help=f"frames per second (default {FPS})")
    parser.add_argument("--num-workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.set_defaults(func=run)


def run(args) -> int:
    from processing.data.synth.corpus import generate_corpus

    def progress(split, done, total):
        if sys.stderr.isatty():
            print(f"\r{split}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    if args.split and args.splits:
        raise XEmoGPTError("give either --split or --splits, not both")
    fractions = {args.split: 1.0} if args.split else args.splits
    report = generate_corpus(args.out_dir, args.num_samples, seed=args.seed, split_fractions=fractions,
                             size=args.size, fps=args.fps, num_workers=args.num_workers,
                             overwrite=args.overwrite, progress=progress)
    total = sum(report.counts.values())
    if args.json:
        print(json.dumps({"out_dir": str(report.out_dir), "counts": report.counts, "seconds": round(report.seconds, 2),
                          "clips_per_second": round(report.clips_per_second, 2), "order_dependent": report.order_shares,
                          "emotions": report.emotions, "rejected_filled": report.rejected_filled}))
        return 0
    splits = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v)
    print(f"wrote {total} clips to {report.out_dir} ({splits})")
    print("emotions: " + ", ".join(f"{k} {v}" for k, v in report.emotions.items()))
    s = report.order_shares
    print(f"order-dependent cues: neutral->X {s['change_onset']:.1%}, X->neutral {s['change_offset']:.1%}, "
          f"nodding {s['nodding']:.1%}; any visual {s['visual_any']:.1%}; rising/falling pitch {s['pitch_contour']:.1%}")
    if not report.rejected_filled:
        print("rejected: not filled (processing.data.emocue.dpo is not available)")
    print(f"{report.seconds:.1f} s, {report.clips_per_second:.1f} clips/second")
    return 0
