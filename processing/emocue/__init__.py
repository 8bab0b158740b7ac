"""EmoCue data: the record schema, the on-disk layout and its writer, loaders, converters from the published
formats, DPO preference pairs and dataset cards."""

from .card import make_dataset_card
from .layout import EmoCueWriter
from .schema import CUE_CATEGORIES, FEATURES, KNOWN_SPLITS, normalize_record, validate_record

__all__ = [
    "CUE_CATEGORIES",
    "FEATURES",
    "KNOWN_SPLITS",
    "EmoCueWriter",
    "make_dataset_card",
    "normalize_record",
    "validate_record",
]
