"""Cue sets: validation, the published id → cues file format, and the subtitle-cue filters.

A *cue set* is ``{"visual": [str], "auditory": [str], "emotional": [str]}``; a *cue file* maps sample ids
to cue sets (the published EmoCue-360 JSON). A key may be missing (see the category rules in scorer.py);
a present key must hold a list of strings.

Subtitle filters (applied to auditory cues, reference and predicted, before scoring):

* ``compat="paper"``: the published rule, bit for bit: drop a cue when the substring ``text`` occurs in it
  (case-sensitive). It also drops "context", "texture", "pretext", … and keeps "Text: …".
* default: :func:`is_subtitle_cue`, a case-insensitive word-level rule; see :data:`SUBTITLE_CUE_RULE`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

from processing.errors import DatasetError, reading_text

CATEGORIES = ("visual", "auditory", "emotional")

SUBTITLE_CUE_RULE = """\
An auditory cue is a subtitle cue (dropped, since the model was given the subtitle) when, ignoring case, it
1. names the transcript: the words subtitle(s/d), caption(s/ed), text(s), textual, transcript(ion),
   script, dialogue/dialog, lyrics (whole words only: "context", "texture" and "pretext" are kept);
2. reports what is said: say/says/said/saying, utter(s/ed/ing), mention(s/ed/ing), stated/stating, or
   state(s) followed by "that", ":" or a quote (so "a calm emotional state" is kept), or
   "speech/spoken content";
3. points at quoted speech: "the/this/that/her/his/their" + word(s), phrase(s), sentence(s), line(s),
   utterance(s), remark(s) ("the line", "her words");
4. contains a quotation: a span in double or typographic quotes, or a single-quoted span of two or more
   characters that starts after a space, colon or the start of the cue (apostrophes such as "she's" do
   not count)."""

_SUBTITLE_PATTERNS = [
    re.compile(r"\b(subtitle[sd]?|captions?|captioned|texts?|textual|transcripts?|transcription|script"
               r"|dialogues?|dialogs?|lyrics)\b", re.IGNORECASE),
    re.compile(r"\b(say|says|said|saying|utter|utters|uttered|uttering|mentions?|mentioned|mentioning"
               r"|stated|stating)\b", re.IGNORECASE),
    re.compile(r"\bstates?\b(?=\s*(that\b|:|[\"“'‘]))", re.IGNORECASE),
    re.compile(r"\b(speech|spoken) content\b", re.IGNORECASE),
    re.compile(r"\b(the|this|that|these|those|her|his|their) (words?|phrases?|sentences?|lines?|utterances?"
               r"|remarks?)\b", re.IGNORECASE),
    re.compile(r"[\"“”„«»]"),
    re.compile(r"(?:^|[\s:(\[])['‘][^'‘’\n]{2,}['’](?=$|[\s.,;:!?)\]])"),
]


def is_subtitle_cue_paper(cue: str) -> bool:
    """The published auditory filter: ``"text" in cue`` (case-sensitive substring)."""
    return "text" in cue


def is_subtitle_cue(cue: str) -> bool:
    """The default auditory filter (see :data:`SUBTITLE_CUE_RULE`): does this cue restate the subtitle?"""
    return any(pattern.search(cue) for pattern in _SUBTITLE_PATTERNS)


def subtitle_filter(compat: str = "default"):
    """The filter function for a compatibility mode: ``"paper"`` or ``"default"``."""
    if compat == "paper":
        return is_subtitle_cue_paper
    if compat == "default":
        return is_subtitle_cue
    raise ValueError(f"compat must be 'default' or 'paper', got {compat!r}")


def validate_cue_set(value, where: str) -> dict[str, list[str]]:
    """Check one sample's cue set and return it with only the known categories that are present.

    ``where`` names the sample in error messages (e.g. ``"preds.json: id 'clip_7'"``). Raises DatasetError
    for a non-mapping, a category that is not a list, or a cue that is not a string.
    """
    if isinstance(value, str):  # cues stored as a JSON string (e.g. a Parquet column)
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise DatasetError(f"{where}: cues are a string that is not JSON; expected "
                               '{"visual": [...], "auditory": [...], "emotional": [...]}') from None
    if not isinstance(value, Mapping):
        raise DatasetError(f"{where}: cues must be an object "
                           f'{{"visual": [...], "auditory": [...], "emotional": [...]}}, got {type(value).__name__}')
    cues: dict[str, list[str]] = {}
    for category in CATEGORIES:
        if category not in value:
            continue
        items = value[category]
        if items is None:
            items = []
        if isinstance(items, str) or not isinstance(items, (list, tuple)) and not hasattr(items, "tolist"):
            raise DatasetError(f"{where}: '{category}' must be a list of strings, got {type(items).__name__}")
        items = list(items.tolist() if hasattr(items, "tolist") else items)
        for index, cue in enumerate(items):
            if not isinstance(cue, str):
                raise DatasetError(f"{where}: {category} cue #{index} is {type(cue).__name__} ({cue!r:.40}), "
                                   "expected a string")
        cues[category] = items
    return cues


def validate_cue_file(data, source: str) -> dict[str, dict[str, list[str]]]:
    """Validate a whole id → cue set mapping (``source`` names the file in messages)."""
    if not isinstance(data, Mapping):
        raise DatasetError(f"{source}: expected a JSON object mapping sample ids to cue sets, "
                           f"got {type(data).__name__}")
    return {str(key): validate_cue_set(value, f"{source}: id {key!r}") for key, value in data.items()}


def iter_jsonl(path: str | os.PathLike):
    """(line number, object) for each non-empty line of a JSONL file; a line that is not a JSON object is one
    DatasetError naming the file and line (the one JSONL reader of EmoCue-360's cue files and records)."""
    with reading_text(path), open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{line_number}: invalid JSON ({exc.msg}); one object per line expected") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{line_number}: expected a JSON object, got {type(row).__name__}")
            yield line_number, row


def load_cue_file(path: str | os.PathLike) -> dict[str, dict[str, list[str]]]:
    """Read a published-format cue file (JSON object id → cue set); JSONL with ``id`` + ``cues`` also works."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"cue file not found: {path}")
    if path.endswith(".jsonl"):
        data = {}
        for line_number, row in iter_jsonl(path):
            if "id" not in row or "cues" not in row:
                raise DatasetError(f"{path}:{line_number}: expected an object with 'id' and 'cues'")
            data[str(row["id"])] = row["cues"]
    else:
        with reading_text(path), open(path, encoding="utf-8") as handle:
            text = handle.read()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    return validate_cue_file(data, path)
