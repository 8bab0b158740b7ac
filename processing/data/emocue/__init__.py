"""EmoCue data: the record schema, the on-disk layout and its writer, loaders, converters from the published
formats, validation, DPO preference pairs and dataset cards."""

from .card import make_dataset_card
from .convert import (
    convert_published,
    merge_annotations,
    read_cue_json,
    read_emer_csv,
    read_mercaption_csv,
    read_subtitle_csv,
)
from .dpo import KINDS as REJECTION_KINDS
from .dpo import build_rejected, make_preference_pairs
from .layout import EmoCueWriter, write_emocue
from .load import load_emocue
from .schema import CUE_CATEGORIES, FEATURES, KNOWN_SPLITS, normalize_record, validate_record
from .validation import ValidationReport, validate_dataset

__all__ = [
    "CUE_CATEGORIES",
    "FEATURES",
    "KNOWN_SPLITS",
    "REJECTION_KINDS",
    "EmoCueWriter",
    "ValidationReport",
    "build_rejected",
    "convert_published",
    "load_emocue",
    "make_dataset_card",
    "make_preference_pairs",
    "merge_annotations",
    "normalize_record",
    "read_cue_json",
    "read_emer_csv",
    "read_mercaption_csv",
    "read_subtitle_csv",
    "validate_dataset",
    "validate_record",
    "write_emocue",
]
