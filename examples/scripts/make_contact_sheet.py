"""Make the bundled EmoCue-Synth example clip and the pictures that show what the corpus contains.

    python examples/scripts/make_contact_sheet.py [--seed 0] [--out examples]

writes
  examples/clips/demo.mp4, demo.wav, demo.txt (subtitle), demo.json (the full record)
  examples/synth_contact_sheet.png   one row per clip: 16 uniformly sampled frames decoded back from the MP4
  examples/synth_spectrograms.png    one spectrogram per clip (audio decoded back from the MP4's AAC track)

The clips are ordinary corpus samples (`xemogpt synth --seed 0` writes the same ones): the first train
sample of each kind below.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import av
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from processing.data.synth.corpus import write_clip  # noqa: E402
from processing.data.synth.factors import Factors  # noqa: E402
from processing.data.synth.record import rejected_explanation  # noqa: E402

NUM_FRAMES = 16

# What each row of the sheet should show, as a predicate on the factors and the record's emotion.
KINDS = {
    "demo: smile appears, nodding, high rising voice, laughter": lambda f, e: (
        f.mouth == "smile" and f.dynamics == "onset" and f.head == "nodding" and f.pitch == "high"
        and f.contour == "rising" and f.event == "laughter" and e == "happy" and f.duration <= 7
        and f.eyes == "neutral" and f.tremor == "steady" and not f.tears),
    "frown with tears that fade": lambda f, e: f.mouth == "frown" and f.tears and f.dynamics == "offset",
    "furrowed brows, narrowed eyes, head shaking": lambda f, e: (
        f.brows == "furrowed" and f.eyes == "narrowed" and f.head == "shaking" and f.dynamics == "steady"),
    "open mouth, raised brows, wide eyes": lambda f, e: (
        f.mouth == "open" and f.brows == "raised" and f.eyes == "wide" and f.dynamics == "steady"),
    "eyes closed, turning away": lambda f, e: f.eyes == "closed" and f.head == "turning away",
    "forced smile": lambda f, e: f.mouth == "smile" and e in ("sad", "worried") and f.dynamics == "steady",
    "tight lips, sarcasm": lambda f, e: f.mouth == "tight-lipped" and e == "contemptuous",
    "neutral face, still head": lambda f, e: f.mouth == f.brows == f.eyes == "neutral" and not f.tears
    and f.head == "still",
}


def find_samples(seed: int, limit: int = 40000) -> dict[str, int]:
    """The first train index of each kind (without rendering anything)."""
    from processing.data.synth.corpus import synth_sample

    found = {}
    for index in range(limit):
        factors, record = synth_sample(seed, "train", index)
        for kind, wanted in KINDS.items():
            if kind not in found and wanted(factors, record["emotion"]):
                found[kind] = index
        if len(found) == len(KINDS):
            return found
    missing = sorted(set(KINDS) - set(found))
    raise SystemExit(f"no train sample among the first {limit} for: {missing}")


def decode(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """All frames (F, H, W, 3), their timestamps, and the audio track of an MP4, decoded with PyAV."""
    frames, times, audio, rate = [], [], [], 16000
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * frame.time_base))
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            audio.append(frame.to_ndarray().mean(axis=0))
            rate = frame.sample_rate
    return np.stack(frames), np.asarray(times), np.concatenate(audio), rate


def uniform_indices(num_frames: int, k: int = NUM_FRAMES) -> np.ndarray:
    """The frame at the centre of each of k equal segments."""
    return np.minimum(((np.arange(k) + 0.5) * num_frames / k).astype(int), num_frames - 1)


def contact_sheet(rows: list[dict], path: Path) -> None:
    """Frames at their native size, a timestamp under each, the row's visual cues above it."""
    size = rows[0]["frames"].shape[1]
    pad, title_h, label_h = 4, 16, 13
    font = ImageFont.load_default(size=11)
    row_h = title_h + size + label_h + pad
    sheet = Image.new("RGB", (pad + NUM_FRAMES * (size + pad), pad + len(rows) * row_h), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        top = pad + r * row_h
        record = row["record"]
        title = f"{record['id']} [{record['emotion']}]  " + " ".join(record["cues"]["visual"])
        draw.text((pad, top + 1), title, fill="black", font=font)
        for c, i in enumerate(uniform_indices(len(row["frames"]))):
            left = pad + c * (size + pad)
            sheet.paste(Image.fromarray(row["frames"][i]), (left, top + title_h))
            draw.text((left + size // 2, top + title_h + size + 1), f"{row['times'][i]:.1f} s", fill="black",
                      font=font, anchor="ma")
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def spectrograms(rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(len(rows), 1, figsize=(11, len(rows) * 1.7))
    for ax, row in zip(axes, rows):
        audio, rate = row["audio"], row["rate"]
        ax.specgram(audio + 1e-7, NFFT=512, Fs=rate, noverlap=384, cmap="magma", vmin=-140)
        ax.set_ylim(0, 4000)
        ax.set_ylabel("Hz", fontsize=7)
        ax.tick_params(labelsize=7)
        auditory = " ".join(row["record"]["cues"]["auditory"])
        ax.set_title(f"{row['record']['id']} [{row['record']['emotion']}]  {auditory}", loc="left", fontsize=8)
    axes[-1].set_xlabel("seconds", fontsize=7)
    fig.tight_layout(h_pad=0.6)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    Image.open(path).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()

    found = find_samples(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            index = found[kind]
            record = write_clip(tmp, args.seed, "train", index)
            frames, times, audio, rate = decode(Path(tmp) / record["video"].split("/")[-1])
            rows.append(dict(kind=kind, record=record, frames=frames, times=times, audio=audio, rate=rate))
            print(f"{kind}: {record['id']} ({Factors.from_json(record['factors']).duration} s, {record['emotion']})")

        demo = rows[0]["record"]
        clips = args.out / "clips"
        clips.mkdir(parents=True, exist_ok=True)
        for ext in ("mp4", "wav"):
            shutil.copyfile(Path(tmp) / f"{demo['id']}.{ext}", clips / f"demo.{ext}")
    demo = {**demo, "video": "demo.mp4", "audio": "demo.wav", "rejected": rejected_explanation(demo, args.seed)}
    (clips / "demo.txt").write_text(demo["subtitle"] + "\n")
    (clips / "demo.json").write_text(json.dumps(demo, indent=2) + "\n")
    contact_sheet(rows, args.out / "synth_contact_sheet.png")
    spectrograms(rows, args.out / "synth_spectrograms.png")
    print(f"wrote {clips}/demo.*, {args.out}/synth_contact_sheet.png, {args.out}/synth_spectrograms.png")


if __name__ == "__main__":
    main()
