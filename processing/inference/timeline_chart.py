"""A timeline as an SVG strip chart (the Space draws it; any browser shows the file).

    svg = timeline_svg(timeline.to_json())

One band across the clip's length: each window's stretch (see `processing.inference.timeline.stretches`) coloured by its
emotion, the runs labelled where they are wide enough, the part not explained yet grey; below it a tick per cue
change (hover: the cues added and removed) and a time axis; a legend of the emotions shown. Plain SVG, no script.
"""

from __future__ import annotations

from html import escape

from .timeline import clock

EMOTION_COLOURS = {
    "neutral": "#9aa5b1", "happy": "#f2b705", "sad": "#3b6fb6", "angry": "#d64541", "surprised": "#f28c28",
    "fearful": "#7e57c2", "worried": "#26a69a", "contemptuous": "#8d6e63",
}
UNKNOWN_COLOUR, PENDING_COLOUR = "#cfd8dc", "#eceff1"
WIDTH, LEFT, RIGHT = 1000, 10, 10
BAND_TOP, BAND_HEIGHT = 26, 44
TICK_TOP, TICK_HEIGHT = BAND_TOP + BAND_HEIGHT + 4, 14
AXIS_TOP = TICK_TOP + TICK_HEIGHT + 14
HEIGHT = AXIS_TOP + 34


def _axis_step(duration: float) -> float:
    """A round tick spacing giving 4-12 ticks."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration / step <= 12:
            return step
    return 7200


def timeline_svg(timeline: dict) -> str:
    """The strip chart of a timeline's JSON (`Timeline.to_json()`), as an <svg> element."""
    duration = max(float(timeline["duration"]), 1e-6)
    span = WIDTH - LEFT - RIGHT
    x = lambda t: LEFT + span * min(max(t, 0.0), duration) / duration  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'role="img" aria-label="emotion over time" font-family="sans-serif" font-size="12">',
             f'<rect class="pending" x="{LEFT}" y="{BAND_TOP}" width="{span}" height="{BAND_HEIGHT}" '
             f'fill="{PENDING_COLOUR}"><title>not explained yet</title></rect>']
    shown = []
    for run in timeline["runs"]:
        emotion = run["emotion"]
        colour = EMOTION_COLOURS.get(emotion, UNKNOWN_COLOUR)
        if emotion not in shown:
            shown.append(emotion)
        left, right = x(run["start"]), x(run["end"])
        label = escape(emotion or "no emotion stated")
        windows = len(run["windows"])
        parts.append(f'<rect class="run" data-emotion="{label}" x="{left:.1f}" y="{BAND_TOP}" '
                     f'width="{max(right - left, 0.5):.1f}" height="{BAND_HEIGHT}" fill="{colour}">'
                     f'<title>{clock(run["start"])}-{clock(run["end"])}: {label} ({windows} window'
                     f'{"s" if windows > 1 else ""})</title></rect>')
        if right - left >= 7 * len(label) + 8:
            parts.append(f'<text x="{(left + right) / 2:.1f}" y="{BAND_TOP + BAND_HEIGHT / 2 + 4}" '
                         f'text-anchor="middle" fill="#ffffff">{label}</text>')
    for change in timeline["cue_changes"]:
        lines = []
        for category, added in change["added"].items():
            lines += [f"{category} +{cue}" for cue in added]
            lines += [f"{category} -{cue}" for cue in change["removed"][category]]
        at = x(change["time"])
        parts.append(f'<line class="cue-change" x1="{at:.1f}" x2="{at:.1f}" y1="{TICK_TOP}" '
                     f'y2="{TICK_TOP + TICK_HEIGHT}" stroke="#37474f" stroke-width="2">'
                     f'<title>{clock(change["time"])} cues change: {escape("; ".join(lines))}</title></line>')
    step = _axis_step(duration)
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{AXIS_TOP}" y2="{AXIS_TOP}" stroke="#90a4ae"/>')
    tick = 0.0
    while tick <= duration + 1e-6:
        anchor = "start" if tick == 0 else "end" if x(tick) > WIDTH - RIGHT - 20 else "middle"  # labels stay inside
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{AXIS_TOP}" y2="{AXIS_TOP + 4}" '
                     f'stroke="#90a4ae"/><text x="{x(tick):.1f}" y="{AXIS_TOP + 16}" text-anchor="{anchor}" '
                     f'fill="#455a64">{clock(tick).rsplit(".", 1)[0]}</text>')
        tick += step
    legend_x = LEFT
    for emotion in shown:
        label = escape(emotion or "no emotion stated")
        parts.append(f'<rect x="{legend_x}" y="6" width="12" height="12" '
                     f'fill="{EMOTION_COLOURS.get(emotion, UNKNOWN_COLOUR)}"/>'
                     f'<text x="{legend_x + 16}" y="16" fill="#263238">{label}</text>')
        legend_x += 16 + 7 * len(label) + 14
    done = len(timeline["windows"])
    parts.append(f'<text x="{WIDTH - RIGHT}" y="16" text-anchor="end" fill="#455a64">{done} of '
                 f'{timeline["planned_windows"]} windows; {len(timeline["cue_changes"])} cue changes</text>')
    parts.append("</svg>")
    return "".join(parts)
