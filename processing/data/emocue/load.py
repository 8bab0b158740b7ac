"""Load EmoCue data from a local folder or file, or from the Hugging Face Hub.

Local sources, in the order they are looked for:

* an EmoCue folder: `data/<split>.parquet` (+ `media/`), as `EmoCueWriter` writes it;
* a folder with one metadata file `metadata.{jsonl,json,parquet,csv}` whose `split` column assigns rows to
  splits (no column: all rows are "train");
* a folder with one file per split, `<split>.{jsonl,json,parquet,csv}` (split names from schema.KNOWN_SPLITS);
* a single metadata file (`.jsonl`, `.json`, `.parquet`, `.csv`), split by its `split` column.

In CSV files `cues` is a JSON string. Anything else is taken as a Hub dataset id. Media paths that are relative
resolve against `media_root` (default: the dataset folder; for a Hub id they stay as they are unless
`media_root` is given) — as written, else by their file name alone (see schema.resolve_media_path).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import datasets
import pyarrow.parquet as pq

from processing.errors import DatasetError, reading_text
from .card import DATA_DIR, split_data_files
from .schema import (
    FEATURES,
    KNOWN_SPLITS,
    MEDIA_COLUMNS,
    OPTIONAL_COLUMNS,
    escapes_roots,
    media_reference,
    normalize_record,
    resolve_media_path,
    sort_splits,
)

METADATA_EXTENSIONS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class LocalSource:
    """Where a local dataset's rows are. `files` maps split → file; the split None means "one file whose
    `split` column says which split each row belongs to"."""

    base_dir: Path
    builder: str
    files: dict[str | None, Path]


def find_local_source(path: str | os.PathLike) -> LocalSource | None:
    """The local dataset at `path`, None when `path` does not exist (it may be a Hub id). Raises DatasetError
    for an existing file or folder that holds no EmoCue metadata."""
    path = Path(path).expanduser()
    if path.is_file():
        builder = METADATA_EXTENSIONS.get(path.suffix.lower())
        if builder is None:
            raise DatasetError(f"{path}: not a metadata file (expected {', '.join(METADATA_EXTENSIONS)})")
        return LocalSource(path.parent.absolute(), builder, {None: path.absolute()})
    if not path.is_dir():
        return None
    base = path.absolute()
    parquet = split_data_files(base)
    if parquet:
        return LocalSource(base, "parquet", {split: base / relative for split, relative in parquet.items()})
    for ext, builder in METADATA_EXTENSIONS.items():
        if (base / f"metadata{ext}").is_file():
            return LocalSource(base, builder, {None: base / f"metadata{ext}"})
    for ext, builder in METADATA_EXTENSIONS.items():
        per_split = {s: base / f"{s}{ext}" for s in KNOWN_SPLITS if (base / f"{s}{ext}").is_file()}
        if per_split:
            return LocalSource(base, builder, per_split)
    raise DatasetError(
        f"{path}: no EmoCue metadata found (expected {DATA_DIR}/<split>.parquet, metadata.jsonl/.csv/.parquet, "
        "or <split>.jsonl files)"
    )


def _coerce_row(row: dict) -> dict:
    """Undo what flat formats do to a record: CSV keeps `cues` as a JSON string and empty cells as ""; stored
    media ({"bytes", "path"}, schema.STORED_FEATURES) are referred to by their path."""
    row = dict(row)
    for column in MEDIA_COLUMNS:
        if column in row:
            row[column] = media_reference(row[column])
    cues = row.get("cues")
    if isinstance(cues, str):
        try:
            row["cues"] = json.loads(cues) if cues.strip() else None
        except json.JSONDecodeError:
            pass  # left as a string: validation reports it
    for column in OPTIONAL_COLUMNS:
        if row.get(column) == "":
            row[column] = None
    return row


def _read_rows(builder: str, path: Path) -> Iterator[dict]:
    """Rows of one metadata file as plain Python values, without casting (so that a malformed row is seen as
    it is written, not as an Arrow error)."""
    with reading_text(path):
        yield from _read_rows_of(builder, path)


def _read_rows_of(builder: str, path: Path) -> Iterator[dict]:
    if builder == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
            yield from batch.to_pylist()
    elif builder == "csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            yield from csv.DictReader(f)
    elif path.suffix.lower() == ".json":
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)
        if not isinstance(rows, list):
            raise DatasetError(f"{path}: a .json metadata file must hold a list of rows")
        yield from rows
    else:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from None


def iter_raw_rows(source: LocalSource, split: str | None = None) -> Iterator[tuple[str | None, dict]]:
    """(split the row is stored in or None, row) for every row of a local source, uncast (for validation)."""
    for file_split, path in source.files.items():
        if split is not None and file_split is not None and file_split != split:
            continue
        for row in _read_rows(source.builder, path):
            row = _coerce_row(row) if isinstance(row, dict) else row
            if split is not None and file_split is None and isinstance(row, dict) and (row.get("split") or "train") != split:
                continue
            yield file_split, row


def media_cache_dir() -> Path:
    """Where media stored inside Parquet files are written out when no copy of the file is at hand
    ($XEMOGPT_CACHE/media, default ~/.cache/xemogpt/media)."""
    return Path(os.environ.get("XEMOGPT_CACHE", Path.home() / ".cache" / "xemogpt")).expanduser() / "media"


def _stored_media_path(value: dict, roots: list[Path] | None) -> str | None:
    """A path for a stored media value ({"bytes", "path"}): the file its path names when it exists under `roots`,
    else its bytes written once to `media_cache_dir()` (by content hash), else the path as written."""
    import hashlib

    reference, data = value.get("path"), value.get("bytes")
    if reference and roots:
        found = resolve_media_path(reference, roots)
        if found.is_file():
            return str(found)
    if not data:
        return reference
    target = media_cache_dir() / hashlib.sha256(data).hexdigest()[:32] / (Path(reference or "media").name)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, target)
    return str(target)


def _prepared(roots: list[Path] | None, split: str | None):
    def prepare(row: dict) -> dict:
        row = dict(row)
        for column in MEDIA_COLUMNS:
            if isinstance(row.get(column), dict):
                row[column] = _stored_media_path(row[column], roots)
        record = normalize_record(_coerce_row(row), split=split)
        if roots:
            for column in MEDIA_COLUMNS:
                if record[column]:
                    if escapes_roots(record[column], roots):
                        raise DatasetError(f"row {record['id']}: {column} path {record[column]!r} leads outside "
                                           f"{roots[0]} (use a path inside it, an absolute path, or --media-root)")
                    record[column] = str(resolve_media_path(record[column], roots))
        return record

    return prepare


def _split_names_of(source: LocalSource) -> list[str]:
    """The values of the `split` column of a one-file source (rows without one count as "train")."""
    path = source.files[None]
    if source.builder == "parquet":
        names = pq.read_table(path, columns=["split"]).column("split").to_pylist() if "split" in (
            pq.read_schema(path).names
        ) else []
    else:
        names = [row.get("split") for row in _read_rows(source.builder, path) if isinstance(row, dict)]
    return sort_splits({name or "train" for name in names}) or ["train"]


def _load_local(source: LocalSource, split: str | None, roots: list[Path], streaming: bool):
    def load(files: dict[str, str]):
        try:
            return datasets.load_dataset(source.builder, data_files=files, streaming=streaming)
        except Exception as exc:
            raise DatasetError(
                f"{source.base_dir}: cannot read the metadata ({exc.__class__.__name__}: {str(exc)[:200]}); "
                f"run `xemogpt validate {source.base_dir}` to find the bad rows"
            ) from exc

    if None not in source.files:
        splits = [split] if split is not None else list(source.files)
        if split is not None and split not in source.files:
            raise DatasetError(f"{source.base_dir}: no split {split!r} (available: {sorted(source.files)})")
        raw = load({s: str(source.files[s]) for s in splits})
        return {s: _to_records(raw[s], s, roots) for s in splits}
    available = _split_names_of(source)
    if split is not None and split not in available:
        raise DatasetError(f"{source.base_dir}: no split {split!r} (available: {available})")
    everything = load({"train": str(source.files[None])})["train"]
    result = {}
    for name in [split] if split is not None else available:
        part = everything.filter(lambda row, name=name: (row.get("split") or "train") == name)
        result[name] = _to_records(part, name, roots)
    return result


def _to_records(ds, split: str, roots: list[Path] | None):
    """`ds` with exactly the schema's columns and types (media paths resolved against `roots`; media stored in the
    Parquet files as paths again)."""
    for column in MEDIA_COLUMNS:
        feature = (ds.features or {}).get(column)
        if isinstance(feature, (datasets.Video, datasets.Audio)) and feature.decode:
            ds = ds.cast_column(column, type(feature)(decode=False))
    try:
        if isinstance(ds, datasets.Dataset):
            # media paths depend on which files exist now: never reuse a cached result
            return ds.map(
                _prepared(roots, split), features=FEATURES, remove_columns=ds.column_names, load_from_cache_file=False
            )
        return ds.map(_prepared(roots, split), features=FEATURES).select_columns(list(FEATURES))
    except (TypeError, ValueError, datasets.exceptions.DatasetGenerationError) as exc:
        raise DatasetError(
            f"split {split!r}: rows do not fit the EmoCue schema ({exc.__class__.__name__}: {str(exc)[:200]}); "
            "run `xemogpt validate` on the dataset to find them"
        ) from exc


def _load_hub(hub_id: str, split: str | None, roots: list[Path] | None, streaming: bool):
    try:
        loaded = datasets.load_dataset(hub_id, split=split, streaming=streaming)
    except Exception as exc:
        offline = " (HF_HUB_OFFLINE is set: no Hub access)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
        raise DatasetError(
            f"{hub_id!r} is neither a local file or folder nor a loadable Hub dataset{offline}: "
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        ) from exc
    if split is not None:
        return {split: _to_records(loaded, split, roots)}
    return {s: _to_records(ds, s, roots) for s, ds in loaded.items()}


def load_emocue(
    path_or_hub_id: str | os.PathLike,
    split: str | None = None,
    *,
    media_root: str | os.PathLike | None = None,
    streaming: bool = False,
):
    """Load an EmoCue dataset with the schema's columns and types, media paths made absolute.

    path_or_hub_id: a local folder or metadata file (see the module docstring) or a Hub dataset id.
    split: one split → `Dataset` (`IterableDataset` when streaming); None → `DatasetDict` of all splits.
    media_root: folder that relative media paths resolve against (default: the dataset folder; for licensed
        clips distributed separately, the folder that holds them).
    streaming: iterate lazily (large corpora); media paths are resolved as rows are read.
    Raises DatasetError when the source does not exist, cannot be read or lacks the split.
    """
    source = find_local_source(path_or_hub_id)
    roots = [Path(media_root).expanduser().absolute()] if media_root is not None else None
    if media_root is not None and not roots[0].is_dir():
        raise DatasetError(f"media root {media_root} is not a folder")
    if source is not None:
        splits = _load_local(source, split, roots or [source.base_dir], streaming)
    else:
        name = str(path_or_hub_id)
        if not _HUB_ID.match(name) or Path(name).suffix.lower() in METADATA_EXTENSIONS:
            raise DatasetError(f"{name}: no such file or folder")
        splits = _load_hub(name, split, roots, streaming)
    if split is not None:
        return splits[split]
    return (datasets.IterableDatasetDict if streaming else datasets.DatasetDict)(splits)
