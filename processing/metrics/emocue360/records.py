"""From files to scored cues: read references/predictions, extract cues where needed, score, add emotion.

Accepted inputs (each side):

* a cue file (JSON object id → cue set, the published format);
* records — a JSONL file, a JSON list, a Parquet file, an EMER-style CSV (``name``/``id`` and
  ``english``/``explanation`` columns) or an EmoCue dataset folder (``data/*.parquet`` or ``metadata.jsonl``).
  A record needs ``id`` and one of ``cues`` / ``explanation``; ``emotion`` is optional.

A record's cues: its ``cues`` when at least one category is non-empty, else the extractor's cues for its
``explanation``. Emotion labels: a reference's ``emotion``; a prediction's ``emotion`` when given, else
:func:`extract_emotion` of its explanation (or of its emotional cues).
"""

from __future__ import annotations

import csv
import glob
import json
import os
from collections.abc import Mapping, Sequence

from processing.errors import DatasetError, reading_text
from .cues import CATEGORIES, iter_jsonl, validate_cue_set
from .emotions import emotion_scores, normalize_emotion
from .extractors import get_extractor
from .rules import emotions_mentioned, extract_emotion
from .scorer import EmoCue360, EmoCue360Result, align_ids


def _read_parquet(paths: Sequence[str]) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for path in paths:
        try:
            # references need the text columns; media stored in the file (Video / Audio bytes) stay on disk
            names = [n for n in pq.read_schema(path).names if n not in ("video", "audio")]
            rows.extend(pq.read_table(path, columns=names).to_pylist())
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise DatasetError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    return rows


def _read_csv(path: str) -> list[dict]:
    with reading_text(path), open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if "id" not in row and "name" in row:
            row["id"] = row["name"]
        if "explanation" not in row and "english" in row:
            row["explanation"] = row["english"]
    return rows


def _read_json(path: str) -> list[dict]:
    with reading_text(path), open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    if isinstance(data, list):
        return data
    if isinstance(data, dict):  # the published id → cue set format
        return [{"id": key, "cues": value} for key, value in data.items()]
    raise DatasetError(f"{path}: expected a JSON object (id → cues) or a list of records, got {type(data).__name__}")


def read_records(source) -> list[dict]:
    """Rows from a path (see the module docstring) or an in-memory list of records / id → cue set mapping."""
    if isinstance(source, Mapping):
        return [{"id": key, "cues": value} for key, value in source.items()]
    if not isinstance(source, (str, os.PathLike)):
        return list(source)
    path = os.fspath(source)
    if os.path.isdir(path):
        return _read_dataset_folder(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file or folder: {path}")
    lower = path.lower()
    if lower.endswith(".jsonl"):
        return [row for _, row in iter_jsonl(path)]
    if lower.endswith(".parquet"):
        return _read_parquet([path])
    if lower.endswith(".csv"):
        return _read_csv(path)
    return _read_json(path)


def _read_dataset_folder(path: str) -> list[dict]:
    try:  # the EmoCue loader, when the project has one
        from processing.data.emocue import load_emocue  # type: ignore[attr-defined]
    except ImportError:
        load_emocue = None
    if load_emocue is not None:
        loaded = load_emocue(path)
        if isinstance(loaded, Mapping):  # a DatasetDict: every split
            return [dict(row) for split in loaded.values() for row in split]
        return [dict(row) for row in loaded]
    parquet = sorted(glob.glob(os.path.join(path, "data", "*.parquet")))
    if parquet:
        return _read_parquet(parquet)
    if os.path.isfile(os.path.join(path, "metadata.jsonl")):
        return [row for _, row in iter_jsonl(os.path.join(path, "metadata.jsonl"))]
    raise DatasetError(f"{path}: not an EmoCue dataset folder (no data/*.parquet and no metadata.jsonl)")


def _label(row: dict) -> str:
    value = row.get("emotion")
    return value.strip() if isinstance(value, str) else ""


# Longest explanation scored, in characters (a generated explanation is a paragraph; 20 000 is ~3 000 words). A longer
# one is cut there, with a note, so that time and memory stay bounded.
MAX_EXPLANATION_CHARS = 20_000


def collect(rows: list[dict], source: str, notes: list[str] | None = None) -> tuple[dict, dict, dict]:
    """(id → given cue set or None, id → explanation, id → emotion label) with checks on ids and types. Explanations
    longer than MAX_EXPLANATION_CHARS are cut, each with a line in `notes`."""
    given, texts, labels = {}, {}, {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DatasetError(f"{source}: row {index} is {type(row).__name__}, expected an object")
        key = row.get("id")
        if key is None or str(key) == "":
            raise DatasetError(f"{source}: row {index} has no 'id'")
        key = str(key)
        if key in texts or key in given:
            raise DatasetError(f"{source}: id {key!r} occurs twice; ids must be unique")
        cues = row.get("cues")
        if cues is not None:
            cues = validate_cue_set(cues, f"{source}: id {key!r}")
        explanation = row.get("explanation") or ""
        if not isinstance(explanation, str):
            raise DatasetError(f"{source}: id {key!r}: 'explanation' must be a string, got {type(explanation).__name__}")
        if cues is None and not explanation.strip():
            raise DatasetError(f"{source}: id {key!r} has neither 'cues' nor an 'explanation'")
        if len(explanation) > MAX_EXPLANATION_CHARS:
            if notes is not None:
                notes.append(f"{source}: id {key!r}: explanation of {len(explanation):,} characters cut to its first "
                             f"{MAX_EXPLANATION_CHARS:,}")
            explanation = explanation[:MAX_EXPLANATION_CHARS]
        has_cues = cues is not None and any(cues.get(c) for c in CATEGORIES)
        # given cues win; empty cues next to an explanation mean "not annotated": extract them
        given[key] = cues if has_cues or not explanation.strip() else None
        texts[key] = explanation
        labels[key] = _label(row)
    return given, texts, labels


def _cues_for(ids, given, texts, extractor) -> dict:
    to_extract = {key: texts[key] for key in ids if given[key] is None}
    extracted = extractor.extract(to_extract) if to_extract else {}
    return {key: given[key] if given[key] is not None else extracted[key] for key in ids}


def evaluate(references, predictions, *, extractor="rule", extractor_options: Mapping | None = None,
             embedder=None, compat: str = "default", strict: bool = False, reextract_predictions: bool = False,
             **scorer_options) -> EmoCue360Result:
    """EmoCue-360 (and emotion accuracy when references carry labels) from files or in-memory records.

    references, predictions: paths or records (see the module docstring), or id → cue set mappings.
    extractor: a spec (``rule``, ``hf:DIR``, ``openai:URL``) or an extractor object; used for records that
    carry an explanation but no cues. Only ids present on both sides are extracted and scored.
    reextract_predictions: extract prediction cues from their explanation even when the records carry cues
    (``xemogpt predict`` stores rule-parsed cues; use this to score both sides with an LLM extractor).
    The result also carries ``reference_cues`` / ``predicted_cues`` (what was scored, before filtering).
    """
    ref_name = os.fspath(references) if isinstance(references, (str, os.PathLike)) else "references"
    pred_name = os.fspath(predictions) if isinstance(predictions, (str, os.PathLike)) else "predictions"
    cut: list[str] = []
    ref_given, ref_texts, ref_labels = collect(read_records(references), ref_name, cut)
    pred_given, pred_texts, pred_labels = collect(read_records(predictions), pred_name, cut)
    ids, notes = align_ids(list(ref_texts), list(pred_texts), strict=strict)
    notes = cut + notes
    if reextract_predictions:
        pred_given = {k: None if pred_texts[k].strip() else cues for k, cues in pred_given.items()}

    if isinstance(extractor, str):
        need = any(ref_given[k] is None or pred_given[k] is None for k in ids)
        extractor = get_extractor(extractor, **dict(extractor_options or {})) if need else None
    ref_cues = _cues_for(ids, ref_given, ref_texts, extractor)
    pred_cues = _cues_for(ids, pred_given, pred_texts, extractor)
    if extractor is not None:
        notes += list(getattr(extractor, "notes", []))

    scorer = EmoCue360(embedder, compat=compat, strict=True, **scorer_options)
    result = scorer.score({k: ref_cues[k] for k in ids}, {k: pred_cues[k] for k in ids})
    result.warnings = notes + result.warnings
    result.reference_cues, result.predicted_cues = ref_cues, pred_cues

    if any(ref_labels[k] for k in ids):
        predicted, mentioned = {}, {}
        for key in ids:
            text = pred_texts[key] or " ".join(pred_cues[key].get("emotional", []))
            predicted[key] = pred_labels[key] or extract_emotion(text)
            mentioned[key] = emotions_mentioned(text)
            if pred_labels[key]:
                mentioned[key].add(normalize_emotion(pred_labels[key]))
        result.emotion = emotion_scores({k: ref_labels[k] for k in ids if ref_labels[k]}, predicted, mentioned)
        result.predicted_emotions = predicted
        result.reference_emotions = {k: ref_labels[k] for k in ids}
    return result
