"""A long clip as a timeline: the clip is cut into windows, each explained, and the results merged.

    from processing.inference.explain import Explainer
    from processing.inference.timeline import explain_timeline
    stream = explain_timeline(Explainer.load(), "interview.mp4", window=8, stride=4, subtitle_file="interview.srt")
    for item in stream:                      # a WindowExplanation as each batch of windows finishes
        print(item.start, item.end, item.emotion)
    timeline = stream.timeline               # windows, runs of one emotion, cue changes; .to_json(), .summary()

* Windows and their media: `processing/inference/timeline_media.py` (window spans, one decoding pass, subtitle files).
* Generation: windows are explained `batch_size` at a time with `xemogpt predict`'s batched generation
  (`predict.generate_batch`: left-padded, one generate call per batch); the decoder reads ahead at most one batch,
  so memory is bounded by the batch size, not by the clip's length.
* Runs: consecutive windows with the same emotion. Windows overlap, so each window stands for the stretch around
  its centre (from halfway to the previous window's centre to halfway to the next one's; the first from 0, the last
  to the end): runs are contiguous and cover the clip. Cue changes: where the visual or auditory cues of a window
  differ from the window's before it (at the boundary of their stretches), with the cues added and removed.
* Subtitle: one `subtitle` for every window, or a subtitle file whose lines go to the windows they overlap.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from processing.errors import XEmoGPTError
from .timeline_media import (Window, iter_window_media, is_truncation, media_duration, plan_windows, read_subtitles,
                             subtitle_between)

TIMELINE_CATEGORIES = ("visual", "auditory")  # the cues whose changes the timeline marks
DEFAULT_BATCH_SIZE = 8


@dataclass
class WindowExplanation:
    """What the model wrote about one window."""

    index: int
    start: float
    end: float
    emotion: str | None
    cues: dict[str, list[str]]
    explanation: str
    subtitle: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def stretches(windows: list[WindowExplanation], duration: float) -> list[tuple[float, float]]:
    """The part of the clip each window stands for: from halfway between its centre and the previous window's to
    halfway to the next one's (the first from 0, the last to `duration`)."""
    centres = [(w.start + w.end) / 2 for w in windows]
    cuts = [0.0] + [(a + b) / 2 for a, b in zip(centres, centres[1:])] + [duration]
    return [(round(a, 3), round(b, 3)) for a, b in zip(cuts, cuts[1:])]


def merge_runs(windows: list[WindowExplanation], duration: float) -> list[dict]:
    """Consecutive windows with the same emotion: [{start, end, emotion, windows: [indices]}]."""
    runs = []
    for window, (start, end) in zip(windows, stretches(windows, duration)):
        if runs and runs[-1]["emotion"] == window.emotion:
            runs[-1]["end"] = end
            runs[-1]["windows"].append(window.index)
        else:
            runs.append({"start": start, "end": end, "emotion": window.emotion, "windows": [window.index]})
    return runs


def cue_changes(windows: list[WindowExplanation], duration: float) -> list[dict]:
    """Where the visual / auditory cues change from one window to the next: [{time, window, added, removed}]
    (`added` / `removed`: {category: [cues]} for the categories that changed)."""
    changes = []
    bounds = stretches(windows, duration)
    for before, after, (time_at, _) in zip(windows, windows[1:], bounds[1:]):
        added, removed = {}, {}
        for category in TIMELINE_CATEGORIES:
            old, new = before.cues.get(category) or [], after.cues.get(category) or []
            if set(old) != set(new):
                added[category] = [c for c in new if c not in old]
                removed[category] = [c for c in old if c not in new]
        if added:
            changes.append({"time": time_at, "window": after.index, "added": added, "removed": removed})
    return changes


def clock(seconds: float) -> str:
    """123.4 -> "2:03.4" (hours when needed: "1:02:03.4")."""
    tenths = int(round(seconds * 10))
    minutes, tenths = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    text = f"{minutes:02d}:{tenths // 10:02d}.{tenths % 10}" if hours else f"{minutes}:{tenths // 10:02d}.{tenths % 10}"
    return f"{hours}:{text}" if hours else text


def window_line(item: WindowExplanation) -> str:
    """One readable line per window: span, emotion, visual and auditory cues."""
    cues = "; ".join(f"{c}: {', '.join(item.cues.get(c) or []) or '(none)'}" for c in TIMELINE_CATEGORIES)
    return f"[{clock(item.start)}-{clock(item.end)}] {item.emotion or '(no emotion stated)'} | {cues}"


@dataclass
class Timeline:
    """The explained windows of one clip, with the runs and cue changes they make."""

    source: str
    duration: float
    window: float
    stride: float
    windows: list[WindowExplanation] = field(default_factory=list)
    planned: int = 0  # windows the clip was cut into (more than `windows` when stopped early)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    timed_out: bool = False

    @property
    def runs(self) -> list[dict]:
        return merge_runs(self.windows, self.covered)

    @property
    def cue_changes(self) -> list[dict]:
        return cue_changes(self.windows, self.covered)

    @property
    def covered(self) -> float:
        """Seconds of the clip the windows reach (the whole clip unless stopped early)."""
        if len(self.windows) == self.planned:
            return self.duration
        return self.windows[-1].end if self.windows else 0.0

    def to_json(self) -> dict:
        return {"source": self.source, "duration": round(self.duration, 3), "window": self.window,
                "stride": self.stride, "planned_windows": self.planned, "timed_out": self.timed_out,
                "windows": [w.to_json() for w in self.windows], "runs": self.runs, "cue_changes": self.cue_changes,
                "notes": self.notes, "timings": {k: round(v, 3) for k, v in self.timings.items()}}

    def summary(self) -> str:
        """The runs of one emotion and the cue changes, as text."""
        lines = [f"timeline of {self.source}: {clock(self.duration)} ({self.duration:.1f} s), {len(self.windows)} "
                 f"windows of {self.window:g} s every {self.stride:g} s"]
        if len(self.windows) < self.planned:
            lines.append(f"(stopped after {len(self.windows)} of {self.planned} windows)")
        for run in self.runs:
            first, last = run["windows"][0], run["windows"][-1]
            which = f"window {first}" if first == last else f"windows {first}-{last}"
            emotion = run["emotion"] or "(none)"
            lines.append(f"  {clock(run['start']):>9} - {clock(run['end']):<9} {emotion:<13} {which}")
        changes = self.cue_changes
        lines.append(f"cue changes: {len(changes)}" + (":" if changes else ""))
        for change in changes:
            parts = []
            for category in change["added"]:
                marks = [f"+{c}" for c in change["added"][category]] + [f"-{c}" for c in change["removed"][category]]
                parts.append(f"{category} {' '.join(marks)}")
            lines.append(f"  {clock(change['time']):>9}  " + "; ".join(parts))
        return "\n".join(lines)


class TimelineStream:
    """Iterate for the windows' explanations in order (batch by batch); `.timeline` holds all of them at the end
    (and, when the iteration stops early, the windows so far). Stops at `deadline` (`time.monotonic()` seconds):
    the batch being generated is cut there and left out, and `timeline.timed_out` is set."""

    def __init__(self, explainer, video, windows: list[Window], timeline: Timeline, *, audio=None, subtitle="",
                 subtitle_lines=None, batch_size: int = DEFAULT_BATCH_SIZE, generation=None, deadline=None):
        self.explainer, self.video, self.audio, self.planned = explainer, video, audio, windows
        self.subtitle, self.subtitle_lines = subtitle or "", subtitle_lines
        self.batch_size, self.deadline = batch_size, deadline
        self.generation = explainer.generation_kwargs(generation)
        self.timeline = timeline

    def _subtitle(self, window: Window) -> tuple[str, str | None]:
        from .explain import bounded_subtitle

        text = subtitle_between(self.subtitle_lines, window.start, window.end) if self.subtitle_lines else self.subtitle
        return bounded_subtitle(text, self.explainer.processor.tokenizer)

    def _expired(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.timeline.timed_out = True
        return self.timeline.timed_out

    def _generate(self, batch: list) -> list[str]:
        from transformers import StoppingCriteriaList

        from .explain import _stop_when
        from .predict import generate_batch

        generation = dict(self.generation)
        if self.deadline is not None:
            generation["stopping_criteria"] = StoppingCriteriaList([_stop_when(self._expired)])
        return generate_batch(self.explainer.model, self.explainer.processor, [clip for _, clip in batch], generation)

    def _batches(self):
        """Lists of (window, processor clip dict) of up to `batch_size`, decoded as they are needed."""
        processor = self.explainer.processor
        media = iter_window_media(self.video, self.planned, num_frames=processor.num_frames,
                                  sampling_rate=processor.sampling_rate,
                                  max_audio_seconds=processor.max_audio_seconds, audio=self.audio)
        batch, cut_notes = [], 0
        try:
            for item in media:
                self.timeline.notes.extend(item.notes)
                if is_truncation(item):
                    break
                subtitle, note = self._subtitle(item.window)
                if note and not cut_notes:
                    self.timeline.notes.append(f"window {item.window.index}: {note}")
                    cut_notes += 1
                batch.append((item.window, {"frames": item.frames, "timestamps": item.timestamps,
                                            "audio": item.audio, "subtitle": subtitle}))
                if len(batch) == self.batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:
            media.close()

    def __iter__(self):
        from .explain import parse_cues

        timings = self.timeline.timings
        timings.setdefault("decode", 0.0)
        timings.setdefault("generate", 0.0)
        batches = self._batches()
        try:
            while not self._expired():
                start = time.perf_counter()
                batch = next(batches, None)
                timings["decode"] += time.perf_counter() - start
                if batch is None:
                    break
                start = time.perf_counter()
                texts = self._generate(batch)
                timings["generate"] += time.perf_counter() - start
                if self.timeline.timed_out:  # cut short mid-batch: these windows are unfinished
                    break
                for (window, clip), text in zip(batch, texts):
                    cues, emotion = parse_cues(text)
                    item = WindowExplanation(window.index, round(window.start, 3), round(window.end, 3), emotion,
                                             cues, text, clip["subtitle"])
                    self.timeline.windows.append(item)
                    yield item
        finally:
            batches.close()
        if self.timeline.timed_out:
            self.timeline.notes.append(f"stopped at the time limit after {len(self.timeline.windows)} of "
                                       f"{self.timeline.planned} windows")


def explain_timeline(explainer, video, *, window: float, stride: float | None = None, audio=None, subtitle: str = "",
                     subtitle_file=None, batch_size: int = DEFAULT_BATCH_SIZE, deadline: float | None = None,
                     **generation) -> TimelineStream:
    """The timeline of `video` (see the module docstring) as a `TimelineStream`. `stride` defaults to half the
    window. Bad arguments and unreadable files raise `XEmoGPTError` here, before any window is decoded."""
    stride = window / 2 if stride is None and window else stride
    if batch_size < 1:
        raise XEmoGPTError(f"--batch-size must be at least 1, got {batch_size}")
    if subtitle and subtitle_file:
        raise XEmoGPTError("give either a subtitle for every window or a subtitle file, not both")
    lines = read_subtitles(subtitle_file) if subtitle_file else None
    duration = media_duration(video)
    windows = plan_windows(duration, window, stride)
    timeline = Timeline(str(video), duration, float(window), float(stride), planned=len(windows),
                        notes=list(explainer.notes))
    if not (subtitle or lines):
        timeline.notes.append("no subtitle given: explaining from the media only")
    return TimelineStream(explainer, video, windows, timeline, audio=audio, subtitle=subtitle, subtitle_lines=lines,
                          batch_size=batch_size, generation=generation, deadline=deadline)


def schedule_agreement(windows: list[WindowExplanation], segments: list[dict]) -> dict:
    """How often a window's emotion is the scheduled one at its centre (`segments`: [{start, end, emotion}]; labels
    compared by EmoCue-360's emotion groups), over all windows and over the windows that do not straddle a change of
    the schedule."""
    from processing.metrics.emocue360.emotions import normalize_emotion  # labels by group: "contempt" is "contemptuous"

    def scheduled(t):
        return next((s["emotion"] for s in segments if s["start"] <= t < s["end"]), segments[-1]["emotion"])

    changes = [s["start"] for s in segments[1:]]
    clean = [w for w in windows if not any(w.start < t < w.end for t in changes)]

    def hits(items):
        return sum(normalize_emotion(w.emotion) == normalize_emotion(scheduled((w.start + w.end) / 2)) for w in items)

    return {"windows": len(windows), "agree": hits(windows), "agreement": hits(windows) / max(len(windows), 1),
            "windows_within_a_segment": len(clean), "agree_within_a_segment": hits(clean),
            "agreement_within_a_segment": hits(clean) / max(len(clean), 1)}
