"""Time and memory of a long clip's timeline (`xemogpt explain LONG --window 8 --stride 4`) against clip length.

Renders EmoCue-Synth long clips (processing/data/synth/long_clip.py: one person, 112 px, 12 fps, H.264 + AAC, the emotion
changing every 20-60 s by a seeded schedule) of 1, 5 and 30 minutes once (cached under .cache/timeline/), then per
length runs the timeline with the bundled model (examples/models/xemogpt-synth-tiny, windows of 8 s every 4 s,
batches of 8, the clip's SRT subtitles) in a fresh process and reads:

* `seconds_per_video_minute`: the timeline's wall time (decoding + generation, model load excluded) per minute of
  video, and `cpu_seconds_per_video_minute` (this process's CPU time: less sensitive to other load on a shared
  machine); `windows_per_second`; `tokens_per_explanation` (generation time follows it);
* `peak_rss_bytes`: the process's peak resident memory (VmHWM, model load included), `rss_after_load_bytes` and
  `peak_growth_bytes` (the peak minus the RSS once the model was loaded): what the timeline itself adds;
  `rss_at_quarters`: [windows done, VmRSS, VmHWM] after each quarter of the windows (memory over one run);
* `agreement`: share of windows whose emotion is the schedule's at the window's centre, over all windows and over
  the windows inside one segment (`processing.inference.timeline.schedule_agreement`).

The 1-minute clip is the baseline measured in the same run: `ratios` holds, per length, time per video minute and
peak memory divided by the 1-minute clip's (flat memory: ~1; linear time: ~1). `decoded_video_bytes` is, for
scale, what the clip's frames would take decoded all at once (frames x 112 x 112 x 3), computed, not measured.
The LAST stdout line is one JSON object.

    python benchmarks/bench_timeline.py [--minutes 1 5 30] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

CACHE = ROOT / ".cache" / "timeline"
SEED = 0
WINDOW, STRIDE = 8.0, 4.0


def status_bytes(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith(field + ":"))


def clip_for(minutes: float) -> Path:
    """The cached long clip of `minutes` (rendered on first use; its .srt and .json manifest beside it)."""
    from processing.data.synth.long_clip import long_clip, random_schedule

    path = CACHE / f"long-{minutes:g}min-seed{SEED}.mp4"
    if not (path.exists() and path.with_suffix(".json").exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        long_clip(random_schedule(minutes * 60, SEED), path, seed=SEED)
        print(f"rendered {path.name} in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return path


def child(path: Path, batch_size: int) -> dict:
    """In a fresh process: load the bundled model, run the timeline of `path`, report time, memory, agreement."""
    from processing.inference.explain import Explainer
    from processing.inference.timeline import explain_timeline, schedule_agreement

    explainer = Explainer.load()
    rss_after_load = status_bytes("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    stream = explain_timeline(explainer, path, window=WINDOW, stride=STRIDE, subtitle_file=path.with_suffix(".srt"),
                              batch_size=batch_size)
    marks = {round(stream.timeline.planned * q / 4) for q in (1, 2, 3, 4)}
    rss_along = []  # (windows done, VmRSS, VmHWM) at each quarter of the clip: flat memory shows here as it runs
    for item in stream:
        if item.index + 1 in marks:
            rss_along.append([item.index + 1, status_bytes("VmRSS"), status_bytes("VmHWM")])
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    timeline = stream.timeline
    manifest = json.loads(path.with_suffix(".json").read_text())
    peak = status_bytes("VmHWM")
    minutes = timeline.duration / 60
    return {"video_seconds": round(timeline.duration, 2), "windows": len(timeline.windows),
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu_seconds, 2), "decode_seconds": round(timeline.timings["decode"], 2),
            "generate_seconds": round(timeline.timings["generate"], 2),
            "seconds_per_video_minute": round(seconds / minutes, 3),
            "cpu_seconds_per_video_minute": round(cpu_seconds / minutes, 3),
            "tokens_per_explanation": round(sum(len(explainer.processor.tokenizer(w.explanation)["input_ids"])
                                                for w in timeline.windows) / max(len(timeline.windows), 1), 1),
            "windows_per_second": round(len(timeline.windows) / seconds, 3),
            "rss_after_load_bytes": rss_after_load, "peak_rss_bytes": peak, "peak_growth_bytes": peak - rss_after_load,
            "rss_at_quarters": rss_along,
            "runs": len(timeline.runs), "cue_changes": len(timeline.cue_changes),
            "segments": len(manifest["segments"]),
            "agreement": {k: round(v, 4) if isinstance(v, float) else v
                          for k, v in schedule_agreement(timeline.windows, manifest["segments"]).items()},
            "decoded_video_bytes": int(round(timeline.duration * manifest["fps"])) * manifest["size"] ** 2 * 3,
            "load_average_at_end": list(os.getloadavg())}


def machine() -> dict:
    import torch

    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 30])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child), args.batch_size)))
        return
    info = machine()
    started = time.perf_counter()
    minutes = sorted(set(args.minutes))
    clips = {m: clip_for(m) for m in minutes}
    results = {}
    for m, path in clips.items():
        done = subprocess.run([sys.executable, __file__, "--child", str(path), "--batch-size", str(args.batch_size)],
                              capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        results[f"{m:g}min"] = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps({f"{m:g}min": results[f"{m:g}min"]}), flush=True)
    base = results[f"{minutes[0]:g}min"]
    ratios = {}
    for name, result in results.items():
        against = f"{name}_vs_{minutes[0]:g}min"
        for key, value in (("time_per_video_minute", "seconds_per_video_minute"),
                           ("cpu_time_per_video_minute", "cpu_seconds_per_video_minute"),
                           ("peak_rss", "peak_rss_bytes"), ("peak_growth", "peak_growth_bytes")):
            ratios[f"{key}_{against}"] = round(result[value] / base[value], 3)
    info["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps({"machine": info,
                      "settings": {"minutes": minutes, "window": WINDOW, "stride": STRIDE,
                                   "batch_size": args.batch_size, "seed": SEED,
                                   "model": "examples/models/xemogpt-synth-tiny",
                                   "clip": "EmoCue-Synth long clip, 112 px, 12 fps, segments of 20-60 s"},
                      "results": results, "wall_s": round(time.perf_counter() - started, 1), "ratios": ratios}))


if __name__ == "__main__":
    main()
