"""EmoCue-Synth: a procedural audio-visual emotion corpus whose cues are known exactly.

A clip is a drawn face (mouth, brows, eyes, head motion, dynamics, tears) on a background, a wordless voice
(pitch level, contour, loudness, tempo, tremor, laughter/sigh) and a templated subtitle (sentiment). The
emotion follows from the cues by the rules in `rules.py` (see README.md in this folder), including
cross-modal conflicts (a forced smile, sarcasm).

In-memory API (fast, never touches disk; for pretraining tiny encoders on fresh samples)::

    rng = np.random.default_rng(0)                  # or sample_rng(seed, split, index) for corpus samples
    f = sample_factors(rng, split="train")          # -> Factors (frozen dataclass; split in SPLITS)
    frames = render_frames(f, timestamps, size=64)  # -> uint8 (F, size, size, 3); timestamps in seconds
    audio = render_audio(f, sampling_rate=16000)    # -> float32 (round(f.duration * sr),) in [-1, 1]
    record = make_record(f, rng, id="x", split="train")  # -> dict: EmoCue row (texts, cues, emotion, ...)
    labels = factor_labels(f)                       # -> {"mouth": 1, ..., "sentiment": 0, "emotion": 2}
    derive_emotion(f)                               # -> EmotionReading(emotion, visual, vocal, textual, ...)
    canonical_cues(f), recover_cues(explanation)    # canonical statements; paraphrase -> statements

Vocabularies (label index = position): MOUTHS, BROWS, EYES, HEAD_MOTIONS, DYNAMICS, TEARS, PITCHES,
CONTOURS, LOUDNESSES, TEMPOS, TREMORS, EVENTS, SENTIMENTS, EMOTIONS; CUE_FACTORS maps factor -> vocabulary.
The canonical cue table is `cues.CUE_TABLE`.

On disk (what `xemogpt synth OUT_DIR` runs)::

    generate_corpus(out_dir, num_samples, seed=0, split_fractions=None, size=112, fps=12, num_workers=2)
    -> SynthReport(counts, seconds, clips_per_second, order_shares, emotions)

writes `OUT_DIR/{README.md, data/<split>.parquet, media/<id>.mp4 (H.264 + AAC), media/<id>.wav (16 kHz mono)}`
atomically; same seed, same bytes. `order_dependent_shares(factors)` counts the cues only frame order resolves.
"""

from .audio import SAMPLING_RATE, render_audio
from .corpus import (FPS, FRAME_SIZE, SynthReport, encode_mp4, generate_corpus, order_dependent_shares,
                     render_clip, synth_sample, write_wav)
from .cues import CUE_TABLE, canonical_cues, recover_cues
from .factors import (BROWS, COMPOSITIONAL_HOLDOUT, CONTOURS, CUE_FACTORS, DYNAMICS, EMOTIONS, EVENTS, EYES,
                      HEAD_MOTIONS, LOUDNESSES, MOUTHS, PITCHES, SENTIMENTS, SPLITS, TEARS, TEMPOS, TREMORS,
                      Factors, Nuisance, compositional_key, factor_labels, sample_factors, sample_rng)
from .record import audio_caption, make_record, video_caption
from .rules import EmotionReading, derive_emotion
from .video import render_frames

__all__ = [
    "BROWS", "COMPOSITIONAL_HOLDOUT", "CONTOURS", "CUE_FACTORS", "CUE_TABLE", "DYNAMICS", "EMOTIONS", "EVENTS",
    "EYES", "FPS", "FRAME_SIZE", "HEAD_MOTIONS", "LOUDNESSES", "MOUTHS", "PITCHES", "SAMPLING_RATE", "SENTIMENTS",
    "SPLITS", "TEARS", "TEMPOS", "TREMORS", "EmotionReading", "Factors", "Nuisance", "SynthReport", "audio_caption",
    "canonical_cues", "compositional_key", "derive_emotion", "encode_mp4", "factor_labels", "generate_corpus",
    "make_record", "order_dependent_shares", "recover_cues", "render_audio", "render_clip", "render_frames",
    "sample_factors", "sample_rng", "synth_sample", "video_caption", "write_wav",
]
