"""The media of a long clip, window by window: window spans, one decoding pass, subtitle files.

    windows = plan_windows(duration, window=8.0, stride=4.0)
    for item in iter_window_media("interview.mp4", windows, num_frames=16, sampling_rate=16000, max_audio_seconds=6):
        item.window, item.frames, item.timestamps, item.audio     # what `load_clip` gives for a short clip

* Windows: `[k * stride, k * stride + window)` for k = 0, 1, ... until one reaches the end of the clip; that last
  one is clipped at the end (a clip no longer than `window` is one window). A tail shorter than half a window that
  the windows before it leave uncovered (only possible when stride > window / 2) joins the window before it.
* Frames: each window is sampled as `load_clip` samples a whole clip (the frame playing at the centre of each of
  `num_frames` equal segments of the window; timestamps from the window's start), audio is the window's samples
  (the first `max_audio_seconds`; the last window runs to the end of the track). A window spanning the whole clip
  gets exactly `load_clip`'s frames and audio.
* One pass: the file is decoded once, front to back (video and audio each by their own demuxer), and a window is
  handed over as soon as its last frame and sample are decoded. Only the frames picked for the windows still open
  (window / stride of them overlap) and the audio since the oldest open window's start are held, so memory does not
  grow with the clip's length. (Seeking per window would decode the overlap of consecutive windows again; stretches
  between windows, when stride > window, are decoded and dropped.)
* Subtitles: `read_subtitles` reads an SRT or WebVTT file; `subtitle_between` joins the lines a window overlaps.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from processing.errors import DatasetError, MediaError, XEmoGPTError, reading_text
from processing.media import _AUDIO_MARGIN_SECONDS, MAX_FRAME_PIXELS, _audio_stream, _checked_path, _mono, _open, _reason
from processing.media import _resample, _threads_for, _timeline, _ToRgb, _video_stream


@dataclass(frozen=True)
class Window:
    """One window of a long clip, in seconds from its start."""

    index: int
    start: float
    end: float

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2


def plan_windows(duration: float, window: float, stride: float) -> list[Window]:
    """The windows of a clip `duration` seconds long (see the module docstring)."""
    if not window > 0:
        raise XEmoGPTError(f"--window must be greater than 0 seconds, got {window:g}")
    if not stride > 0:
        raise XEmoGPTError(f"--stride must be greater than 0 seconds, got {stride:g}")
    if not duration > 0:
        raise XEmoGPTError("the clip has no duration: nothing to cut into windows")
    spans, start = [], 0.0
    while True:
        end = start + window
        if end >= duration - 1e-6:
            spans.append((start, duration))
            break
        spans.append((start, end))
        start = (len(spans)) * stride
        if start >= duration - 1e-6:  # stride > window: the clip ends in the gap after the last window
            break
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < window / 2 and spans[-1][0] <= spans[-2][1]:
        spans[-2:] = [(spans[-2][0], duration)]
    return [Window(i, round(a, 6), round(b, 6)) for i, (a, b) in enumerate(spans)]


def media_duration(path) -> float:
    """Seconds of a video (or audio) file, from its headers as `load_clip` reports it; decodes nothing."""
    path = _checked_path(path)
    with _open(path) as container:
        if container.duration:
            return container.duration / av.time_base
        stream = _video_stream(container)
        if stream is not None:
            return _timeline(container, stream, path).duration
    raise MediaError(f"{path} declares no duration; remux it (e.g. ffmpeg -i IN -c copy OUT.mp4) and try again")


# ---- one decoding pass ----------------------------------------------------------------------------------------


@dataclass
class WindowMedia:
    """What one window gives the processor: as `load_clip`'s `Clip`, for the window's span."""

    window: Window
    frames: np.ndarray | None  # (F, H, W, 3) uint8
    timestamps: np.ndarray | None  # (F,) seconds from the window's start
    audio: np.ndarray | None  # (T,) float32 mono at the sampling rate
    notes: list[str] = field(default_factory=list)


class _Frames:
    """The frames playing at sorted target times (seconds), decoded once front to back: yields
    (target index, frame seconds, RGB, decoded) where `decoded` is False for targets after the video ended."""

    def __init__(self, path: str, times: list[float]):
        self.path, self.times = path, times
        self.last_seconds: float | None = None  # time of the last frame decoded
        self.error: str | None = None

    def __iter__(self):
        with _open(self.path) as container:
            stream = _video_stream(container)
            width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
            if width * height > MAX_FRAME_PIXELS:
                raise MediaError(f"{self.path}: video frames of {width}x{height} are larger than the 3840x2160 read "
                                 "here; scale the video down first (e.g. ffmpeg -i IN -vf scale=1280:-2 OUT)")
            timeline = _timeline(container, stream, self.path)
            targets = [timeline.pts(t) for t in self.times]
            stream.thread_type = _threads_for(stream)
            to_rgb, previous, i, count = _ToRgb(), None, 0, 0

            def picked(item):
                pts, rgb = to_rgb(item)
                to_rgb.done = {pts: rgb}  # keep only the frame just converted: the pass must not grow
                return timeline.seconds(pts), rgb

            try:
                for frame in container.decode(stream):
                    pts = timeline.frame_pts(frame, count)
                    count += 1
                    while i < len(targets) and pts > targets[i]:
                        yield (i, *picked(previous or (pts, frame)), True)
                        i += 1
                    if i == len(targets):
                        return
                    previous = (pts, frame)
                    self.last_seconds = timeline.seconds(pts)
            except av.FFmpegError as error:
                self.error = _reason(error)
            if previous is None:
                raise MediaError(f"no video frame of {self.path} could be decoded"
                                 + (f": {self.error}" if self.error else ""))
            step = 1 / (timeline.fps * timeline.time_base)
            for j in range(i, len(targets)):  # after the last frame: it plays on, if the stream did not stop early
                yield (j, *picked(previous), targets[j] <= previous[0] + 1.5 * step)


class _Audio:
    """A track's mono samples (native rate), decoded once front to back, of which only a span is kept."""

    def __init__(self, path: str):
        self.path = path
        self._container = _open(path)
        container = self._container.__enter__()
        self.stream = _audio_stream(container)
        if self.stream is None:
            self.close()
            return
        self.stream.thread_type = "AUTO"
        self.rate = self.stream.rate or self.stream.codec_context.sample_rate
        self._frames = container.decode(self.stream)
        self.chunks, self.first, self.end, self.finished, self.error = deque(), 0, 0, False, None

    def close(self):
        if self._container is not None:
            self._container.__exit__(None, None, None)
            self._container = None

    def _fill(self, sample: int) -> None:
        """Decode until sample index `sample` is buffered or the track ends."""
        while not self.finished and self.end < sample:
            try:
                frame = next(self._frames)
            except StopIteration:
                self.finished = True
                break
            except av.FFmpegError as error:
                self.finished, self.error = True, _reason(error)
                break
            self.rate = self.rate or frame.sample_rate
            chunk = _mono(frame)
            self.chunks.append(chunk)
            self.end += len(chunk)

    def span(self, start: float, end: float) -> np.ndarray:
        """Samples from `start` to `end` seconds (fewer where the track ends), native rate."""
        a, b = int(round(start * self.rate)), int(math.ceil(end * self.rate - 1e-6))
        self._fill(b)
        if not self.chunks:
            return np.zeros(0, np.float32)
        buffered = np.concatenate(self.chunks) if len(self.chunks) > 1 else self.chunks[0]
        self.chunks = deque([buffered])
        return buffered[max(a - self.first, 0): max(b - self.first, 0)]

    def drop_before(self, seconds: float) -> None:
        """Forget the samples before `seconds` (no open window needs them)."""
        keep_from = int(round(seconds * self.rate)) if self.rate else 0
        while self.chunks and self.first < keep_from:
            head = self.chunks[0]
            if self.first + len(head) <= keep_from:
                self.first += len(self.chunks.popleft())
            else:  # a copy, so that the samples before it are freed
                self.chunks[0] = head[keep_from - self.first:].copy()
                self.first = keep_from

    @property
    def buffered_seconds(self) -> float:
        return sum(len(c) for c in self.chunks) / self.rate if self.rate else 0.0


def iter_window_media(video, windows: list[Window], *, num_frames: int, sampling_rate: int,
                      max_audio_seconds: float, audio=None):
    """`WindowMedia` for each of `windows` (in order), decoding `video` (and `audio`, a separate track) once."""
    video = _checked_path(video)
    audio_path = _checked_path(audio) if audio is not None else video
    with _open(video) as container:
        has_video = _video_stream(container) is not None
    times = sorted(((w.start + (i + 0.5) * (w.end - w.start) / num_frames, w.index, i)
                    for w in windows for i in range(num_frames)))
    frames = _Frames(video, [t for t, _, _ in times]) if has_video else None
    picked = iter(frames) if frames is not None else iter(())
    track = _Audio(audio_path)
    if track.stream is None and audio is not None:
        raise MediaError(f"{audio_path} has no audio stream")
    if track.stream is None and not has_video:
        raise MediaError(f"{video} has neither a video nor an audio stream")
    slots: dict[int, list] = {}
    try:
        for position, window in enumerate(windows):
            notes = []
            if frames is not None:
                while len(slots.get(window.index, ())) < num_frames:
                    j, seconds, rgb, decoded = next(picked)
                    slots.setdefault(times[j][1], []).append((times[j][2], seconds, rgb, decoded))
                chosen = sorted(slots.pop(window.index))
                if position and not any(decoded for *_, decoded in chosen):
                    reason = f" ({frames.error})" if frames.error else ""
                    yield _truncated(video, windows[position:], frames.last_seconds, reason)
                    return
                window_frames = np.stack([rgb for _, _, rgb, _ in chosen])
                stamps = np.array([seconds - window.start for _, seconds, _, _ in chosen], dtype=np.float64)
            else:
                window_frames = stamps = None
            sound = None
            if track.stream is not None:
                last = position == len(windows) - 1
                stop = min(math.inf if last else window.end, window.start + max_audio_seconds)
                native = track.span(window.start, stop + _AUDIO_MARGIN_SECONDS)
                if len(native):
                    sound = _resample(native, int(track.rate), sampling_rate)
                    sound = np.clip(sound[: int(round(max_audio_seconds * sampling_rate))], -1.0, 1.0)
                if not last:
                    track.drop_before(windows[position + 1].start)
            if sound is None and position == 0:
                notes.append(f"no audio track in {video}: explaining from video + subtitle only"
                             if track.stream is None else f"the audio of {audio_path} has no samples")
            yield WindowMedia(window, window_frames, stamps, sound, notes)
    finally:
        track.close()
        if hasattr(picked, "close"):
            picked.close()


class _Truncated(WindowMedia):
    """Handed over instead of the windows after the point where the video stops decoding."""


def _truncated(path, windows, last_seconds, reason) -> WindowMedia:
    note = (f"{path}: the video decodes only up to {last_seconds or 0:.2f} s{reason}; the {len(windows)} window(s) "
            f"from {windows[0].start:.2f} s on are left out")
    return _Truncated(windows[0], None, None, None, [note])


def is_truncation(item: WindowMedia) -> bool:
    """True for the marker `iter_window_media` hands over when the video stops decoding before the last windows."""
    return isinstance(item, _Truncated)


# ---- subtitle files -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubtitleLine:
    start: float
    end: float
    text: str


_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[,.](\d{1,3})")
_CUE_TIMING = re.compile(rf"^\s*({_TIME.pattern})\s*-->\s*({_TIME.pattern})")


def _seconds(match_groups) -> float:
    hours, minutes, seconds, fraction = match_groups
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(fraction.ljust(3, "0")) / 1000


def read_subtitles(path) -> list[SubtitleLine]:
    """The timed lines of an SRT or WebVTT file (tags such as <i> removed), in file order."""
    path = Path(path)
    if not path.is_file():
        raise XEmoGPTError(f"{path}: no such subtitle file")
    with reading_text(path):
        text = path.read_text(encoding="utf-8-sig")
    lines, current = [], None
    for number, raw in enumerate(text.splitlines(), 1):
        timing = _CUE_TIMING.match(raw)
        if timing:
            groups = timing.groups()
            start, end = _seconds(groups[1:5]), _seconds(groups[6:10])
            if end < start:
                raise DatasetError(f"{path}:{number}: the line ends ({end:.3f} s) before it starts ({start:.3f} s)")
            current = SubtitleLine(start, end, "")
            lines.append(current)
        elif not raw.strip():
            current = None
        elif current is not None:
            words = re.sub(r"<[^>]+>", "", raw).strip()
            current = SubtitleLine(current.start, current.end, f"{current.text} {words}".strip())
            lines[-1] = current
    if not lines:
        raise DatasetError(f"{path}: no timed lines (expected SRT or WebVTT: '00:00:01,000 --> 00:00:03,500')")
    return lines


def subtitle_between(lines: list[SubtitleLine], start: float, end: float) -> str:
    """The text of the lines that overlap [start, end), in time order."""
    return " ".join(line.text for line in sorted(lines, key=lambda l: l.start)
                    if line.text and line.start < end and line.end > start)
