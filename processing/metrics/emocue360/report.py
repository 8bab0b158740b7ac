"""EmoCue-360 reports: a terminal table, and an output folder with JSON, Markdown, a chart and per-sample rows.

``write_report(result, out_dir)`` writes, each file atomically (``<name>.tmp`` then ``os.replace``):

* ``emocue360.json`` — the scores (``result.to_dict()``, the same object ``xemogpt evaluate --json`` prints);
* ``report.md`` — per-category table, emotion accuracy, warnings, and the worst samples' missed / invented cues;
* ``emocue360.png`` — precision / recall / F1 per category (matplotlib, Agg canvas, no pyplot state);
* ``samples.jsonl`` — one row per sample × category (scores, missed, invented, dropped subtitle cues);
* ``reference_cues.json`` / ``predicted_cues.json`` — the cues that were scored, when they were extracted
  (re-score them later with ``xemogpt evaluate --ref-cues … --pred-cues …``).
"""

from __future__ import annotations

import json
import os

from .cues import CATEGORIES
from .scorer import EmoCue360Result


def _number(value) -> str:
    return "–" if value is None else f"{value:.4f}"


def format_table(result: EmoCue360Result) -> str:
    """A plain-text table: category, precision, recall, F1, n (+ the emotion line when present)."""
    lines = [f"{'category':<10} {'precision':>9} {'recall':>9} {'f1':>9} {'n':>6}"]
    for category in CATEGORIES:
        score = result.categories[category]
        lines.append(f"{category:<10} {_number(score.precision):>9} {_number(score.recall):>9} "
                     f"{_number(score.f1):>9} {score.n:>6}")
    if result.emotion is not None:
        extra = f", hit rate {_number(result.emotion.get('hit_rate'))}" if "hit_rate" in result.emotion else ""
        lines.append(f"emotion label accuracy {_number(result.emotion['accuracy'])}{extra} (n = {result.emotion['n']})")
    return "\n".join(lines)


def _write_atomic(path: str, data: str | bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb" if isinstance(data, bytes) else "w", **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as handle:
        handle.write(data)
    os.replace(tmp, path)


def _bullets(items, limit: int = 8) -> list[str]:
    lines = [f"  - {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  - … and {len(items) - limit} more")
    return lines


def markdown_report(result: EmoCue360Result, *, title: str = "EmoCue-360 report", worst: int = 10,
                    settings: dict | None = None) -> str:
    """The Markdown report text."""
    lines = [f"# {title}", ""]
    if settings:
        lines += [", ".join(f"{key}: `{value}`" for key, value in settings.items()), ""]
    lines += ["| category | precision | recall | F1 | n |", "|---|---:|---:|---:|---:|"]
    for category in CATEGORIES:
        score = result.categories[category]
        lines.append(f"| {category} | {_number(score.precision)} | {_number(score.recall)} | {_number(score.f1)} "
                     f"| {score.n} |")
    lines.append("")
    lines.append(f"Subtitle filter on auditory cues: `{result.compat}` mode. Scores are means of per-sample values; "
                 "n is the number of samples counted in a category.")
    if result.emotion is not None:
        lines += ["", f"**Emotion label accuracy:** {_number(result.emotion['accuracy'])} over {result.emotion['n']} "
                      "labelled samples" + (f"; hit rate {_number(result.emotion['hit_rate'])}"
                                            if "hit_rate" in result.emotion else "") + "."]
    if result.warnings:
        lines += ["", "## Warnings", ""] + [f"- {note}" for note in result.warnings]
    rows = result.worst(worst)
    if rows:
        lines += ["", f"## The {len(rows)} weakest samples", "",
                  "*Missed*: reference cues whose best match is below the threshold; *invented*: predicted cues "
                  "that match no reference cue that well.", ""]
    for sample_id, mean_f1, categories in rows:
        lines.append(f"### `{sample_id}` — mean F1 {mean_f1:.3f}")
        if result.reference_emotions and sample_id in result.reference_emotions:
            predicted = (result.predicted_emotions or {}).get(sample_id)
            lines.append(f"- emotion: reference `{result.reference_emotions[sample_id] or '–'}`, predicted "
                         f"`{predicted or '–'}`")
        for category, sample in categories.items():
            lines.append(f"- **{category}**: P {sample.precision:.3f} R {sample.recall:.3f} F1 {sample.f1:.3f}")
            if sample.missed:
                lines += ["  - missed:"] + ["  " + b for b in _bullets(sample.missed)]
            if sample.invented:
                lines += ["  - invented:"] + ["  " + b for b in _bullets(sample.invented)]
            if sample.dropped:
                lines += ["  - dropped as subtitle cues:"] + ["  " + b for b in _bullets(sample.dropped, 4)]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def chart_png(result: EmoCue360Result, *, title: str = "EmoCue-360") -> bytes:
    """PNG bytes of a grouped bar chart: precision / recall / F1 per category."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.26
    for offset, metric in enumerate(("precision", "recall", "f1")):
        values = [getattr(result.categories[c], metric) or 0.0 for c in CATEGORIES]
        bars = axes.bar([i + (offset - 1) * width for i in range(len(CATEGORIES))], values, width,
                        label="F1" if metric == "f1" else metric)
        axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    axes.set_xticks(range(len(CATEGORIES)),
                    [f"{c}\n(n={result.categories[c].n})" for c in CATEGORIES])
    axes.set_ylim(0, 1.22)
    axes.set_ylabel("score")
    axes.set_title(title)
    axes.legend(loc="upper center", ncols=3, fontsize=8, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_report(result: EmoCue360Result, out_dir: str | os.PathLike, *, title: str = "EmoCue-360 report",
                 worst: int = 10, settings: dict | None = None) -> dict[str, str]:
    """Write the report files (see the module docstring) into ``out_dir``; returns name → path."""
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    files = {
        "emocue360.json": json.dumps(result.to_dict(), indent=2) + "\n",
        "report.md": markdown_report(result, title=title, worst=worst, settings=settings),
        "emocue360.png": chart_png(result),
        "samples.jsonl": "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in result.samples),
    }
    if result.reference_cues is not None:
        files["reference_cues.json"] = json.dumps(result.reference_cues, indent=1, ensure_ascii=False) + "\n"
        files["predicted_cues.json"] = json.dumps(result.predicted_cues, indent=1, ensure_ascii=False) + "\n"
    written = {}
    for name, data in files.items():
        path = os.path.join(out_dir, name)
        _write_atomic(path, data)
        written[name] = path
    return written
