"""A long EmoCue-Synth clip whose emotion follows a known schedule: one person, minutes long, for timelines.

    manifest = long_clip([("happy", 40), ("sad", 30), ("angry", 50)], "long.mp4", seed=0)

writes `long.mp4` (H.264 + AAC, the corpus's format), `long.srt` (what the person says, per piece) and
`long.json` (the manifest returned: segments with their start, end, emotion and cues; pieces; settings).

* One person throughout: the nuisance factors (skin, hair, background, lighting, voice) are drawn once per clip.
* A segment shows one emotion: its cue factors are drawn by the corpus sampler (`sample_factors`) until the rules
  give the scheduled emotion, with the face steady (no onset / offset inside a segment: the emotion changes only at
  the schedule's boundaries). The segment is rendered as pieces of at most `piece_seconds` (the renderers draw
  clips of 2-12 s: nods, pitch contours and events repeat per piece) with fresh noise and syllable seeds, and a
  subtitle of the segment's sentiment per piece.
* Memory stays bounded: pieces are rendered, encoded and muxed one at a time, so a 30-minute clip never holds more
  than one piece's frames. Same schedule and seed, same bytes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from processing.errors import XEmoGPTError
from .audio import SAMPLING_RATE, render_audio
from .corpus import AUDIO_BITRATE, AUDIO_OPTIONS, FPS, FRAME_SIZE, VIDEO_OPTIONS, _yuv420p_frames
from .cues import canonical_cues
from .factors import DURATION_RANGE, EMOTIONS, sample_factors, sample_nuisance
from .record import SUBTITLES
from .rules import derive_emotion
from .video import render_frames

PIECE_SECONDS = 6.0  # the longest piece of a segment (training clips are 2-12 s)
MAX_DRAWS = 20_000  # factor draws per segment before giving up (every emotion takes a few dozen at most)


def parse_schedule(text: str) -> list[tuple[str, float]]:
    """"happy:40,sad:30" -> [("happy", 40.0), ("sad", 30.0)] (emotion: seconds)."""
    schedule = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        emotion, _, seconds = part.partition(":")
        try:
            schedule.append((emotion.strip(), float(seconds)))
        except ValueError:
            raise XEmoGPTError(f"schedule item {part!r} is not EMOTION:SECONDS (e.g. happy:40,sad:30)") from None
    check_schedule(schedule)
    return schedule


def check_schedule(schedule) -> None:
    if not schedule:
        raise XEmoGPTError("the schedule is empty: give segments as EMOTION:SECONDS, e.g. happy:40,sad:30")
    for emotion, seconds in schedule:
        if emotion not in EMOTIONS:
            raise XEmoGPTError(f"unknown emotion {emotion!r} in the schedule; use one of {', '.join(EMOTIONS)}")
        if not seconds >= DURATION_RANGE[0]:
            raise XEmoGPTError(f"segment {emotion}:{seconds:g} is shorter than {DURATION_RANGE[0]:g} s")


def random_schedule(total_seconds: float, seed: int, *, min_seconds: float = 20.0, max_seconds: float = 60.0,
                    emotions=EMOTIONS) -> list[tuple[str, float]]:
    """Segments of `min_seconds`-`max_seconds` (whole seconds) filling `total_seconds`, each emotion different from
    the one before it."""
    rng = np.random.default_rng([int(seed), 7])
    schedule, left, previous = [], float(total_seconds), None
    while left > 0:
        seconds = float(rng.integers(int(min_seconds), int(max_seconds) + 1))
        if left - seconds < min_seconds:  # never leave a stub: the last segment takes the rest
            seconds = left
        emotion = str(rng.choice([e for e in emotions if e != previous]))
        schedule.append((emotion, seconds))
        left, previous = left - seconds, emotion
    return schedule


def segment_factors(emotion: str, rng: np.random.Generator, person, split: str = "test"):
    """Cue factors whose rule-derived emotion is `emotion`, drawn by the corpus sampler, with a steady face and
    `person`'s nuisance factors."""
    for _ in range(MAX_DRAWS):
        factors = sample_factors(rng, split)
        if derive_emotion(factors).emotion == emotion:
            return dataclasses.replace(factors, dynamics="steady", nuisance=person)
    raise XEmoGPTError(f"no factors with emotion {emotion!r} in {MAX_DRAWS} draws")


def _srt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d},{millis % 1000:03d}"


def long_clip(schedule, path, *, seed: int = 0, size: int = FRAME_SIZE, fps: int = FPS,
              piece_seconds: float = PIECE_SECONDS, split: str = "test") -> dict:
    """Render `schedule` ([(emotion, seconds), ...]) into one MP4 at `path` (+ `.srt`, `.json`); returns the
    manifest (see the module docstring). Every file is written to a temporary name and moved into place at the end."""
    check_schedule(schedule)
    if size < 16 or size % 16:
        raise XEmoGPTError(f"the frame size must be a multiple of 16 pixels, got {size}")
    if not DURATION_RANGE[0] <= piece_seconds <= DURATION_RANGE[1]:
        raise XEmoGPTError(f"piece_seconds must be within {DURATION_RANGE} seconds, got {piece_seconds}")
    path = Path(path)
    outputs = {"video": path, "subtitles": path.with_suffix(".srt"), "manifest": path.with_suffix(".json")}
    temporary = {key: target.with_name(target.name + ".tmp") for key, target in outputs.items()}
    rng = np.random.default_rng([int(seed), 0])
    person = sample_nuisance(rng)
    segments, pieces, start = [], [], 0.0
    try:
        with av.open(str(temporary["video"]), "w", format="mp4", options={"fflags": "+bitexact"}) as container:
            video = container.add_stream("libx264", rate=Fraction(fps), options={**VIDEO_OPTIONS, "g": str(2 * fps)})
            video.width = video.height = size
            video.pix_fmt = "yuv420p"
            video.codec_context.thread_count = 1
            sound = container.add_stream("aac", rate=SAMPLING_RATE, options=AUDIO_OPTIONS)
            sound.layout, sound.bit_rate = "mono", AUDIO_BITRATE
            for index, (emotion, seconds) in enumerate(schedule):
                end = start + float(seconds)
                factors = segment_factors(emotion, np.random.default_rng([int(seed), 1, index]), person, split)
                segments.append({"start": round(start, 3), "end": round(end, 3), "emotion": emotion,
                                 "cues": canonical_cues(factors), "factors": json.loads(factors.to_json())})
                count = math.ceil(float(seconds) / piece_seconds - 1e-9)
                bounds = np.linspace(start, end, count + 1)
                piece_rng = np.random.default_rng([int(seed), 2, index])
                for a, b in zip(bounds[:-1], bounds[1:]):
                    piece = dataclasses.replace(
                        factors, duration=float(b - a), render_seed=int(piece_rng.integers(2**31)),
                        voice_seed=int(piece_rng.integers(2**31)), head_phase=float(piece_rng.uniform(0, 2 * np.pi)),
                        event_time=float(piece_rng.uniform(0.15, 0.7)))
                    texts = SUBTITLES[piece.sentiment]
                    subtitle = texts[int(piece_rng.integers(len(texts)))]
                    _write_piece(container, video, sound, piece, a, b, size, fps)
                    pieces.append({"start": round(float(a), 3), "end": round(float(b), 3), "segment": index,
                                   "subtitle": subtitle})
                start = end
            container.mux(video.encode())
            container.mux(sound.encode())
        srt = "".join(f"{i}\n{_srt_time(p['start'])} --> {_srt_time(p['end'])}\n{p['subtitle']}\n\n"
                      for i, p in enumerate(pieces, 1))
        temporary["subtitles"].write_text(srt, encoding="utf-8")
        manifest = {"duration": round(start, 3), "seed": seed, "size": size, "fps": fps, "split": split,
                    "video": path.name, "subtitles": outputs["subtitles"].name, "segments": segments,
                    "pieces": pieces}
        temporary["manifest"].write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        for key, target in outputs.items():
            os.replace(temporary[key], target)
    finally:
        for leftover in temporary.values():
            leftover.unlink(missing_ok=True)
    return manifest


def _write_piece(container, video, sound, factors, start: float, end: float, size: int, fps: int) -> None:
    """Encode and mux the frames whose times fall in [start, end) and the audio samples of that span."""
    first, stop = math.ceil(start * fps - 1e-9), math.ceil(end * fps - 1e-9)
    if stop > first:
        frames = render_frames(factors, np.arange(first, stop) / fps - start, size=size)
        for picture in _yuv420p_frames(frames):
            picture.pts += first
            container.mux(video.encode(picture))
    a, b = round(start * SAMPLING_RATE), round(end * SAMPLING_RATE)
    audio = render_audio(factors, SAMPLING_RATE)[: b - a]
    audio = np.pad(audio, (0, b - a - len(audio)))
    chunk = av.AudioFrame.from_ndarray(audio.astype(np.float32)[None], format="fltp", layout="mono")
    chunk.sample_rate, chunk.pts = SAMPLING_RATE, a
    container.mux(sound.encode(chunk))
