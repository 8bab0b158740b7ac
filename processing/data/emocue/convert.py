"""Converters from the published annotation formats to EmoCue records.

Formats (column names are matched case-insensitively, the first candidate present wins):

* EMER-style CSV — `name`, `english`: one explanation per clip (the EmoCue-360 reference format).
* MER-Caption+-style CSV — id `name` (or `id`, `video_id`, `sample_id`); explanation `english` (or `reason`,
  `explanation`, `description`, `caption`; `chinese` only when none of these exists); optional `emotion`
  (or `label`, `discrete`, `openset`), `subtitle` (or `sentence`, `transcript`, `transcription`),
  `video_caption`, `audio_caption`.
* Subtitle CSV (MER's transcriptions) — `name` and `english` (else `chinese`, `subtitle`, `sentence`).
* Cue JSON — {id: {"visual": [...], "auditory": [...], "emotional": [...]}}; a missing category is [].

`merge_annotations` joins them by clip id into records whose `video` is `<id><video_ext>` (resolved against a
media root when loaded: the releases ship annotations only); `convert_published` also writes them as an
EmoCue folder with `EmoCueWriter`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from pathlib import Path

from processing.errors import DatasetError
from .layout import EmoCueWriter, write_emocue
from .schema import CUE_CATEGORIES

ID_COLUMNS = ("name", "id", "video_id", "sample_id")
EXPLANATION_COLUMNS = ("english", "reason", "explanation", "description", "caption", "chinese")
EMOTION_COLUMNS = ("emotion", "label", "discrete", "openset")
SUBTITLE_COLUMNS = ("subtitle", "sentence", "transcript", "transcription")
SUBTITLE_CSV_COLUMNS = ("english", "chinese", "subtitle", "sentence", "transcript", "transcription")
MEDIA_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".wav", ".flac", ".mp3")


def _read_csv(path: str | os.PathLike) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(rows, {lower-case column name: column name as written})."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such annotation file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    return rows, columns


def _pick(columns: dict[str, str], candidates: tuple[str, ...], path, what: str, required: bool = True) -> str | None:
    for candidate in candidates:
        if candidate in columns:
            return columns[candidate]
    if required:
        raise DatasetError(
            f"{path}: no {what} column (looked for {', '.join(candidates)}; found {', '.join(columns.values())})"
        )
    return None


def _column_by_id(path, candidates: tuple[str, ...], what: str) -> dict[str, str]:
    rows, columns = _read_csv(path)
    id_column = _pick(columns, ID_COLUMNS, path, "clip id")
    value_column = _pick(columns, candidates, path, what)
    return _by_id(rows, id_column, path, lambda row: (row.get(value_column) or "").strip())


def _by_id(rows: list[dict], id_column: str, path, value) -> dict:
    out = {}
    for number, row in enumerate(rows, 2):  # line 1 is the header
        name = (row.get(id_column) or "").strip()
        if not name:
            raise DatasetError(f"{path}:{number}: empty clip id")
        if name in out:
            raise DatasetError(f"{path}:{number}: clip id {name!r} appears twice")
        out[name] = value(row)
    return out


def read_emer_csv(path: str | os.PathLike) -> dict[str, str]:
    """{clip id: explanation} from an EMER-style CSV (`name`, `english`)."""
    return _column_by_id(path, ("english",), "explanation (english)")


def read_subtitle_csv(path: str | os.PathLike) -> dict[str, str]:
    """{clip id: subtitle} from a transcription CSV (`name`, `english` / `chinese` / `subtitle`)."""
    return _column_by_id(path, SUBTITLE_CSV_COLUMNS, "subtitle")


def read_mercaption_csv(path: str | os.PathLike) -> dict[str, dict[str, str | None]]:
    """{clip id: {"explanation", "emotion", "subtitle", "video_caption", "audio_caption"}} from a
    MER-Caption+-style CSV; fields whose column is absent (or cell empty) are None."""
    rows, columns = _read_csv(path)
    id_column = _pick(columns, ID_COLUMNS, path, "clip id")
    fields = {
        "explanation": _pick(columns, EXPLANATION_COLUMNS, path, "explanation"),
        "emotion": _pick(columns, EMOTION_COLUMNS, path, "emotion", required=False),
        "subtitle": _pick(columns, SUBTITLE_COLUMNS, path, "subtitle", required=False),
        "video_caption": _pick(columns, ("video_caption",), path, "video caption", required=False),
        "audio_caption": _pick(columns, ("audio_caption",), path, "audio caption", required=False),
    }

    def value(row):
        return {key: ((row.get(column) or "").strip() or None) if column else None for key, column in fields.items()}

    return _by_id(rows, id_column, path, value)


def read_cue_json(path: str | os.PathLike) -> dict[str, dict[str, list[str]]]:
    """{clip id: {"visual": [...], "auditory": [...], "emotional": [...]}} from a cue JSON file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such cue file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, Mapping):
        raise DatasetError(f"{path}: expected an object mapping clip id -> cues, got {type(data).__name__}")
    out = {}
    for name, cues in data.items():
        if not isinstance(cues, Mapping):
            raise DatasetError(f"{path}: cues of {name!r} must be an object with visual/auditory/emotional lists")
        unknown = sorted(set(cues) - set(CUE_CATEGORIES))
        if unknown:
            raise DatasetError(f"{path}: cues of {name!r} have unknown categories {unknown}")
        out[name] = {category: cues.get(category, []) for category in CUE_CATEGORIES}
        for category, items in out[name].items():
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise DatasetError(f"{path}: cues.{category} of {name!r} is not a list of strings")
    return out


def _media_name(name: str, extension: str) -> str:
    return name if name.lower().endswith(MEDIA_EXTENSIONS) else f"{name}{extension}"


def merge_annotations(
    *,
    explanations: Mapping[str, str] | None = None,
    details: Mapping[str, Mapping] | None = None,
    cues: Mapping[str, Mapping] | None = None,
    subtitles: Mapping[str, str] | None = None,
    split: str = "train",
    video_ext: str = ".mp4",
) -> list[dict]:
    """Join annotation sources by clip id into EmoCue records (ids in first-seen order over the sources).

    explanations: {id: explanation} (EMER CSV), preferred over `details`' explanation.
    details: {id: {...}} from read_mercaption_csv (explanation, emotion, subtitle, captions).
    cues: {id: cues} (cue JSON); subtitles: {id: subtitle} (subtitle CSV), preferred over `details`' subtitle.
    A record lacking an explanation is still returned (the writer reports or skips it).
    """
    sources = [explanations or {}, details or {}, cues or {}, subtitles or {}]
    ids = list(dict.fromkeys(name for source in sources for name in source))
    records = []
    for name in ids:
        detail = dict((details or {}).get(name) or {})
        explanation = (explanations or {}).get(name) or detail.get("explanation")
        subtitle = (subtitles or {}).get(name) or detail.get("subtitle") or ""
        record_cues = (cues or {}).get(name)
        records.append(
            {
                "id": name,
                "video": _media_name(name, video_ext),
                "audio": None,
                "subtitle": subtitle,
                "explanation": explanation,
                "cues": {c: list(record_cues.get(c, [])) for c in CUE_CATEGORIES} if record_cues else None,
                "emotion": detail.get("emotion"),
                "video_caption": detail.get("video_caption"),
                "audio_caption": detail.get("audio_caption"),
                "rejected": None,
                "split": split,
                "factors": None,
            }
        )
    return records


def convert_published(
    out_dir: str | os.PathLike,
    *,
    emer_csv: str | os.PathLike | None = None,
    mercaption_csv: str | os.PathLike | None = None,
    cue_json: str | os.PathLike | None = None,
    subtitle_csv: str | os.PathLike | None = None,
    split: str = "train",
    video_ext: str = ".mp4",
    **writer_kwargs,
) -> EmoCueWriter:
    """Read the given published files, merge them and write one split of an annotation-only EmoCue folder.

    writer_kwargs go to EmoCueWriter (overwrite, skip_invalid, name, license, description, media_caveat —
    which defaults to True here: the clips are not part of the release). Returns the closed writer.
    """
    if not any((emer_csv, mercaption_csv)):
        raise DatasetError("convert_published needs explanations: pass emer_csv and/or mercaption_csv")
    records = merge_annotations(
        explanations=read_emer_csv(emer_csv) if emer_csv else None,
        details=read_mercaption_csv(mercaption_csv) if mercaption_csv else None,
        cues=read_cue_json(cue_json) if cue_json else None,
        subtitles=read_subtitle_csv(subtitle_csv) if subtitle_csv else None,
        split=split,
        video_ext=video_ext,
    )
    writer_kwargs.setdefault("media_caveat", True)
    return write_emocue(records, out_dir, split, **writer_kwargs)
