"""Video frames and audio for XEmoGPT: uniform frame sampling and mono audio, decoded with PyAV.

This module is part of the model folder's remote code: `XEmoGPTProcessor` decodes video and audio paths with it, so
a Hub user with only `transformers`, `torch`, `av`, `pillow` and `scipy` installed gets the same frames and audio as
`xemogpt explain` (`processing.media` re-exports it). transformers' own loaders are not used: its video processors
need torchvision and its `load_audio` needs torchcodec (system FFmpeg) or soundfile (no video containers).

Frame sampling rule, shared by every method: the video's duration D is cut into `num_frames` equal
segments and for each segment centre t_i = (i + 0.5) * D / num_frames we take the frame *playing* at t_i,
i.e. the last frame whose presentation time is <= t_i (the first frame when none is). The returned
timestamps are those frames' presentation times in seconds from the start of the video stream.

Methods (`sample_frames(method=...)`, `load_clip(backend=...)`):

* ``"seek"``: per target, seek to the keyframe before it and decode forward to it; when no keyframe lies
  between the current position and the next target it decodes on instead of seeking again.
* ``"decode"``: decode the stream once from the start (frame-threaded) and keep the needed frames; only the
  kept frames are converted to RGB.
* ``"auto"`` (default; ``"pyav"`` is the same): estimate, from the container's keyframe index (no decoding),
  how many frames each method decodes, weigh the decode method's frame threads by the idle cores, and take
  the cheaper (a near tie goes to "decode"). Streams without an index (raw H.264, MPEG-TS) decode.
* ``"torchcodec"``: `torchcodec.decoders.VideoDecoder.get_frames_played_at`, when torchcodec imports.

Seek and decode return bit-identical frames. Behaviour decisions (the user sees each as a `Clip.notes` line):

* Fewer frames than `num_frames` (a 0.2 s clip): frames repeat, in order.
* A video that ends before its declared duration (a truncated download with its index at the front):
  frames are sampled over the part that decodes when at least half of `num_frames` distinct frames do;
  otherwise `MediaError`. A truncated MP4 whose index (moov) was at the end cannot be opened: `MediaError`.
* No audio track and no separate audio: `Clip.audio is None`. An audio-only file given as the video:
  `MediaError`, unless `allow_audio_only=True` (then `Clip.frames is None`).
* Audio is the equal-weight mean of all channels, resampled with `scipy.signal.resample_poly`, and only the
  first `max_audio_seconds` are decoded. Audio that stops decoding part-way is used up to that point.

Every problem a user can cause raises `MediaError` with the path and one line of reason.
"""

from __future__ import annotations

import logging
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


logger = logging.getLogger(__name__)


class XEmoGPTError(Exception):
    """Base class for user-facing errors: the CLI prints the message as one line and exits non-zero."""


class MediaError(XEmoGPTError):
    """A video or audio file that cannot be used (missing, empty, corrupt, no usable stream)."""

METHODS = ("auto", "pyav", "seek", "decode", "torchcodec")
# Cost model of "auto", in units of one single-threaded frame decode (calibrated with
# benchmarks/bench_decode.py): a seek costs about as much as decoding a few frames, and the decode method's
# frame threads make each frame cheaper the more idle cores there are (1: 1.0, 2: ~0.6, 8: ~0.2).
SEEK_OVERHEAD_FRAMES = 3.0
SEEK_MARGIN = 0.9  # seek only when clearly cheaper: near a tie the single decode pass is the safer bet
_SOUNDFILE_SUFFIXES = {".wav", ".flac"}
_AUDIO_MARGIN_SECONDS = 0.1  # decoded beyond max_seconds so the resampler has context at the cut
# Decoded frames are scaled (aspect kept) so that their longer side is at most this many pixels before they are
# kept: models take frames of a few hundred pixels, and 16 full-size frames of an 8K clip are gigabytes of RGB.
MAX_FRAME_SIDE = 1024
# The largest video frame read, in pixels (3840x2160, 4K UHD). The decoder holds full-size pictures whatever the
# scaling after it (an 8K one is 53 MB in YUV 4:2:0, several at a time), so larger frames are refused with a line
# saying how to scale the video down: a request's memory stays bounded.
MAX_FRAME_PIXELS = 3840 * 2160


@dataclass
class Clip:
    """One clip ready for the processor: sampled RGB frames, their times and mono audio."""

    frames: np.ndarray | None  # (F, H, W, 3) uint8; None when the file has no video stream
    timestamps: np.ndarray | None  # (F,) float seconds of each sampled frame
    audio: np.ndarray | None  # (T,) float32 mono in [-1, 1] at sampling_rate, first max_audio_seconds
    sampling_rate: int
    duration: float  # seconds of the source clip
    notes: list[str] = field(default_factory=list)  # human-readable remarks about what was done


# --------------------------------------------------------------------------------------------------------
# Opening files


def _checked_path(path) -> str:
    """The path as a string, after the checks that need no decoder (exists, is a file, not empty)."""
    if not isinstance(path, (str, os.PathLike)):
        raise MediaError(f"expected a path to a media file, got {type(path).__name__}: {path!r}")
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file")
    if p.is_dir():
        raise MediaError(f"{p} is a directory, not a video or audio file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p} is empty (0 bytes): re-download or re-export it")
    return str(p)


def _reason(error: BaseException) -> str:
    """FFmpeg's message without the errno prefix and the repeated path, on one line."""
    text = " ".join(str(error).split()) or type(error).__name__
    if text.startswith("[Errno"):
        text = text.split("]", 1)[-1].strip()
    return text.split(": '", 1)[0].rstrip(":")


@contextmanager
def _open(path: str):
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        raise MediaError(
            f"cannot read {path}: {_reason(error)} (not an audio/video file, or truncated/corrupt)"
        ) from error
    try:
        yield container
    finally:
        container.close()


def _video_stream(container):
    """The first real video stream (cover art in music files does not count)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _audio_stream(container):
    return container.streams.audio[0] if container.streams.audio else None


def has_audio_track(path) -> bool:
    """Whether the file at `path` has an audio stream (False for a file that cannot be opened); reads no samples."""
    try:
        with _open(os.fspath(path)) as container:
            return _audio_stream(container) is not None
    except MediaError:
        return False


# --------------------------------------------------------------------------------------------------------
# Video: timeline and targets


@dataclass
class _Timeline:
    start: int  # first presentation time, in time_base units
    time_base: Fraction
    duration: float  # seconds of video
    fps: float

    def seconds(self, pts: int) -> float:
        return float((pts - self.start) * self.time_base)

    def pts(self, seconds: float) -> int:
        return self.start + math.floor(seconds / self.time_base + 1e-9)

    def frame_pts(self, frame, index: int) -> int:
        """A frame's pts; streams without timestamps (raw H.264) count frames at the nominal rate."""
        return frame.pts if frame.pts is not None else self.pts(index / self.fps)

    def targets(self, num_frames: int, duration: float | None = None) -> list[int]:
        duration = self.duration if duration is None else duration
        return [self.pts((i + 0.5) * duration / num_frames) for i in range(num_frames)]


def _timeline(container, stream, path: str) -> _Timeline:
    time_base = stream.time_base or Fraction(1, av.time_base)
    start = stream.start_time if stream.start_time is not None else 0
    fps = float(stream.guessed_rate or stream.average_rate or stream.base_rate or 25)
    if stream.duration:
        duration = float(stream.duration * time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    elif stream.frames:
        duration = stream.frames / fps
    else:
        duration = _scan_duration(path, fps)
    if not duration or duration <= 0:
        raise MediaError(f"{path} has a video stream with no frames")
    return _Timeline(start, time_base, duration, fps)


def _scan_duration(path: str, fps: float) -> float:
    """Duration from the packets (demuxed, not decoded) when the container declares none."""
    with _open(path) as container:
        stream = _video_stream(container)
        first, end, count = None, None, 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                count += 1
                if packet.pts is not None:
                    first = packet.pts if first is None else min(first, packet.pts)
                    end = max(end or packet.pts, packet.pts + (packet.duration or 0))
        except av.FFmpegError:
            pass  # truncated: the packets read so far give the duration
        if end is not None and end > first:
            return float((end - first) * stream.time_base)
        return count / fps


# --------------------------------------------------------------------------------------------------------
# Video: the two PyAV methods


class _SeekFailed(Exception):
    """Seeking did not land on a decodable keyframe at or before a target: decode instead."""


@dataclass
class _Sampled:
    chosen: list  # per target: (pts, av.VideoFrame)
    decoded: int  # frames decoded
    last_pts: int | None
    error: BaseException | None = None  # decoding stopped on this error


class _ToRgb:
    """(pts, decoded frame) -> (pts, RGB array), as soon as a frame is chosen, so that no pass holds more than the
    frame it is looking at in decoded form. Every frame gets the first chosen frame's size (a stream may change
    size part-way), scaled down so that its longer side is at most MAX_FRAME_SIDE; a frame chosen for several
    targets is converted once."""

    def __init__(self):
        self.size, self.done = None, {}

    def __call__(self, item):
        pts, frame = item
        if pts not in self.done:
            if self.size is None:
                scale = min(1.0, MAX_FRAME_SIDE / max(frame.width, frame.height))
                self.size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
            self.done[pts] = frame.to_ndarray(format="rgb24", width=self.size[0], height=self.size[1])
        return pts, self.done[pts]


def _threads_for(stream) -> str:
    """Frame threads hold a decoded picture each: beyond MAX_FRAME_SIDE**2 pixels a frame (an 8K one is 53 MB in
    YUV 4:2:0) decodes with slice threads only, so that the decoder's memory does not grow with the thread count."""
    context = stream.codec_context
    return "SLICE" if (context.width or 0) * (context.height or 0) > MAX_FRAME_SIDE * MAX_FRAME_SIDE else "AUTO"


def _decode_pass(container, stream, timeline: _Timeline, targets: list[int]) -> _Sampled:
    """Decode from the start once; for each target keep the last frame at or before it."""
    stream.thread_type = _threads_for(stream)
    to_rgb = _ToRgb()
    chosen, i, previous, count, error = [None] * len(targets), 0, None, 0, None
    try:
        for frame in container.decode(stream):
            pts = timeline.frame_pts(frame, count)
            count += 1
            while i < len(targets) and pts > targets[i]:
                chosen[i] = to_rgb(previous or (pts, frame))
                i += 1
            if i == len(targets):
                break
            previous = (pts, frame)
    except av.FFmpegError as exc:
        error = exc
    for j in range(i, len(targets)):
        chosen[j] = to_rgb(previous) if previous else None
    return _Sampled(chosen, count, previous[0] if previous else None, error)


def _keyframe_lookup(stream):
    """t -> timestamp of the index's keyframe at or before t (None when the container has no index)."""
    entries = stream.index_entries
    if len(entries) == 0:
        return None

    def keyframe_before(t: int) -> int:
        k = entries.search_timestamp(t, backward=True)
        return entries[k].timestamp if k >= 0 else entries[0].timestamp

    return keyframe_before


def _continues(position: int | None, target: int, keyframe_before, step: float) -> bool:
    """Decode on from `position` to `target` (True) or seek (False)?"""
    if position is None:
        return False
    if keyframe_before is None:
        return (target - position) / step <= SEEK_OVERHEAD_FRAMES
    return keyframe_before(target) - position <= SEEK_OVERHEAD_FRAMES * step


def _seek_before(container, stream, timeline: _Timeline, target: int):
    """Seek so that the first decoded frame is a keyframe at or before `target`; return (frames, first)."""
    offset, backoff = target, timeline.pts(1.0) - timeline.start
    for _ in range(6):
        container.seek(max(offset, timeline.start), stream=stream, backward=True, any_frame=False)
        frames = container.decode(stream)
        first = next(frames, None)
        if first is None or first.pts is None or not first.key_frame:
            raise _SeekFailed
        if first.pts <= target:
            return frames, first
        if offset <= timeline.start:
            break
        offset = min(offset, first.pts) - backoff  # landed after the target (e.g. MPEG-TS): back off
        backoff *= 2
    raise _SeekFailed


def _seek_pass(container, stream, timeline: _Timeline, targets: list[int]) -> _Sampled:
    """Per target, seek to the keyframe before it (or decode on) and decode forward to it."""
    stream.thread_type = "SLICE"  # frame threads only add latency to the short runs after each seek
    keyframe_before = _keyframe_lookup(stream)
    step = 1 / (timeline.fps * timeline.time_base)
    to_rgb = _ToRgb()
    chosen, frames, best, pending, count = [], None, None, None, 0
    try:
        for target in targets:
            position = pending.pts if pending is not None else (best.pts if best is not None else None)
            if frames is None or not _continues(position, target, keyframe_before, step):
                frames, best = _seek_before(container, stream, timeline, target)
                pending, count = None, count + 1
            while True:
                frame = pending if pending is not None else next(frames, None)
                pending = None
                if frame is None:
                    break
                if frame.pts is None:
                    raise _SeekFailed
                if frame.pts > target:
                    pending = frame
                    break
                best = frame
                count += 1
            chosen.append(to_rgb((best.pts, best)))
    except av.FFmpegError as error:
        raise _SeekFailed from error
    if chosen[-1][0] < targets[-1] - 1.5 * step:
        raise _SeekFailed  # the stream ended early: let the decode pass handle a truncated file
    return _Sampled(chosen, count, chosen[-1][0])


def _choose_method(stream, timeline: _Timeline, targets: list[int]) -> str:
    """"seek" or "decode", whichever decodes fewer frames by the cost model above."""
    keyframe_before = _keyframe_lookup(stream)
    if keyframe_before is None:
        return "decode"
    step = 1 / (timeline.fps * timeline.time_base)
    decode_frames = (targets[-1] - timeline.start) / step + 1
    seeks, seek_frames, position = 0, 0.0, None
    for target in targets:
        if _continues(position, target, keyframe_before, step):
            seek_frames += (target - position) / step
        else:
            seeks += 1
            seek_frames += max(target - keyframe_before(target), 0) / step + 1
        position = target
    seek_cost = seek_frames + seeks * SEEK_OVERHEAD_FRAMES
    return "seek" if seek_cost < SEEK_MARGIN * decode_frames * _threaded_frame_cost() else "decode"


def _threaded_frame_cost() -> float:
    """Cost of one frame of the frame-threaded decode pass relative to a single-threaded one.

    Frame threads only help with idle cores: on a busy machine (a DataLoader with a worker per core, a shared
    server) decoding fewer frames wins, so the usable cores are the CPUs minus the other runnable load.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = max(os.getloadavg()[0] - 1.0, 0.0)  # runnable tasks besides this one
    except (AttributeError, OSError):
        busy = 0.0
    usable = min(max(cpus - busy, 1.0), cpus, 8)
    return 1.0 / usable**0.75


# --------------------------------------------------------------------------------------------------------
# Video: public sampling


def _to_rgb(chosen: list) -> np.ndarray:
    """The chosen frames (already RGB) as (F, H, W, 3) uint8."""
    return np.stack([rgb for _, rgb in chosen])


def _decode_from_start(path: str, timeline: _Timeline, targets: list[int]) -> _Sampled:
    """The decode pass on a freshly opened file (seeking back to the start is unreliable in MPEG-TS)."""
    with _open(path) as container:
        return _decode_pass(container, _video_stream(container), timeline, targets)


def _sample_pyav(container, stream, path: str, num_frames: int, method: str):
    """(frames, timestamps, video duration, method used, notes) with the PyAV methods."""
    timeline = _timeline(container, stream, path)
    targets = timeline.targets(num_frames)
    if method in ("auto", "pyav"):
        method = _choose_method(stream, timeline, targets)
    notes, sampled = [], None
    if method == "seek":
        try:
            sampled = _seek_pass(container, stream, timeline, targets)
        except _SeekFailed:
            logger.info("seeking in %s did not reach every target; decoding it from the start", path)
            sampled = _decode_from_start(path, timeline, targets)
    else:
        sampled = _decode_pass(container, stream, timeline, targets)
    if sampled.last_pts is None:
        reason = f": {_reason(sampled.error)}" if sampled.error else ""
        raise MediaError(f"no video frame of {path} could be decoded{reason}")
    step = 1 / (timeline.fps * timeline.time_base)
    if sampled.last_pts < targets[-1] - 1.5 * step:
        sampled, notes = _resample_truncated(path, timeline, num_frames, sampled)
    timestamps = np.array([timeline.seconds(pts) for pts, _ in sampled.chosen], dtype=np.float64)
    distinct = len({pts for pts, _ in sampled.chosen})
    if distinct < num_frames:
        notes.append(f"{path} has only {distinct} distinct frames where {num_frames} were asked: frames repeat")
    return _to_rgb(sampled.chosen), timestamps, timeline.duration, method, notes


def _resample_truncated(path: str, timeline: _Timeline, num_frames: int, sampled: _Sampled):
    """The video stopped before its declared end: sample over what decodes, if enough of it does."""
    decoded_seconds = timeline.seconds(sampled.last_pts) + 1 / timeline.fps
    what = f"is truncated or corrupt ({_reason(sampled.error)})" if sampled.error else "looks truncated"
    enough = max(1, num_frames // 2)
    if sampled.decoded < enough:
        raise MediaError(
            f"{path} {what}: only {sampled.decoded} frames ({decoded_seconds:.2f} s of the declared "
            f"{timeline.duration:.2f} s) decode, fewer than {enough}; re-export or re-download it"
        )
    again = _decode_from_start(path, timeline, timeline.targets(num_frames, decoded_seconds))
    note = (
        f"{path} {what}: video decodes only up to {decoded_seconds:.2f} s of the declared "
        f"{timeline.duration:.2f} s; frames were sampled from that part"
    )
    return again, [note]


def _torchcodec_decoder():
    """torchcodec's VideoDecoder class, or the one-line reason it cannot be used here."""
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception as error:  # noqa: BLE001 - CUDA builds fail with OSError/RuntimeError, not ImportError
        return None, f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
    return VideoDecoder, None


def torchcodec_available() -> tuple[bool, str | None]:
    """(True, None) when torchcodec imports and works here, else (False, why)."""
    decoder, reason = _torchcodec_decoder()
    return decoder is not None, reason


def _sample_torchcodec(path: str, num_frames: int):
    decoder_class, reason = _torchcodec_decoder()
    if decoder_class is None:
        raise XEmoGPTError(f"method 'torchcodec' is not usable here ({reason}); use method='auto' (PyAV)")
    try:
        decoder = decoder_class(path, dimension_order="NHWC", seek_mode="exact")
    except Exception as error:  # noqa: BLE001 - torchcodec raises RuntimeError/ValueError for bad files
        raise MediaError(f"torchcodec cannot decode {path}: {_reason(error)}") from error
    return _sample_decoder(decoder, num_frames, path)


def _sample_decoder(decoder, num_frames: int, name: str):
    """(frames (F, H, W, 3) uint8, timestamps, duration) from a torchcodec `VideoDecoder` (as `datasets`' `Video`
    feature yields it), by the segment-centre rule of this module."""
    try:
        meta = decoder.metadata
        begin = float(getattr(meta, "begin_stream_seconds", None) or 0.0)
        end = getattr(meta, "end_stream_seconds", None)
        duration = float(end - begin) if end is not None else float(meta.duration_seconds)
        seconds = [begin + (i + 0.5) * duration / num_frames for i in range(num_frames)]
        batch = decoder.get_frames_played_at(seconds=seconds)
    except Exception as error:  # noqa: BLE001 - torchcodec raises RuntimeError/ValueError for bad files
        raise MediaError(f"torchcodec cannot decode {name}: {_reason(error)}") from error
    frames = batch.data.cpu().numpy().astype(np.uint8, copy=False)
    if frames.shape[-1] != 3 and frames.shape[1] == 3:  # a decoder made with dimension_order="NCHW" (datasets' default)
        frames = frames.transpose(0, 2, 3, 1)
    timestamps = batch.pts_seconds.cpu().numpy().astype(np.float64) - begin
    return np.ascontiguousarray(frames), timestamps, duration


@contextmanager
def _as_file(source: dict):
    """A `{"path", "bytes"}` media dict (`datasets`' undecoded `Video` / `Audio`) as a file path."""
    if source.get("bytes") is None:
        yield source["path"]
        return
    import tempfile

    suffix = Path(source.get("path") or "").suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as file:
        file.write(source["bytes"])
        file.flush()
        yield file.name


def sample_frames_from(source, num_frames: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """`sample_frames` for any form a dataset gives a video in: a path, a `{"path", "bytes"}` dict, or a torchcodec
    `VideoDecoder`."""
    if hasattr(source, "get_frames_played_at"):
        return _sample_decoder(source, num_frames, "a decoded video")[:2]
    if isinstance(source, dict):
        with _as_file(source) as path:
            return sample_frames(path, num_frames)
    return sample_frames(source, num_frames)


def load_audio_from(source, sampling_rate: int = 16000, max_seconds: float = 12.0) -> np.ndarray:
    """`load_audio` for any form a dataset gives audio in: a path, a `{"path", "bytes"}` dict, an
    `{"array", "sampling_rate"}` dict, or a torchcodec `AudioDecoder`."""
    if hasattr(source, "get_samples_played_in_range"):
        try:
            samples = source.get_samples_played_in_range(0.0, max_seconds + _AUDIO_MARGIN_SECONDS)
        except Exception as error:  # noqa: BLE001
            raise MediaError(f"torchcodec cannot decode the audio: {_reason(error)}") from error
        wave, rate = samples.data.cpu().numpy().astype(np.float32).mean(axis=0), int(samples.sample_rate)
    elif isinstance(source, dict) and source.get("array") is not None:
        wave, rate = np.asarray(source["array"], dtype=np.float32), int(source["sampling_rate"])
        wave = wave.mean(axis=0) if wave.ndim == 2 else wave
    elif isinstance(source, dict):
        with _as_file(source) as path:
            return load_audio(path, sampling_rate, max_seconds)
    else:
        return load_audio(source, sampling_rate, max_seconds)
    wave = _resample(wave, rate, sampling_rate)[: int(round(max_seconds * sampling_rate))]
    return np.clip(wave, -1.0, 1.0)


def _sample(path: str, num_frames: int, method: str, allow_audio_only: bool = False):
    """(frames, timestamps, video duration, method used, notes, container duration) for one path."""
    if method not in METHODS:
        raise XEmoGPTError(f"unknown frame sampling method {method!r}; choose one of {', '.join(METHODS)}")
    if num_frames < 1:
        raise XEmoGPTError(f"num_frames must be at least 1, got {num_frames}")
    with _open(path) as container:
        stream = _video_stream(container)
        container_duration = container.duration / av.time_base if container.duration else None
        if stream is None:
            if allow_audio_only:
                return None, None, None, None, [], container_duration
            raise MediaError(
                f"{path} has no video stream; pass it as --audio (with a video), or load it with "
                f"allow_audio_only=True to explain from audio + subtitle only"
            )
        width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
        if width * height > MAX_FRAME_PIXELS:
            raise MediaError(f"{path}: video frames of {width}x{height} are larger than the 3840x2160 read here; "
                             "scale the video down first (e.g. ffmpeg -i IN -vf scale=1280:-2 OUT)")
        if method == "torchcodec":
            frames, timestamps, duration = _sample_torchcodec(path, num_frames)
            return frames, timestamps, duration, method, [], container_duration
        try:
            result = _sample_pyav(container, stream, path, num_frames, method)
        except av.FFmpegError as error:
            raise MediaError(f"cannot decode the video in {path}: {_reason(error)}") from error
        return (*result, container_duration)


def choose_method(path, num_frames: int = 16) -> str:
    """The PyAV method ("seek" or "decode") that `method="auto"` uses for this file; reads only the index."""
    path = _checked_path(path)
    with _open(path) as container:
        stream = _video_stream(container)
        if stream is None:
            raise MediaError(f"{path} has no video stream")
        timeline = _timeline(container, stream, path)
        return _choose_method(stream, timeline, timeline.targets(num_frames))


def sample_frames(path, num_frames: int = 16, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Sample `num_frames` frames uniformly over the video (see the module docstring for the rule).

    Returns (frames (F, H, W, 3) uint8 RGB, timestamps (F,) float seconds). `method` is "auto", "seek",
    "decode" or "torchcodec"; "seek" and "decode" give identical frames.
    """
    frames, timestamps, _, _, notes, _ = _sample(_checked_path(path), num_frames, method)
    for note in notes:
        logger.info(note)
    return frames, timestamps


# --------------------------------------------------------------------------------------------------------
# Audio


def _as_float(data: np.ndarray, sample_format: str) -> np.ndarray:
    """PCM samples of an FFmpeg sample format ("s16", "fltp", ...) as float32 in [-1, 1]."""
    kind = sample_format.rstrip("p")
    if kind == "u8":
        return (data.astype(np.float32) - 128.0) / 128.0
    if kind in ("s16", "s32", "s64"):
        return (data / float(2 ** (int(kind[1:]) - 1))).astype(np.float32)
    return data.astype(np.float32, copy=False)


def _mono(frame) -> np.ndarray:
    """One decoded audio frame as float32 mono (the mean of its channels)."""
    data = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T
    data = _as_float(data, frame.format.name)
    return data.mean(axis=0) if channels > 1 else data[0]


def _decode_audio(container, stream, path: str, max_seconds: float) -> tuple[np.ndarray, int, list[str]]:
    """Decode only as much as needed: (mono float32 at the native rate, rate, notes)."""
    stream.thread_type = "AUTO"
    rate = stream.rate or stream.codec_context.sample_rate
    needed = math.ceil((max_seconds + _AUDIO_MARGIN_SECONDS) * rate) if rate else None
    chunks, total, notes = [], 0, []
    try:
        for frame in container.decode(stream):
            rate = rate or frame.sample_rate
            needed = needed or math.ceil((max_seconds + _AUDIO_MARGIN_SECONDS) * rate)
            chunk = _mono(frame)
            chunks.append(chunk)
            total += len(chunk)
            if total >= needed:
                break
    except av.FFmpegError as error:
        if not total:
            raise MediaError(f"cannot decode the audio in {path}: {_reason(error)}") from error
        notes.append(f"audio in {path} is truncated or corrupt after {total / rate:.2f} s; using what decodes")
    if not total:
        raise MediaError(f"the audio stream of {path} has no samples")
    return np.concatenate(chunks), int(rate), notes


def _read_soundfile(path: str, max_seconds: float):
    """(mono float32, rate) through libsndfile for WAV/FLAC, or None to let PyAV try."""
    try:
        import soundfile
    except ImportError:  # optional: PyAV decodes WAV/FLAC too
        return None
    try:
        with soundfile.SoundFile(path) as file:
            rate = file.samplerate
            data = file.read(math.ceil((max_seconds + _AUDIO_MARGIN_SECONDS) * rate), dtype="float32",
                             always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError):
        return None
    if len(data) == 0:
        return None
    return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0], rate


def _resample(wave: np.ndarray, rate: int, sampling_rate: int) -> np.ndarray:
    if rate == sampling_rate:
        return wave.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    gcd = math.gcd(rate, sampling_rate)
    return resample_poly(wave, sampling_rate // gcd, rate // gcd).astype(np.float32)


def _load_audio(path: str, sampling_rate: int, max_seconds: float, required: bool = True):
    """(wave, notes); (None, []) when the file has no audio stream and `required` is False."""
    native, notes = None, []
    if Path(path).suffix.lower() in _SOUNDFILE_SUFFIXES:
        native = _read_soundfile(path, max_seconds)
    if native is None:
        with _open(path) as container:
            stream = _audio_stream(container)
            if stream is None:
                if not required:
                    return None, []
                raise MediaError(f"{path} has no audio stream")
            *native, notes = _decode_audio(container, stream, path, max_seconds)
    wave, rate = native
    wave = _resample(wave, rate, sampling_rate)[: int(round(max_seconds * sampling_rate))]
    return np.clip(wave, -1.0, 1.0), notes


def load_audio(path, sampling_rate: int = 16000, max_seconds: float = 12.0) -> np.ndarray:
    """The first `max_seconds` of a file's audio as (T,) float32 mono in [-1, 1] at `sampling_rate`.

    Any container PyAV reads (WAV, MP3, M4A, MP4, WebM ...); WAV/FLAC go through soundfile. Decoding stops
    after `max_seconds`, so a long file costs no more than a short one.
    """
    wave, notes = _load_audio(_checked_path(path), sampling_rate, max_seconds)
    for note in notes:
        logger.info(note)
    return wave


# --------------------------------------------------------------------------------------------------------
# Clips


def load_clip(
    video,
    audio=None,
    *,
    num_frames: int = 16,
    sampling_rate: int = 16000,
    max_audio_seconds: float = 12.0,
    backend: str = "auto",
    allow_audio_only: bool = False,
) -> Clip:
    """Frames, timestamps and audio of one clip.

    `video`: the clip; `audio`: a separate audio file, else the video's own track is used. `backend` is a
    frame sampling method of `sample_frames` ("auto" = PyAV, choosing seek or decode per file).
    `allow_audio_only=True` accepts a file without a video stream (frames and timestamps are then None).
    """
    video = _checked_path(video)
    audio_path = _checked_path(audio) if audio is not None else None
    frames, timestamps, video_duration, _, notes, container_duration = _sample(
        video, num_frames, backend, allow_audio_only
    )
    if frames is None:
        notes.append(f"no video stream in {video}: explaining from audio + subtitle only")
    if audio_path is not None:
        wave, audio_notes = _load_audio(audio_path, sampling_rate, max_audio_seconds)
    else:
        wave, audio_notes = _load_audio(video, sampling_rate, max_audio_seconds, required=False)
        if wave is None and frames is None:
            raise MediaError(f"{video} has neither a video nor an audio stream")
        if wave is None:
            audio_notes = [f"no audio track in {video}: explaining from video + subtitle only"]
    notes += audio_notes
    duration = container_duration or video_duration or (len(wave) / sampling_rate if wave is not None else 0.0)
    return Clip(frames, timestamps, wave, sampling_rate, float(duration), notes)
