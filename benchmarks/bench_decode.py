"""Benchmark 16-frame sampling: seek vs full decode vs torchcodec, and what `method="auto"` picks.

Generates H.264 clips with PyAV in a temp dir (short 5 s / long 120 s; keyframes every 10 frames, every
600 frames, or only the first), times each method (median over repeats, methods interleaved so load drifts
hit all alike) and prints one JSON line per clip, then the summary as the LAST stdout line:
`machine`, `settings`, `results` (per clip: median seconds per method, auto's choice) and `ratios`
(per clip: auto / best PyAV method, target <= 1.10; seek / decode).

    python benchmarks/bench_decode.py [--repeats 5] [--width 640 --height 360 --fps 25] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from processing import media  # noqa: E402
from tests.media_fixtures import write_test_video  # noqa: E402

CLIPS = {  # name: (seconds, gop; None = only the first frame is a keyframe)
    "short_gop10": (5, 10),
    "short_gop600": (5, 600),
    "long_gop10": (120, 10),
    "long_gop600": (120, 600),
    "long_first_keyframe_only": (120, None),
}


def machine() -> dict:
    torchcodec_ok, torchcodec_reason = media.torchcodec_available()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "av": av.__version__,
        "ffmpeg": av.ffmpeg_version_info,
        "numpy": np.__version__,
        "torchcodec": "available" if torchcodec_ok else f"unavailable: {torchcodec_reason}",
    }


def timed(function) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_clip(path: Path, num_frames: int, repeats: int, methods: list[str]) -> dict:
    """Median seconds per method; checks that seek, decode and auto return the same frames.

    Each round runs every method once, in a rotated order, so that load from other processes on a shared
    machine falls on all methods alike.
    """
    reference = {m: media.sample_frames(path, num_frames, m) for m in ("seek", "decode", "auto")}
    identical = all(np.array_equal(reference["decode"][0], reference[m][0]) for m in ("seek", "auto"))
    wall, cpu = {m: [] for m in methods}, {m: [] for m in methods}
    choices = {"seek": 0, "decode": 0}  # auto decides per call (its cost model reads the load average)
    for round_ in range(repeats):
        choices[media.choose_method(path, num_frames)] += 1
        for method in methods[round_ % len(methods):] + methods[: round_ % len(methods)]:
            w, c = timed(lambda: media.sample_frames(path, num_frames, method))
            wall[method].append(w)
            cpu[method].append(c)
    return {
        "median_s": {m: round(statistics.median(t), 5) for m, t in wall.items()},
        "min_s": {m: round(min(t), 5) for m, t in wall.items()},
        "median_cpu_s": {m: round(statistics.median(t), 5) for m, t in cpu.items()},
        "auto_chose": max(choices, key=choices.get),
        "auto_choices": choices,
        "seek_equals_decode": identical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--num_frames", type=int, default=16)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--quick", action="store_true", help="long clips of 30 s instead of 120 s")
    args = parser.parse_args()

    torchcodec_ok, torchcodec_reason = media.torchcodec_available()
    methods = ["seek", "decode", "auto"] + (["torchcodec"] if torchcodec_ok else [])
    info = machine()
    settings = {"num_frames": args.num_frames, "repeats": args.repeats, "repeats_short_clips": 3 * args.repeats, "size": [args.width, args.height],
                "fps": args.fps, "codec": "libx264 veryfast crf 18, 2 B-frames, scenecut off",
                "clips": {}, "timing": "median wall seconds of media.sample_frames(path, num_frames, method)"}
    results, ratios = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (seconds, gop) in CLIPS.items():
            if args.quick and seconds > 5:
                seconds = 30
            settings["clips"][name] = {"seconds": seconds, "gop": gop if gop is not None else "first frame only"}
            path = write_test_video(Path(tmp) / f"{name}.mp4", seconds=seconds, fps=args.fps,
                                    size=(args.width, args.height), gop=gop, audio=False)
            repeats = args.repeats * (3 if seconds <= 5 else 1)  # short clips are cheap: more rounds
            result = bench_clip(path, args.num_frames, repeats, methods)
            medians = result["median_s"]
            if not torchcodec_ok:
                medians["torchcodec"] = None
                result["torchcodec_reason"] = torchcodec_reason
            best = min(medians["seek"], medians["decode"])
            results[name] = result
            ratios[name] = {
                "auto_over_best": round(medians["auto"] / best, 3),
                "auto_over_best_min_s": round(result["min_s"]["auto"] / min(result["min_s"]["seek"],
                                                                            result["min_s"]["decode"]), 3),
                "auto_over_best_cpu_s": round(result["median_cpu_s"]["auto"] / min(
                    result["median_cpu_s"]["seek"], result["median_cpu_s"]["decode"]), 3),
                "seek_over_decode": round(medians["seek"] / medians["decode"], 3),
                "best_method": "seek" if medians["seek"] <= medians["decode"] else "decode",
            }
            print(json.dumps({"clip": name, **result, **ratios[name]}), flush=True)
    worst = max(r["auto_over_best"] for r in ratios.values())
    # auto's choice vs the best method; its decision depends on the load average when it runs (see media.py)
    info["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print(json.dumps({"benchmark": "decode", "machine": info, "settings": settings, "results": results,
                      "ratios": ratios, "worst_auto_over_best": worst, "target_auto_over_best": 1.10}))


if __name__ == "__main__":
    main()
