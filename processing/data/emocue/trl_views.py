"""TRL's views of an EmoCue split, written next to it: `messages` (SFT) and `preference` (DPO).

    data/<split>.parquet               the EmoCue records (the `default` config; media embedded, schema.STORED_FEATURES)
    data/messages/<split>.parquet      `id`, `images` (empty), `messages`: the user turn holds the clip as `video` /
                                       `audio` content items and the subtitle as a text item; the assistant turn
                                       holds the reference explanation
    data/preference/<split>.parquet    `id`, `images`, `prompt` (that user turn), `chosen` (the explanation),
                                       `rejected` (its corrupted version), for rows that have one

The media travel inside the views as `datasets` `Video()` / `Audio()` values (the file's bytes), so that
`load_dataset(FOLDER, "messages")` decodes them wherever the folder (or its Hub copy) is, and `push_to_hub` carries
them. Audio is the row's own audio file, else the video's audio track (when it has one).

The empty `images` column is there for TRL 1.16: its SFT and DPO trainers send a dataset to their multimodal
collators (which pass the conversation to `processor.apply_chat_template`, where XEmoGPT's processor decodes the
video / audio items) only when a row has an `image` or `images` key (`trl/trainer/sft_trainer.py`,
`_is_vision_dataset`); see docs/TRL.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow.parquet as pq
from datasets import Audio, Dataset, Features, Image, List, Value, Video

from processing.media import has_audio_track
from .schema import embedded_media, media_reference

VIEWS = ("messages", "preference")


def _turn_features() -> List:
    item = {"type": Value("string"), "text": Value("string"), "video": Video(), "audio": Audio()}
    return List({"role": Value("string"), "content": List(item)})


def view_features(view: str) -> Features:
    turns = {"messages": ("messages",), "preference": ("prompt", "chosen", "rejected")}[view]
    return Features({"id": Value("string"), "images": List(Image()), **{name: _turn_features() for name in turns}})


def _item(kind: str, *, text=None, video=None, audio=None) -> dict:
    return {"type": kind, "text": text, "video": video, "audio": audio}


def user_turn(record: Mapping, roots: Iterable[Path]) -> dict:
    """The user turn of `xemogpt explain` for a record: its video, its audio (own file or the video's track) and
    its subtitle, with the media files found under `roots`."""
    def find(relative):
        for root in roots:
            if (Path(root) / relative).is_file():
                return Path(root) / relative
        raise FileNotFoundError(f"row {record['id']}: media file {relative} not found")

    content = []
    video = find(media_reference(record["video"])) if record.get("video") else None
    audio = find(media_reference(record["audio"])) if record.get("audio") else None
    if video is not None:
        content.append(_item("video", video=embedded_media(video)))
    if audio is None and video is not None and has_audio_track(video):
        audio = video
    if audio is not None:
        content.append(_item("audio", audio=embedded_media(audio)))
    content.append(_item("text", text=record.get("subtitle") or ""))
    return {"role": "user", "content": content}


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": [_item("text", text=text)]}]


def view_rows(view: str, records: Iterable[Mapping], roots: Iterable[Path]) -> list[dict]:
    rows = []
    for record in records:
        if view == "messages" and record.get("explanation"):
            rows.append({"id": record["id"], "images": [],
                         "messages": [user_turn(record, roots), *_assistant(record["explanation"])]})
        elif view == "preference" and record.get("explanation") and record.get("rejected"):
            rows.append({"id": record["id"], "images": [], "prompt": [user_turn(record, roots)],
                         "chosen": _assistant(record["explanation"]), "rejected": _assistant(record["rejected"])})
    return rows


def write_views(dataset_dir: Path, split: str, roots: Iterable[Path], chunk_rows: int = 256) -> None:
    """Write every view of `dataset_dir/data/<split>.parquet` (media looked up under `roots`), a chunk of rows at a
    time so that memory stays bounded by `chunk_rows` clips."""
    from .card import DATA_DIR

    dataset_dir, roots = Path(dataset_dir), [Path(r) for r in roots]
    source = pq.ParquetFile(dataset_dir / DATA_DIR / f"{split}.parquet")
    for view in VIEWS:
        features = view_features(view)
        (dataset_dir / DATA_DIR / view).mkdir(parents=True, exist_ok=True)
        target = dataset_dir / DATA_DIR / view / f"{split}.parquet"
        writer = None
        try:
            for batch in source.iter_batches(batch_size=chunk_rows):
                rows = view_rows(view, batch.to_pylist(), roots)
                if rows:
                    table = Dataset.from_list(rows, features=features).data.table
                    writer = writer or pq.ParquetWriter(target, table.schema)
                    writer.write_table(table)
            if writer is None:  # no rows for this view
                pq.write_table(Dataset.from_dict({name: [] for name in features}, features=features).data.table, target)
        finally:
            if writer is not None:
                writer.close()


def view_data_files(dataset_dir) -> dict[str, dict[str, str]]:
    """{view: {split: "data/<view>/<split>.parquet"}} of the views a folder has."""
    from .card import DATA_DIR
    from .schema import sort_splits

    out = {}
    for view in VIEWS:
        files = {f.stem: f for f in Path(dataset_dir, DATA_DIR, view).glob("*.parquet")}
        if files:
            out[view] = {split: f"{DATA_DIR}/{view}/{files[split].name}" for split in sort_splits(files)}
    return out
