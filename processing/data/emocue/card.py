"""Dataset cards for EmoCue datasets: split sizes, features, emotion distribution, licence, media caveat.

The text lives in `hub_cards/dataset_card_template.md` (Jinja, rendered by huggingface_hub); this module
computes what goes into it. The card's YAML `configs` lists the Parquet files so that
`datasets.load_dataset(folder)` reads exactly them, whatever media files sit beside them.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from datasets import Audio, Dataset, DatasetDict, Features, Video
from huggingface_hub import DatasetCard, DatasetCardData

from hub_cards import DATASET_CARD_TEMPLATE

from processing.errors import DatasetError
from .schema import COLUMN_DESCRIPTIONS, FEATURES, sort_splits

EMBEDDED_DESCRIPTIONS = {
    "video": "the clip (file bytes; its path names the copy under media/)",
    "audio": "separate audio file (file bytes); null: the video's own audio track",
}

TEMPLATE_PATH = DATASET_CARD_TEMPLATE
DATA_DIR = "data"


def split_data_files(dataset_dir: str | os.PathLike) -> dict[str, str]:
    """{split: "data/<split>.parquet"} for the Parquet files of an EmoCue folder, in `sort_splits` order."""
    files = {f.stem: f for f in Path(dataset_dir, DATA_DIR).glob("*.parquet")}
    return {split: f"{DATA_DIR}/{files[split].name}" for split in sort_splits(files)}


def data_fingerprint(dataset_dir: str | os.PathLike) -> str:
    """A short hash of the folder's Parquet files (names and bytes)."""
    digest = hashlib.sha256()
    for split, path in split_data_files(dataset_dir).items():
        digest.update(split.encode() + b"\0")
        with open(Path(dataset_dir, path), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def configs_yaml(dataset_dir: str | os.PathLike) -> list[dict]:
    """The card's `configs` entry: one default config whose data files are exactly the Parquet splits.

    Its description carries a fingerprint of the data: `datasets` keys the cache of a folder loaded through
    its card on the card's YAML only (not on the files' mtimes), so a rewritten split with the same row
    count and byte size would otherwise load the stale cached copy."""
    from .trl_views import view_data_files

    data_files = split_data_files(dataset_dir)
    views = {
        "messages": "TRL conversational view for SFT (`trl sft --dataset_config messages`): media as Video / Audio",
        "preference": "TRL preference view for DPO: prompt / chosen / rejected, media as Video / Audio",
    }
    return [
        {
            "config_name": "default",
            "data_files": [{"split": split, "path": path} for split, path in data_files.items()],
            "description": f"EmoCue records (data fingerprint {data_fingerprint(dataset_dir)})",
        },
        *({"config_name": view, "data_files": [{"split": split, "path": path} for split, path in files.items()],
           "description": views[view]} for view, files in view_data_files(dataset_dir).items()),
    ]


def dataset_info_yaml(dataset_dir: str | os.PathLike, features: Features = FEATURES) -> dict:
    """The card's `dataset_info`: features, rows and bytes per split (`datasets` checks the row counts when
    it loads the folder)."""
    splits, download_size = [], 0
    for split, path in split_data_files(dataset_dir).items():
        metadata = pq.ParquetFile(Path(dataset_dir, path)).metadata
        num_bytes = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        splits.append({"name": split, "num_bytes": num_bytes, "num_examples": metadata.num_rows})
        download_size += Path(dataset_dir, path).stat().st_size
    return {
        "features": features._to_yaml_list(),
        "splits": splits,
        "download_size": download_size,
        "dataset_size": sum(s["num_bytes"] for s in splits),
    }


def _statistics(source) -> tuple[dict[str, int], dict[str, Counter], Features]:
    """(rows per split, emotion counts per split, features) of a folder, Dataset or DatasetDict."""
    if isinstance(source, (str, os.PathLike)):
        data_files = split_data_files(source)
        if not data_files:
            raise DatasetError(f"{source}: no {DATA_DIR}/*.parquet files; is this an EmoCue dataset folder?")
        counts, emotions = {}, {}
        for split, path in data_files.items():
            table = pq.read_table(Path(source, path), columns=["emotion"])
            counts[split] = table.num_rows
            emotions[split] = Counter(table.column("emotion").to_pylist())
        return counts, emotions, Features.from_arrow_schema(pq.read_schema(Path(source, path)))
    if isinstance(source, Dataset):
        source = DatasetDict({(str(source.split) if source.split else "train"): source})
    if isinstance(source, DatasetDict):
        counts = {split: ds.num_rows for split, ds in source.items()}
        emotions = {
            split: Counter(ds["emotion"] if "emotion" in ds.column_names else []) for split, ds in source.items()
        }
        features = next(iter(source.values())).features if len(source) else FEATURES
        return counts, emotions, features
    raise DatasetError(f"make_dataset_card: expected a dataset folder, Dataset or DatasetDict, got {type(source)}")


def _dtype(feature) -> str:
    if isinstance(feature, (Video, Audio)):
        return f"{type(feature).__name__}()"
    if isinstance(feature, dict):
        return "struct of " + ", ".join(f"{key}: {_dtype(value)}" for key, value in feature.items())
    if hasattr(feature, "feature"):  # List / Sequence
        return f"list of {_dtype(feature.feature)}"
    return getattr(feature, "dtype", type(feature).__name__)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def make_dataset_card(
    dataset_dir_or_ds,
    *,
    name: str,
    license: str,
    description: str,
    media_caveat: bool = True,
    repo_id: str | None = None,
) -> DatasetCard:
    """A filled dataset card for an EmoCue dataset.

    dataset_dir_or_ds: an EmoCue folder (`data/<split>.parquet`; its card then also gets the `configs`
        that make `load_dataset(folder)` read those files), a `Dataset` or a `DatasetDict`.
    name: pretty name; license: a Hub licence id (e.g. "cc-by-nc-4.0", "other"); description: a paragraph.
    media_caveat: say that the clips are not included and must be obtained from their owners.
    repo_id: Hub id used in the usage snippets (default: `name`).
    """
    counts, emotions, features = _statistics(dataset_dir_or_ds)
    total = sum(counts.values())
    folder_yaml = {}
    if isinstance(dataset_dir_or_ds, (str, os.PathLike)):
        folder_yaml = {
            "configs": configs_yaml(dataset_dir_or_ds),
            "dataset_info": dataset_info_yaml(dataset_dir_or_ds, features),
        }
    card_data = DatasetCardData(
        pretty_name=name,
        license=license,
        language=["en"],
        task_categories=["video-text-to-text"],
        tags=["emotion-recognition", "explainable-ai", "multimodal", "emocue", "xemogpt"],
        size_categories=[_size_category(total)],
        **folder_yaml,
    )
    all_emotions = sorted({e for per_split in emotions.values() for e in per_split if e is not None})
    emotion_counts = {e: {split: emotions[split][e] for split in counts} for e in all_emotions}
    unlabelled = {split: emotions[split][None] for split in counts if emotions[split][None]}
    if unlabelled and all_emotions:
        emotion_counts["(none)"] = unlabelled
    embedded = {column for column, feature in features.items() if isinstance(feature, (Video, Audio))}
    descriptions = {**COLUMN_DESCRIPTIONS, **EMBEDDED_DESCRIPTIONS} if embedded else COLUMN_DESCRIPTIONS
    feature_rows = [(column, _dtype(feature), descriptions.get(column, "")) for column, feature in features.items()]
    license_text = f"The annotations are released under `{license}`."
    if media_caveat:
        license_text += " The media they describe are not covered by this licence; see the media section above."
    template = dict(
        pretty_name=name,
        description=description.strip(),
        media_caveat=media_caveat,
        repo_id=repo_id or name,
        first_split=next(iter(counts), "train"),
        split_counts=counts,
        total_rows=total,
        emotion_counts=emotion_counts,
        features=feature_rows,
        media_embedded=bool(embedded),
        license_text=license_text,
    )
    if TEMPLATE_PATH.is_file():
        return DatasetCard.from_template(card_data, template_path=str(TEMPLATE_PATH), **template)
    # Installed without the repository's hub_cards/ folder: a bare card that still carries the YAML.
    body = f"# {name}\n\n{description.strip()}\n\n" + "".join(f"* {s}: {n} rows\n" for s, n in counts.items())
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}")
