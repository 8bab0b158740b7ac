"""The EmoCue record: its columns, its `datasets.Features`, and the checks one row must pass.

A record is one row of an EmoCue dataset (ARCHITECTURE.md §3); `COLUMN_DESCRIPTIONS` says what each column
holds. At least one of ``video`` / ``audio`` must be set. ``validate_record`` returns the reasons a row breaks
these rules (an empty list when it is fine); with ``check_media`` it also opens the media with PyAV.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from datasets import Audio, Features, List, Value, Video

CUE_CATEGORIES = ("visual", "auditory", "emotional")

# Split names a row may carry: the three standard ones and EmoCue-Synth's held-out cue combinations.
KNOWN_SPLITS = ("train", "validation", "test", "compositional")

_STRING = Value("string")
FEATURES = Features(
    {
        "id": _STRING,
        "video": _STRING,
        "audio": _STRING,
        "subtitle": _STRING,
        "explanation": _STRING,
        "cues": {category: List(_STRING) for category in CUE_CATEGORIES},
        "emotion": _STRING,
        "video_caption": _STRING,
        "audio_caption": _STRING,
        "rejected": _STRING,
        "split": _STRING,
        "factors": _STRING,
    }
)
# How an EmoCue folder stores its records (data/<split>.parquet) when the media travel inside: the same columns with
# `video` / `audio` as `datasets` Video() / Audio() values ({"bytes": the file, "path": "media/<name>"}), so that
# `load_dataset(FOLDER)` decodes them anywhere and `push_to_hub` carries them. `load_emocue` gives them back as paths.
STORED_FEATURES = Features({**FEATURES, "video": Video(), "audio": Audio()})
COLUMNS = tuple(FEATURES)
COLUMN_DESCRIPTIONS = {
    "id": "unique over the whole dataset (all splits)",
    "video": "clip path, relative to the dataset folder / media root, or absolute",
    "audio": "separate audio file; null: the video's own audio track",
    "subtitle": "what is said (empty when nothing is)",
    "explanation": "reference paragraph: In the video, … In the audio, … Overall, …",
    "cues": "atomic statements per category: visual, auditory, emotional",
    "emotion": "emotion label",
    "video_caption": "short visual caption (alignment stage 1)",
    "audio_caption": "short audio caption (alignment stage 2)",
    "rejected": "a worse explanation for preference tuning (DPO)",
    "split": "the split the row belongs to",
    "factors": "JSON of EmoCue-Synth's generating factors (per-cue analysis)",
}
MEDIA_COLUMNS = ("video", "audio")
# Columns that may be absent or None in a row; `normalize_record` fills them with None.
OPTIONAL_COLUMNS = ("video", "audio", "emotion", "video_caption", "audio_caption", "rejected", "factors")

_SPLIT_NAME = re.compile(r"^\w+$")


def sort_splits(names: Iterable[str]) -> list[str]:
    """Split names in reading order: the known ones first, in KNOWN_SPLITS order, then the others by name."""
    rank = {name: i for i, name in enumerate(KNOWN_SPLITS)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def empty_cues() -> dict[str, list[str]]:
    return {category: [] for category in CUE_CATEGORIES}


def media_reference(value):
    """The path a media value refers to: a path as it is; the stored form {"bytes", "path"} by its path."""
    return value.get("path") if isinstance(value, Mapping) else value


def embedded_media(path: str | os.PathLike, name: str | None = None) -> dict:
    """The stored form of a media file: its bytes, and `name` (default: the file's name) as its path."""
    return {"bytes": Path(path).read_bytes(), "path": name if name is not None else Path(path).name}


def normalize_record(row: Mapping, *, split: str | None = None) -> dict:
    """A copy of `row` with every EmoCue column present: optional columns default to None, missing cue
    categories to [], `subtitle` to "", `split` to `split`. Values are not checked (see `validate_record`);
    columns outside the schema are dropped."""
    record = {column: row.get(column) for column in COLUMNS}
    if record["subtitle"] is None:
        record["subtitle"] = ""
    cues = record["cues"]
    if cues is None:
        record["cues"] = empty_cues()
    elif isinstance(cues, Mapping):
        record["cues"] = {**{c: [] for c in CUE_CATEGORIES if c not in cues}, **cues}
    if record["split"] is None and split is not None:
        record["split"] = split
    return record


def _is_text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_cues(cues) -> list[str]:
    if not isinstance(cues, Mapping):
        return [f"cues must be a mapping {{visual, auditory, emotional}} of lists of strings, got {type(cues).__name__}"]
    reasons = []
    unknown = sorted(set(cues) - set(CUE_CATEGORIES))
    if unknown:
        reasons.append(f"cues has unknown categories {unknown} (allowed: {list(CUE_CATEGORIES)})")
    for category in CUE_CATEGORIES:
        if category not in cues:
            reasons.append(f"cues.{category} is missing")
            continue
        items = cues[category]
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            reasons.append(f"cues.{category} is not a list of strings (got {items!r:.60})")
        elif any(not item.strip() for item in items):
            reasons.append(f"cues.{category} contains an empty cue")
    return reasons


def resolve_media_path(path: str, roots: str | os.PathLike | Sequence[str | os.PathLike] | None) -> Path:
    """An absolute path for a media reference: absolute paths as they are; a relative one against the first
    root where it exists — tried as written (`media/x.mp4`), then by its file name alone (`x.mp4`, for a flat
    folder of licensed clips) — else against the first root as written (so a missing file is named)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or roots is None:
        return candidate
    roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    if not roots:
        return candidate
    for root in roots:
        for relative in (candidate, Path(candidate.name)):
            full = Path(root) / relative
            if full.exists():
                return full.absolute()
    return (Path(roots[0]) / candidate).absolute()


def escapes_roots(path: str, roots: str | os.PathLike | Sequence[str | os.PathLike] | None) -> bool:
    """Whether a relative media reference leads outside every root (`../../etc/passwd`). Absolute paths are the
    user's explicit choice and are not confined; relative ones stay inside the dataset folder / media root."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or roots is None:
        return False
    roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    return bool(roots) and not any(
        os.path.realpath(Path(root) / candidate).startswith(os.path.realpath(root) + os.sep) for root in roots)


def check_media_file(path: str | os.PathLike, kind: str) -> str | None:
    """Why the media file at `path` cannot be used as `kind` ("video" or "audio"), or None when it can.

    Opens the container with PyAV, requires a stream of that kind, and decodes its first frame (cheap)."""
    import av  # imported here: only media checks need it

    path = Path(path)
    if not path.is_file():
        return f"{kind} file not found: {path}"
    if path.stat().st_size == 0:
        return f"{kind} file is empty: {path}"
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                return f"{kind} file has no {kind} stream: {path}"
            for _ in container.decode(streams[0]):
                return None
            return f"{kind} file has no decodable {kind} frame: {path}"
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        return f"{kind} file cannot be decoded ({exc.__class__.__name__}): {path}"


def validate_record(
    row: Mapping,
    *,
    root: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    check_media: bool = False,
    splits: Iterable[str] | None = KNOWN_SPLITS,
) -> list[str]:
    """The reasons `row` is not a valid EmoCue record (empty when it is).

    root: folder(s) that relative media paths resolve against (see `resolve_media_path`).
    check_media: also require each referenced media file to exist and decode (PyAV, first frame only).
    splits: the split names allowed in the `split` column (None: any well-formed name).
    """
    if not isinstance(row, Mapping):
        return [f"row is not a mapping (got {type(row).__name__})"]
    reasons = []
    if not _is_text(row.get("id")):
        reasons.append("id is missing or not a non-empty string")
    if not _is_text(row.get("explanation")):
        reasons.append("explanation is missing or empty")
    subtitle = row.get("subtitle", "")
    if subtitle is not None and not isinstance(subtitle, str):
        reasons.append(f"subtitle must be a string, got {type(subtitle).__name__}")
    reasons += _check_cues(row.get("cues"))
    for column in OPTIONAL_COLUMNS:
        value = row.get(column)
        if value is not None and not isinstance(value, str):
            reasons.append(f"{column} must be a string or null, got {type(value).__name__}")
    if not any(_is_text(row.get(column)) for column in MEDIA_COLUMNS):
        reasons.append("neither video nor audio is set")
    split = row.get("split")
    if not _is_text(split) or not _SPLIT_NAME.match(split):
        reasons.append(f"split is missing or not a valid split name: {split!r}")
    elif splits is not None and split not in splits:
        reasons.append(f"unknown split {split!r} (expected one of {sorted(splits)})")
    for column in MEDIA_COLUMNS:
        value = row.get(column)
        if _is_text(value) and root is not None and escapes_roots(value, root):
            reasons.append(f"{column} path {value!r} leads outside the dataset folder (use a path inside it, an "
                           "absolute path, or --media-root)")
    if check_media:
        for column in MEDIA_COLUMNS:
            value = row.get(column)
            if _is_text(value) and not (root is not None and escapes_roots(value, root)):
                problem = check_media_file(resolve_media_path(value, root), column)
                if problem:
                    reasons.append(problem)
    return reasons
