"""Write the Space's example clips: a few EmoCue-Synth test clips (MP4, ~50 KB each) + examples.json with their
subtitles and reference explanations. Deterministic: same samples, same bytes.

    python spaces_demo/make_examples.py [--out spaces_demo/examples]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if (HERE.parent / "processing").is_dir() and str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from processing.data.synth.corpus import encode_mp4, render_clip, synth_sample  # noqa: E402

SEED, SPLIT = 0, "test"
INDICES = (11, 2, 0)  # happy, sad, contemptuous (a sarcastic subtitle): three different readings


def write_examples(out_dir=HERE / "examples", indices=INDICES) -> list[dict]:
    """Render the clips into `out_dir` and write `examples.json`; returns its rows."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.mp4"):  # clips of an earlier choice of samples
        old.unlink()
    rows = []
    for index in indices:
        factors, record = synth_sample(SEED, SPLIT, index)
        frames, _, audio = render_clip(factors)
        name = f"{record['emotion']}-{index}.mp4"
        encode_mp4(out_dir / f"{name}.tmp.mp4", frames, audio)
        os.replace(out_dir / f"{name}.tmp.mp4", out_dir / name)
        rows.append({"video": name, "subtitle": record["subtitle"], "reference": record["explanation"],
                     "emotion": record["emotion"], "id": record["id"]})
    (out_dir / "examples.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "examples"))
    args = parser.parse_args()
    for row in write_examples(args.out):
        print(row["video"], row["emotion"], repr(row["subtitle"]))
