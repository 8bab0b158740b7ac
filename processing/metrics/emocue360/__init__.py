"""EmoCue-360: cue-level precision / recall / F1 of emotion explanations (ARCHITECTURE.md §4), cue extractors,
emotion-label accuracy and reports. See README.md in this folder.

Importing this package is cheap (no torch / sentence-transformers until something is embedded or an hf
extractor is built), so ``parse_explanation`` and ``extract_emotion`` can be used anywhere.
"""

from .cues import (
    CATEGORIES,
    SUBTITLE_CUE_RULE,
    is_subtitle_cue,
    is_subtitle_cue_paper,
    load_cue_file,
    validate_cue_file,
    validate_cue_set,
)
from .emotions import EMOTION_GROUPS, emotion_mentions, emotion_scores, normalize_emotion
from .extractors import ExtractorError, HFExtractor, OpenAIExtractor, RuleExtractor, get_extractor, parse_cue_json
from .records import evaluate, read_records
from .report import format_table, markdown_report, write_report
from .rules import emotions_mentioned, extract_emotion, parse_explanation, split_sentences
from .scorer import (
    DEFAULT_EMBEDDER,
    CategoryScore,
    EmoCue360,
    EmoCue360Result,
    EmoCue360Warning,
    SampleScore,
    align_ids,
    load_embedder,
    score_cues,
)

__all__ = [
    "CATEGORIES",
    "DEFAULT_EMBEDDER",
    "EMOTION_GROUPS",
    "SUBTITLE_CUE_RULE",
    "CategoryScore",
    "EmoCue360",
    "EmoCue360Result",
    "EmoCue360Warning",
    "ExtractorError",
    "HFExtractor",
    "OpenAIExtractor",
    "RuleExtractor",
    "SampleScore",
    "align_ids",
    "emotion_mentions",
    "emotion_scores",
    "emotions_mentioned",
    "evaluate",
    "extract_emotion",
    "format_table",
    "get_extractor",
    "is_subtitle_cue",
    "is_subtitle_cue_paper",
    "load_cue_file",
    "load_embedder",
    "markdown_report",
    "normalize_emotion",
    "parse_cue_json",
    "parse_explanation",
    "read_records",
    "score_cues",
    "split_sentences",
    "validate_cue_file",
    "validate_cue_set",
    "write_report",
]
