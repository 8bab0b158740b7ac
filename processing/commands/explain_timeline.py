"""`xemogpt explain LONG.mp4 --window 8 --stride 4`: the timeline branch of the explain command.

Prints one line per window as its batch finishes (span, emotion, visual and auditory cues), then the runs of one
emotion and the cue changes; `--json` prints one JSON object at the end instead (`processing.inference.timeline.Timeline`).
"""

from __future__ import annotations

import json
import sys

from processing.errors import XEmoGPTError


def add_arguments(parser) -> None:
    """The explain command's timeline flags (`type`: its positive-number check)."""
    from processing.inference.timeline import DEFAULT_BATCH_SIZE
    from .explain import _at_least_one, _positive

    group = parser.add_argument_group("long clips (a timeline of windows)")
    group.add_argument("--window", type=_positive, metavar="SECONDS",
                       help="explain the clip window by window, each this long (e.g. 8), and print a timeline")
    group.add_argument("--stride", type=_positive, metavar="SECONDS",
                       help="seconds from one window's start to the next (default: half the window)")
    group.add_argument("--subtitle-file", metavar="SRT_OR_VTT",
                       help="timed subtitles (SRT or WebVTT): each window gets the lines it overlaps")
    group.add_argument("--batch-size", type=_at_least_one, default=DEFAULT_BATCH_SIZE,
                       help=f"windows generated together (default {DEFAULT_BATCH_SIZE}; memory grows with it)")


def wants_timeline(args) -> bool:
    return args.window is not None or args.stride is not None or bool(args.subtitle_file)


def run_timeline(args, explainer) -> int:
    from processing.inference.timeline import explain_timeline, window_line

    if args.window is None:
        raise XEmoGPTError("--stride and --subtitle-file are for timelines: give --window SECONDS as well")
    stream = explain_timeline(explainer, args.video, window=args.window, stride=args.stride, audio=args.audio,
                              subtitle=args.subtitle, subtitle_file=args.subtitle_file, batch_size=args.batch_size,
                              max_new_tokens=args.max_new_tokens, do_sample=args.do_sample or None,
                              temperature=args.temperature, num_beams=args.num_beams)
    if not args.json:
        print(f"{stream.timeline.planned} windows of {stream.timeline.window:g} s every {stream.timeline.stride:g} s "
              f"over {stream.timeline.duration:.1f} s", file=sys.stderr)
    for item in stream:
        if not args.json:
            print(window_line(item), flush=True)
    timeline = stream.timeline
    if args.json:
        print(json.dumps(timeline.to_json(), ensure_ascii=False))
        return 0
    for note in timeline.notes:
        print(f"note: {note}", file=sys.stderr)
    print()
    print(timeline.summary())
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in timeline.timings.items())
    print(f"time: {timings}", file=sys.stderr)
    return 0
