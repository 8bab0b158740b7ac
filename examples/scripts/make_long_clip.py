"""Write a long EmoCue-Synth clip whose emotion follows a known schedule (+ its SRT subtitles and JSON manifest).

    python examples/scripts/make_long_clip.py OUT.mp4 --schedule happy:40,sad:30,angry:50 [--seed 0]
    python examples/scripts/make_long_clip.py OUT.mp4 --minutes 5 [--seed 0]      # a random schedule, 20-60 s each
    xemogpt explain OUT.mp4 --window 8 --stride 4 --subtitle-file OUT.srt

With `--check` it then runs that timeline with the bundled model and prints the agreement of the windows' emotions
with the schedule (`processing.inference.timeline.schedule_agreement`) as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from processing.errors import XEmoGPTError  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the MP4 to write (OUT.srt and OUT.json go beside it)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--schedule", help="EMOTION:SECONDS,... e.g. happy:40,sad:30")
    which.add_argument("--minutes", type=float, help="a random schedule of this length (segments of 20-60 s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="explain it as a timeline and print the agreement")
    args = parser.parse_args(argv)
    from processing.data.synth.long_clip import long_clip, parse_schedule, random_schedule

    try:
        schedule = parse_schedule(args.schedule) if args.schedule else random_schedule(args.minutes * 60, args.seed)
        manifest = long_clip(schedule, args.out, seed=args.seed)
    except XEmoGPTError as error:
        print(f"make_long_clip: error: {error}", file=sys.stderr)
        return 2
    for segment in manifest["segments"]:
        print(f"{segment['start']:8.1f} - {segment['end']:8.1f} s  {segment['emotion']}")
    print(f"wrote {args.out} ({manifest['duration']:.1f} s), {Path(args.out).with_suffix('.srt')}, "
          f"{Path(args.out).with_suffix('.json')}")
    if args.check:
        from processing.inference.explain import Explainer
        from processing.inference.timeline import explain_timeline, schedule_agreement

        stream = explain_timeline(Explainer.load(), args.out, window=8, stride=4,
                                  subtitle_file=Path(args.out).with_suffix(".srt"))
        for _ in stream:
            pass
        print(json.dumps(schedule_agreement(stream.timeline.windows, manifest["segments"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
