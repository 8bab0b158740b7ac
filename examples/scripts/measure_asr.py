"""Word error rate of the automatic subtitles on real (synthesised) speech.

    python examples/scripts/measure_asr.py [--asr MODEL] [--out FILE]     (needs espeak-ng: make espeak)

Every EmoCue-Synth subtitle template (processing/data/synth/record.py, 40 sentences over 5 sentiments) is spoken by
Debian's espeak-ng, muxed as AAC into an MP4 next to a video track, and goes the way `xemogpt explain clip.mp4`
(without --subtitle) takes it: load_clip (the clip's own track at 16 kHz) -> processing.inference.asr.Transcriber. Writes the
word error rate over all sentences (word-level edit distance / reference words, case and punctuation folded), per
sentiment, and every sentence's transcript, as JSON (default benchmarks/results/asr_wer.json).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def speak(text: str, folder: Path, name: str) -> Path:
    """An MP4 (a plain video track + espeak-ng saying `text` as AAC at 16 kHz, 0.5 s of silence first)."""
    import soundfile as sf
    from scipy.signal import resample_poly

    from processing.data.synth.corpus import encode_mp4

    wav = folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
    speech, rate = sf.read(wav, dtype="float32")
    common = math.gcd(16000, rate)
    speech = resample_poly(speech, 16000 // common, rate // common).astype(np.float32)
    track = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(4000, np.float32)])
    seconds = len(track) / 16000
    frames = np.full((max(1, int(seconds * 10)), 64, 64, 3), 128, np.uint8)
    path = folder / f"{name}.mp4"
    encode_mp4(path, frames, track, fps=10)
    return path


def main(argv=None) -> int:
    from processing.inference.asr import Transcriber, default_model, word_error_rate
    from processing.media import load_clip
    from processing.data.synth.record import SUBTITLES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asr", default=None, help="speech-recognition model (default: processing.inference.asr.default_model())")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "asr_wer.json"))
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("error: espeak-ng is not installed (make espeak)", file=sys.stderr)
        return 2
    model = args.asr or default_model()
    if model is None:
        print("error: no speech-recognition model: pass --asr MODEL or run `make whisper`", file=sys.stderr)
        return 2
    transcriber = Transcriber(model)
    rows, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for sentiment, sentences in SUBTITLES.items():
            for index, sentence in enumerate(sentences):
                clip = load_clip(speak(sentence, Path(tmp), f"{sentiment}-{index}"))
                transcript = transcriber.transcribe(clip.audio, clip.sampling_rate)
                rows.append({"sentiment": sentiment, "reference": sentence, "transcript": transcript.text,
                             "wer": round(word_error_rate(sentence, transcript.text or ""), 4)})
    seconds = time.perf_counter() - start

    def pooled(items):
        from processing.inference.asr import normalize_words

        words = sum(len(normalize_words(r["reference"])) for r in items)
        errors = sum(r["wer"] * len(normalize_words(r["reference"])) for r in items)
        return round(errors / words, 4)

    report = {
        "asr_model": transcriber.name,
        "speech": "espeak-ng (Debian), default English voice, muxed as AAC into MP4; decoded by load_clip at 16 kHz",
        "sentences": len(rows),
        "wer": pooled(rows),
        "wer_by_sentiment": {s: pooled([r for r in rows if r["sentiment"] == s]) for s in SUBTITLES},
        "sentences_without_error": sum(r["wer"] == 0 for r in rows),
        "seconds": round(seconds, 1),
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_out.write_text(json.dumps(report, indent=1) + "\n")
    tmp_out.replace(out)
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
