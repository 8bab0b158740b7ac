"""Check a whole EmoCue dataset: every row against the schema, ids unique over all splits, rows in the split
their file says, and (optionally) every referenced media file present and decodable. The Python API behind
`xemogpt validate`."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from processing.errors import DatasetError
from .load import find_local_source, iter_raw_rows, load_emocue
from .schema import (CUE_CATEGORIES, KNOWN_SPLITS, MEDIA_COLUMNS, check_media_file, escapes_roots, normalize_record, resolve_media_path,
                     validate_record)


@dataclass
class Problem:
    split: str | None
    id: str  # the row's id, or "#<n>" (its 0-based position in its file) when it has none
    reason: str

    def __str__(self) -> str:
        return f"row {self.id}" + (f" ({self.split})" if self.split else "") + f": {self.reason}"


@dataclass
class ValidationReport:
    dataset: str
    rows_per_split: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def rows(self) -> int:
        return sum(self.rows_per_split.values())

    def summary(self) -> str:
        splits = ", ".join(f"{split}: {n}" for split, n in self.rows_per_split.items())
        head = f"{self.dataset}: checked {self.rows} rows" + (f" ({splits})" if splits else "")
        if self.ok:
            return head + ": OK"
        bad_rows = len({(p.split, p.id) for p in self.problems})
        return head + f": {len(self.problems)} problems in {bad_rows} rows"

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "ok": self.ok,
            "rows": self.rows,
            "rows_per_split": dict(self.rows_per_split),
            "problems": [{"split": p.split, "id": p.id, "reason": p.reason} for p in self.problems],
            "notes": self.notes,
        }


def validate_dataset(
    dataset: str | os.PathLike,
    *,
    split: str | None = None,
    media_root: str | os.PathLike | None = None,
    check_media: bool = True,
) -> ValidationReport:
    """Check every row of a local EmoCue dataset (or Hub dataset id) and return what is wrong.

    Local files are read row by row without casting, so malformed rows are reported rather than failing the
    load. Media paths resolve as in `load_emocue`; each file is opened once with PyAV (header + first frame).
    Raises DatasetError when the dataset itself cannot be found or read.
    """
    report = ValidationReport(str(dataset))
    source = find_local_source(dataset)
    if source is not None:
        if split is not None and None not in source.files and split not in source.files:
            raise DatasetError(f"{dataset}: no split {split!r} (available: {list(source.files)})")
        roots = [Path(media_root).absolute()] if media_root is not None else [source.base_dir]
        rows = iter_raw_rows(source, split)
    else:  # a Hub dataset: rows arrive cast to the schema, media paths resolved only against media_root
        roots = None
        loaded = load_emocue(dataset, split, media_root=media_root, streaming=True)
        rows = ((split, row) for row in loaded) if split is not None else (
            (name, row) for name, part in loaded.items() for row in part
        )
        if check_media and media_root is None:
            report.notes.append("media not checked: pass --media-root with the folder that holds the clips")
            check_media = False

    first_seen: dict[str, str | None] = {}
    media_checked: dict[tuple[str, Path], str | None] = {}
    position = Counter()
    without_cues = 0
    for file_split, row in rows:
        index = position[file_split]
        position[file_split] += 1
        if not isinstance(row, dict):
            report.problems.append(Problem(file_split, f"#{index}", f"row is not an object ({type(row).__name__})"))
            continue
        record = normalize_record(row, split=file_split or "train")
        row_id = record["id"] if isinstance(record["id"], str) and record["id"].strip() else f"#{index}"
        split_name = file_split or (record["split"] if isinstance(record["split"], str) else None)
        report.rows_per_split[split_name or "?"] += 1

        def problem(reason: str) -> None:
            report.problems.append(Problem(split_name, row_id, reason))

        for reason in validate_record(record, root=roots, splits=KNOWN_SPLITS):
            problem(reason)
        cues = record.get("cues")
        if not (isinstance(cues, dict) and any(cues.get(c) for c in CUE_CATEGORIES)):
            without_cues += 1
        if file_split is not None and record["split"] != file_split and isinstance(record["split"], str):
            problem(f"split {record['split']!r} does not match its data file's split {file_split!r}")
        if not row_id.startswith("#"):
            if row_id in first_seen:
                problem(f"duplicate id (first seen in split {first_seen[row_id]!r})")
            else:
                first_seen[row_id] = split_name
        if check_media:
            for column in MEDIA_COLUMNS:
                value = record[column]
                if isinstance(value, str) and value.strip() and not escapes_roots(value, roots):
                    key = (column, resolve_media_path(value, roots))
                    if key not in media_checked:
                        media_checked[key] = check_media_file(key[1], column)
                    if media_checked[key]:
                        problem(media_checked[key])
    if without_cues:
        report.notes.append(f"{without_cues} of {report.rows} rows have no cues: training can use them, but EmoCue-360 "
                            "has nothing to score them against (xemogpt evaluate --extractor can extract cues)")
    if report.rows == 0:
        report.problems.append(Problem(split, "-", "the dataset has no rows" + (f" in split {split!r}" if split else "")))
    return report
