"""The on-disk EmoCue layout and its atomic writer.

A dataset folder::

    <out_dir>/
      README.md               dataset card; its YAML `configs` lists data/*.parquet (so that
                              `datasets.load_dataset(out_dir)` reads exactly those, not the media)
      data/<split>.parquet    one file per split, columns = schema.FEATURES; with `embed_media` (the default unless
                              the media are licensed separately: `media_caveat`) `video` / `audio` hold the files
                              themselves as datasets Video() / Audio() values (schema.STORED_FEATURES)
      data/<view>/<split>.parquet  TRL's views (trl_views.py)
      media/<file>            clips referenced by rows as "media/<file>" (absent in annotation-only releases)

`EmoCueWriter` writes one split. Everything goes to a temporary folder next to `out_dir` and is moved into
place only when the `with` block ends cleanly; an exception leaves `out_dir` as it was. Writing another split
into an existing folder adds it (and refreshes the card); rewriting an existing split needs `overwrite=True`.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from modeling_xemogpt.hub import staging_dir

from processing.errors import DatasetError
from .card import DATA_DIR, make_dataset_card, split_data_files
from .schema import (FEATURES, KNOWN_SPLITS, MEDIA_COLUMNS, STORED_FEATURES, embedded_media, normalize_record,
                     resolve_media_path, validate_record)
from .trl_views import VIEWS, view_data_files, write_views

logger = logging.getLogger(__name__)

MEDIA_DIR = "media"
CARD_FILE = "README.md"
_BATCH_ROWS = 1000
_BATCH_ROWS_EMBEDDED = 64  # rows held in memory with their media


def _existing_card_field(out_dir: Path, field: str):
    path = out_dir / CARD_FILE
    if not path.is_file():
        return None
    from huggingface_hub import DatasetCard

    try:
        return getattr(DatasetCard.load(path).data, field, None)
    except Exception:  # a hand-written README without valid YAML: keep the defaults
        return None


class EmoCueWriter:
    """Write one split of an EmoCue dataset folder, atomically.

    >>> with EmoCueWriter("out/emocue_synth", split="train") as w:
    ...     (w.media_dir / "clip_0001.mp4").write_bytes(mp4_bytes)
    ...     w.add({"id": "clip_0001", "video": "media/clip_0001.mp4", "explanation": "...", ...})

    out_dir: the dataset folder (created; or an existing EmoCue folder to which this split is added).
    split: the split's name (one of `splits`); rows without a `split` get it, rows with another one are invalid.
    overwrite: replace the split if `out_dir` already has it (other splits are kept).
    skip_invalid: drop invalid rows (counted in `n_skipped`, reasons in `skipped`) instead of raising.
    check_media: also open every referenced media file with PyAV when adding a row (see validate_record).
    name, license, description, media_caveat, repo_id: what the README dataset card says (card.make_dataset_card);
        name and license default to those of the folder's existing card, else the folder name and "other".
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        split: str = "train",
        *,
        overwrite: bool = False,
        skip_invalid: bool = False,
        check_media: bool = False,
        splits: Iterable[str] = KNOWN_SPLITS,
        name: str | None = None,
        license: str | None = None,
        description: str | None = None,
        media_caveat: bool = False,
        trl_views: bool = True,
        embed_media: bool | None = None,
        repo_id: str | None = None,
    ):
        self.out_dir = Path(out_dir).absolute()
        self.trl_views = trl_views
        # licensed media (media_caveat) stay out of the Parquet files, so that the records can be shared alone
        self.embed_media = (not media_caveat) if embed_media is None else embed_media
        self.features = STORED_FEATURES if self.embed_media else FEATURES
        self.split = split
        self.splits = tuple(splits)
        if split not in self.splits:
            raise DatasetError(f"unknown split {split!r}: use one of {list(self.splits)}")
        self.overwrite = overwrite
        self.skip_invalid = skip_invalid
        self.check_media = check_media
        self.card_args = dict(
            name=name or _existing_card_field(self.out_dir, "pretty_name") or self.out_dir.name,
            license=license or _existing_card_field(self.out_dir, "license") or "other",
            description=description or "An audio-visual emotion dataset in the EmoCue format.",
            media_caveat=media_caveat,
            repo_id=repo_id,
        )
        self._check_destination()
        self.n_written = 0
        self.n_skipped = 0
        self.skipped: list[tuple[str, list[str]]] = []
        self._ids: set[str] = set()
        self._taken_ids = self._ids_of_other_splits()
        self._buffer: list[dict] = []
        self._tmp: Path | None = None
        self._parquet: pq.ParquetWriter | None = None

    # ---- destination checks -------------------------------------------------------------------------
    def _check_destination(self) -> None:
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise DatasetError(f"{self.out_dir} exists and is not a folder")
        if not self.out_dir.is_dir() or not any(self.out_dir.iterdir()):
            return
        if not (self.out_dir / DATA_DIR).is_dir():
            raise DatasetError(
                f"{self.out_dir} is not empty and is not an EmoCue dataset folder (no {DATA_DIR}/): "
                "choose a new or empty folder"
            )
        if (self.out_dir / DATA_DIR / f"{self.split}.parquet").exists() and not self.overwrite:
            raise DatasetError(
                f"{self.out_dir} already has split {self.split!r}: pass overwrite=True (--overwrite) to replace it"
            )

    def _ids_of_other_splits(self) -> set[str]:
        taken = set()
        for split, path in split_data_files(self.out_dir).items():
            if split != self.split:
                taken.update(pq.read_table(self.out_dir / path, columns=["id"]).column("id").to_pylist())
        return taken

    # ---- context manager ----------------------------------------------------------------------------
    def __enter__(self) -> EmoCueWriter:
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = staging_dir(self.out_dir, ".tmp")
        (self._tmp / MEDIA_DIR).mkdir()
        (self._tmp / DATA_DIR).mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._commit()
        finally:
            if self._parquet is not None:
                self._parquet.close()
                self._parquet = None
            if self._tmp is not None and self._tmp.exists():
                shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @property
    def media_dir(self) -> Path:
        """Where the caller writes media files; rows reference them as "media/<file name>"."""
        if self._tmp is None:
            raise RuntimeError("EmoCueWriter.media_dir is only available inside the `with` block")
        return self._tmp / MEDIA_DIR

    # ---- rows ---------------------------------------------------------------------------------------
    def add(self, row: Mapping) -> bool:
        """Validate and buffer one row. Returns True when it was kept; an invalid row raises DatasetError
        naming its id (or, with skip_invalid, is dropped and counted, returning False)."""
        if self._tmp is None:
            raise RuntimeError("EmoCueWriter.add must be called inside the `with` block")
        record = normalize_record(row, split=self.split)
        reasons = validate_record(
            record, root=[self._tmp, self.out_dir], check_media=self.check_media, splits=self.splits
        )
        if record["split"] != self.split and not reasons:
            reasons.append(f"split {record['split']!r} differs from the writer's split {self.split!r}")
        if record["id"] in self._ids or record["id"] in self._taken_ids:
            reasons.append(f"duplicate id {record['id']!r}")
        if reasons:
            row_id = record["id"] if isinstance(record["id"], str) else f"#{self.n_written + self.n_skipped}"
            if not self.skip_invalid:
                raise DatasetError(f"row {row_id}: " + "; ".join(reasons))
            self.n_skipped += 1
            self.skipped.append((row_id, reasons))
            return False
        self._ids.add(record["id"])
        self._buffer.append(record)
        self.n_written += 1
        if len(self._buffer) >= (_BATCH_ROWS_EMBEDDED if self.embed_media else _BATCH_ROWS):
            self._flush()
        return True

    def add_many(self, rows: Iterable[Mapping]) -> int:
        """`add` each row; returns how many were kept."""
        return sum(self.add(row) for row in rows)

    def _stored(self, record: dict) -> dict:
        """`record` as data/<split>.parquet holds it: with `embed_media`, each media file's bytes and its path."""
        if not self.embed_media:
            return record
        stored = dict(record)
        for column in MEDIA_COLUMNS:
            if record[column]:
                path = resolve_media_path(record[column], [self._tmp, self.out_dir])
                stored[column] = (embedded_media(path, record[column]) if path.is_file()
                                  else {"bytes": None, "path": record[column]})
        return stored

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = pa.Table.from_pylist([self._stored(r) for r in self._buffer], schema=self.features.arrow_schema)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self._tmp / DATA_DIR / f"{self.split}.parquet", table.schema)
        self._parquet.write_table(table)
        self._buffer = []

    # ---- commit -------------------------------------------------------------------------------------
    def _commit(self) -> None:
        self._flush()
        if self._parquet is None:  # no rows: still a valid (empty) split
            pq.write_table(self.features.arrow_schema.empty_table(), self._tmp / DATA_DIR / f"{self.split}.parquet")
        else:
            self._parquet.close()
            self._parquet = None
        self._stamp_mtime(self._tmp / DATA_DIR / f"{self.split}.parquet")
        if self.trl_views:
            try:
                write_views(self._tmp, self.split, roots=[self._tmp, self.out_dir])
            except FileNotFoundError as missing:
                logger.info("no TRL views for split %s: %s", self.split, missing)
                for view in VIEWS:
                    shutil.rmtree(self._tmp / DATA_DIR / view, ignore_errors=True)
        fresh = not self.out_dir.exists() or not any(self.out_dir.iterdir())
        if fresh:
            self._write_card(self._tmp)
            if self.out_dir.exists():
                self.out_dir.rmdir()
            os.replace(self._tmp, self.out_dir)
            self._tmp = None
            return
        self._merge_into_existing()

    def _stamp_mtime(self, path: Path) -> None:
        """Give the new Parquet file a fine-grained mtime later than the file it replaces: `datasets` keys
        its cache on (path, mtime), and file-system timestamps can be as coarse as a second here, so a split
        rewritten within the same second would otherwise load the stale cached copy."""
        old = self.out_dir / DATA_DIR / path.name
        stamp = time.time_ns()
        if old.exists():
            stamp = max(stamp, old.stat().st_mtime_ns + 1_000_000)
        os.utime(path, ns=(stamp, stamp))

    def _merge_into_existing(self) -> None:
        """Add this split to an existing folder: media first, then the split's Parquet file (the moment the
        rows become visible), then the card. An interruption leaves at most unreferenced media files."""
        new_media = sorted(p for p in (self._tmp / MEDIA_DIR).iterdir())
        clashes = [p.name for p in new_media if (self.out_dir / MEDIA_DIR / p.name).exists()]
        if clashes and not self.overwrite:
            raise DatasetError(
                f"{self.out_dir / MEDIA_DIR} already has {len(clashes)} of the new media files "
                f"(e.g. {clashes[0]}): use distinct file names per split or overwrite=True"
            )
        self._write_card(self._tmp)
        (self.out_dir / MEDIA_DIR).mkdir(exist_ok=True)
        for path in new_media:
            os.replace(path, self.out_dir / MEDIA_DIR / path.name)
        (self.out_dir / DATA_DIR).mkdir(exist_ok=True)
        for view in VIEWS:
            if (self._tmp / DATA_DIR / view / f"{self.split}.parquet").exists():
                (self.out_dir / DATA_DIR / view).mkdir(exist_ok=True)
                os.replace(self._tmp / DATA_DIR / view / f"{self.split}.parquet",
                           self.out_dir / DATA_DIR / view / f"{self.split}.parquet")
        os.replace(self._tmp / DATA_DIR / f"{self.split}.parquet", self.out_dir / DATA_DIR / f"{self.split}.parquet")
        os.replace(self._tmp / CARD_FILE, self.out_dir / CARD_FILE)

    def _write_card(self, where: Path) -> None:
        """Write README.md into `where`, describing every split the folder will have after the commit."""
        if self.out_dir.is_dir():  # the other splits' files, linked in so that the card counts and lists them
            for split, path in split_data_files(self.out_dir).items():
                if split != self.split:
                    _link_or_copy(self.out_dir / path, where / path)
            for files in view_data_files(self.out_dir).values():
                for split, path in files.items():
                    if split != self.split:
                        (where / path).parent.mkdir(parents=True, exist_ok=True)
                        _link_or_copy(self.out_dir / path, where / path)
        make_dataset_card(where, **self.card_args).save(where / CARD_FILE)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, target)


def write_emocue(rows: Iterable[Mapping], out_dir: str | os.PathLike, split: str = "train", **writer_kwargs) -> EmoCueWriter:
    """Write `rows` (records whose media, if any, already exist where they point) as one split of an EmoCue
    folder; `writer_kwargs` go to EmoCueWriter. Returns the closed writer (`n_written`, `n_skipped`, `skipped`).
    The folder is ready to publish as it is (`hf upload <repo> <out_dir> --repo-type=dataset`, card included),
    or as `datasets.load_dataset(out_dir).push_to_hub(repo)` (media paths stay relative; `load_emocue` would
    make them absolute)."""
    with EmoCueWriter(out_dir, split, **writer_kwargs) as writer:
        writer.add_many(rows)
    return writer
