"""Peak memory of one `explain` and of one Space request against the frame resolution of the clip (320x240 up to
8192x4320) and the subtitle length (10 to 100 000 characters), with the bundled demo model.

Each case runs in a fresh process: the model is loaded, RSS is read (`rss_before_bytes`), one clip is explained
(`processing.inference.explain.Explainer.explain`, what `xemogpt explain` runs; or the Space's `/explain` handler,
`spaces_demo/app.py` `SpaceHandler.explain`, without the web server), and the process's peak RSS
(`VmHWM` of /proc/self/status) is reported as `peak_rss_bytes`, with `request_bytes` = peak - before. Clips are H.264
(+ AAC) MP4s of 20 frames (2 s), written frame by frame. Frames are kept at most 1024 px on a side, frames larger
than 3840x2160 are refused before decoding (the decoder itself holds full-size pictures: an 8K one is 53 MB), and
subtitles reach the prompt cut to 512 tokens, so above those limits the numbers stay flat (a refused case reports
`refused` with its one error line): `ratios` gives each case's peak and request memory over the 320x240 /
10-character baseline measured in the same run.

The LAST stdout line is one JSON object with `machine`, `settings`, `cases`, `ratios`.

    python benchmarks/bench_hostile_inputs.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESOLUTIONS = [(320, 240), (1280, 720), (1920, 1080), (3840, 2160), (8192, 4320)]
SUBTITLES = [10, 1_000, 10_000, 100_000]

RUNNER = r"""
import json, os, sys
import psutil
sys.path.insert(0, {root!r})
sys.path.insert(0, {space!r})
kind, clip, subtitle = sys.argv[1], sys.argv[2], sys.argv[3]
from processing.inference.explain import Explainer
explainer = Explainer.load({model!r})
rss_before = psutil.Process().memory_info().rss
from processing.errors import XEmoGPTError
refused = None
if kind == "explain":
    try:
        text = explainer.explain(clip, None, subtitle, max_new_tokens=16).explanation
    except XEmoGPTError as error:
        text, refused = "", str(error)
else:
    import app, serving
    handler = app.SpaceHandler(serving.ServedModel(explainer), serving.SpaceSettings(max_new_tokens_limit=16),
                               serving.ReferenceScorer(lambda texts: None))
    text = ""
    try:
        for outputs in handler.explain(clip, None, subtitle, "", 16):
            text = outputs[0]
    except Exception as error:  # gr.Error: the message the page shows
        refused = str(error)
# VmHWM: this process's peak RSS since exec (ru_maxrss would carry the parent's over fork + exec)
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"rss_before_bytes": rss_before, "peak_rss_bytes": peak, "request_bytes": peak - rss_before,
                  "words_out": len(str(text).split()), "refused": refused}}))
"""


def write_clip(path: Path, width: int, height: int, frames: int = 20, fps: int = 10) -> None:
    """An H.264 + AAC MP4, encoded one frame at a time (an 8K frame is 106 MB; the clip is never whole in memory)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for index in range(frames):
            image = np.zeros((height, width, 3), np.uint8)
            image[:, :, index % 3] = 40 + 8 * index
            image[height // 4: height // 2, width // 4: width // 2] = 200  # something that moves a little
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        tone = (0.1 * np.sin(np.arange(16000 * frames // fps) * 2 * np.pi * 220 / 16000)).astype(np.float32)
        for start in range(0, len(tone), 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


def measure(kind: str, clip: Path, subtitle: str) -> dict:
    runner = RUNNER.format(root=str(ROOT), space=str(ROOT / "spaces_demo"),
                           model=str(ROOT / "examples" / "models" / "xemogpt-synth-tiny"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", runner, kind, str(clip), subtitle], capture_output=True, text=True,
                          env=env, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "seconds": round(time.perf_counter() - start, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="320x240 and 1920x1080, 10 and 100 000 characters")
    args = parser.parse_args()
    resolutions = [RESOLUTIONS[0], RESOLUTIONS[2]] if args.quick else RESOLUTIONS
    subtitles = [SUBTITLES[0], SUBTITLES[-1]] if args.quick else SUBTITLES
    import torch

    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        for width, height in resolutions:
            clips[(width, height)] = Path(tmp) / f"{width}x{height}.mp4"
            write_clip(clips[(width, height)], width, height)
        for kind in ("explain", "space"):
            for (width, height), clip in clips.items():
                cases.append({"kind": kind, "resolution": f"{width}x{height}", "subtitle_chars": 10,
                              "file_bytes": clip.stat().st_size, **measure(kind, clip, "Oh, great."[:10])})
                print(json.dumps(cases[-1]), flush=True)
            for length in subtitles[1:]:
                subtitle = ("I am so happy today. " * (length // 21 + 1))[:length]
                cases.append({"kind": kind, "resolution": "320x240", "subtitle_chars": length,
                              "file_bytes": clips[(320, 240)].stat().st_size,
                              **measure(kind, clips[(320, 240)], subtitle)})
                print(json.dumps(cases[-1]), flush=True)
    ratios = {}
    for kind in ("explain", "space"):
        base = next(c for c in cases if c["kind"] == kind and c["resolution"] == "320x240" and c["subtitle_chars"] == 10)
        for case in cases:
            if case["kind"] == kind:
                key = f"{kind} {case['resolution']} subtitle {case['subtitle_chars']}"
                ratios[key] = {"peak_rss": round(case["peak_rss_bytes"] / base["peak_rss_bytes"], 3),
                               "request": round(max(case["request_bytes"], 1) / max(base["request_bytes"], 1), 3)}
    print(json.dumps({
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
                    "torch": torch.__version__},
        "settings": {"model": "examples/models/xemogpt-synth-tiny", "frames_per_clip": 20, "max_new_tokens": 16,
                     "frame_side_limit": 1024, "subtitle_token_limit": 512,
                     "baseline": "320x240 clip, 10-character subtitle, same kind, same run"},
        "cases": cases, "ratios": ratios}))


if __name__ == "__main__":
    main()
