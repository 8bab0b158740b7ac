"""Preference pairs for DPO: the reference explanation (chosen) against a corrupted copy of it (rejected).

Three corruptions, each a failure the design wants the model to unlearn:

* `hallucinated_cue` — a plausible cue that the record does not have is stated, in its own modality;
* `wrong_modality` — a cue the record has is attributed to the other modality (a smile "heard" in the voice);
  when the explanation is written as "In the video, … In the audio, …" the two openings are swapped instead;
* `wrong_emotion` — the emotion is replaced by a contradicting one (or one is asserted when none is named).

All three work on any record with an explanation; `wrong_modality` needs a visual or auditory cue or the two
openings. The choice is deterministic in (seed, record id).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

import datasets

from processing.errors import DatasetError
from processing.metrics.emocue360.emotions import EMOTION_NOUNS, EMOTION_SYNONYMS
from .schema import CUE_CATEGORIES

KINDS = ("hallucinated_cue", "wrong_modality", "wrong_emotion")

# Plausible cues to hallucinate, per modality, each with the word stems that mark its facial feature or vocal
# property as already described (a record that mentions brows at all gets no eyebrow hallucination).
CUE_VOCABULARY = {
    "visual": (
        ("the person is smiling", ("smil", "grin")),
        ("the person is frowning", ("frown", "scowl")),
        ("the mouth is wide open", ("mouth",)),
        ("the lips are pressed tightly together", ("lip",)),
        ("the eyebrows are raised", ("brow",)),
        ("the eyebrows are furrowed", ("brow",)),
        ("the eyes are wide open", ("eye",)),
        ("the eyes are narrowed", ("eye",)),
        ("the person is nodding", ("nod",)),
        ("the person is shaking their head", ("shak",)),
        ("the person turns their head away", ("turn",)),
        ("tears are running down the cheeks", ("tear", "cry")),
        ("the person clenches their fists", ("fist", "hand")),
    ),
    "auditory": (
        ("the voice is loud", ("loud", "soft", "quiet", "volume")),
        ("the voice is soft", ("loud", "soft", "quiet", "volume")),
        ("the pitch is high", ("pitch", "high")),
        ("the pitch is low", ("pitch", "low")),
        ("the speech is fast", ("fast", "quick", "rapid", "slow", "tempo", "pace")),
        ("the speech is slow", ("fast", "quick", "rapid", "slow", "tempo", "pace")),
        ("the voice is trembling", ("trembl", "shak", "quiver")),
        ("there is laughter", ("laugh", "giggl", "chuckl")),
        ("the person sighs", ("sigh",)),
        ("the voice breaks", ("break", "crack")),
    ),
}
_OTHER_MODALITY = {"visual": "auditory", "auditory": "visual"}
# Sentences stating a vocabulary cue (a clause) in its modality ...
_STATEMENT = {
    "visual": ("In the video, {cue}.", "The video also shows that {cue}.", "Visually, {cue}."),
    "auditory": ("In the audio, {cue}.", "The audio also reveals that {cue}.", "In the voice, {cue}."),
}
# ... and attributing one of the record's cues (any phrase) to a modality.
_ATTRIBUTION = {
    "visual": ("{Cue}, as the video shows.", "{Cue}, which is visible in the video."),
    "auditory": ("{Cue}, as the audio reveals.", "{Cue}, which can be heard in the audio."),
}

# The labels contradicting each label: "wrong_emotion" writes one of them in place of the emotion an explanation
# names, in the same part of speech (the words: emotions.EMOTION_NOUNS and EMOTION_SYNONYMS).
CONTRADICTIONS = {
    "happy": ("sad", "angry", "fearful"),
    "sad": ("happy", "surprised"),
    "angry": ("happy", "neutral"),
    "surprised": ("neutral", "sad"),
    "fearful": ("happy", "angry"),
    "worried": ("happy", "angry"),
    "disgusted": ("happy", "neutral"),
    "neutral": ("angry", "happy", "sad"),
    "contemptuous": ("happy", "fearful"),
}
_SWAPPED_OPENINGS = {"in the video": "in the audio", "in the audio": "in the video"}


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip()


def _cues(record: Mapping) -> dict[str, list[str]]:
    cues = record.get("cues") or {}
    return {c: [cue for cue in (cues.get(c) or []) if isinstance(cue, str) and cue.strip()] for c in CUE_CATEGORIES}


def _insert(explanation: str, statement: str, rng: random.Random) -> str:
    """`statement` placed at a sentence boundary of `explanation` (never after an "Overall" conclusion)."""
    sentences = re.split(r"(?<=[.!?])\s+", explanation.strip())
    last = len(sentences)
    if last > 1 and re.match(r"(overall|in summary|in conclusion|therefore)", sentences[-1], re.I):
        last -= 1
    position = rng.randint(1, last) if last >= 1 else 0
    return " ".join(sentences[:position] + [statement] + sentences[position:])


def _hallucinated_cue(record, explanation, rng) -> str | None:
    present = " ".join(_normalise(cue) for cues in _cues(record).values() for cue in cues)
    words = (_normalise(explanation) + " " + present).split()
    first = rng.choice(("visual", "auditory"))
    for modality in (first, _OTHER_MODALITY[first]):
        candidates = [cue for cue, stems in CUE_VOCABULARY[modality] if not any(w.startswith(stems) for w in words)]
        if candidates:
            cue = rng.choice(candidates)
            return _insert(explanation, rng.choice(_STATEMENT[modality]).format(cue=cue), rng)
    return None


def _wrong_modality(record, explanation, rng) -> str | None:
    openings = re.findall(r"\bin the (?:video|audio)\b", explanation, flags=re.I)
    if {o.lower() for o in openings} == set(_SWAPPED_OPENINGS):
        def swap(match):
            new = _SWAPPED_OPENINGS[match.group(0).lower()]
            return new[0].upper() + new[1:] if match.group(0)[0].isupper() else new

        return re.sub(r"\bin the (?:video|audio)\b", swap, explanation, flags=re.I)
    cues = _cues(record)
    choices = [(m, cue) for m in ("visual", "auditory") for cue in cues[m]]
    if not choices:
        return None
    modality, cue = rng.choice(choices)
    cue = cue.strip().rstrip(".")
    statement = rng.choice(_ATTRIBUTION[_OTHER_MODALITY[modality]]).format(Cue=cue[:1].upper() + cue[1:])
    return _insert(explanation, statement, rng)


# word -> (label, 0 for an adjective / 1 for a noun)
_EMOTION_WORDS = {
    **{form: (label, i) for label, noun in EMOTION_NOUNS.items() for i, form in enumerate((label, noun))},
    **{word: (label, i) for i, group in enumerate(("adjective", "noun"))
       for word, label in EMOTION_SYNONYMS[group].items()},
}


def _wrong_emotion(record, explanation, rng) -> str | None:
    words = _EMOTION_WORDS
    named = [m for m in re.finditer(r"[A-Za-z]+", explanation) if m.group(0).lower() in words]
    label = (record.get("emotion") or "").strip().lower()
    if named:
        # every word for the last-named (usually the concluded) emotion becomes one contradicting it
        emotion = words[named[-1].group(0).lower()][0]
        wrong = rng.choice(CONTRADICTIONS[emotion])

        def replace(match):
            word = match.group(0)
            meaning = words.get(word.lower())
            if meaning is None or meaning[0] != emotion:
                return word
            form = (wrong, EMOTION_NOUNS[wrong])[meaning[1]]
            return form.capitalize() if word[0].isupper() else form

        return re.sub(r"[A-Za-z]+", replace, explanation)
    wrong = rng.choice(CONTRADICTIONS.get(label, tuple(e for e in EMOTION_NOUNS if e != label)))
    return explanation.rstrip() + f" Overall, the person appears {wrong}."


_BUILDERS = {"hallucinated_cue": _hallucinated_cue, "wrong_modality": _wrong_modality, "wrong_emotion": _wrong_emotion}


def build_rejected_with_kind(record: Mapping, seed: int, kind: str | None = None) -> tuple[str, str]:
    """(rejected explanation, the kind used); see `build_rejected`."""
    explanation = record.get("explanation")
    if not isinstance(explanation, str) or not explanation.strip():
        raise DatasetError(f"row {record.get('id')}: no explanation to build a rejected one from")
    if kind is not None and kind not in _BUILDERS:
        raise DatasetError(f"unknown rejection kind {kind!r}: use one of {list(KINDS)}")
    rng = random.Random(f"{seed}|{record.get('id')}")
    kinds = [kind] if kind is not None else rng.sample(KINDS, len(KINDS))
    for name in kinds:
        rejected = _BUILDERS[name](record, explanation, rng)
        if rejected is not None and rejected.strip() != explanation.strip():
            return rejected, name
    raise DatasetError(
        f"row {record.get('id')}: cannot build a {kind or 'rejected'} explanation (no visual or auditory cue to move)"
    )


def build_rejected(record: Mapping, seed: int, kind: str | None = None) -> str:
    """A rejected explanation for `record`: its explanation corrupted by `kind` (one of KINDS; None: chosen
    by seed among those that apply). Deterministic in (seed, record["id"]); always differs from the
    explanation. Raises DatasetError when the record has no explanation or `kind` cannot apply to it."""
    return build_rejected_with_kind(record, seed, kind)[0]


PAIR_COLUMNS = ("id", "video", "audio", "subtitle", "chosen", "rejected", "rejected_kind")


def make_preference_pairs(dataset, seed: int, *, kind: str | None = None, use_record_rejected: bool = True):
    """DPO pairs from EmoCue records: columns id, video, audio, subtitle, chosen (the explanation), rejected,
    rejected_kind — no prompt (the DPO collator builds it from the media and subtitle).

    dataset: a Dataset / IterableDataset (or a DatasetDict of them) of EmoCue records.
    kind: force one corruption (see KINDS); None: chosen per row by seed.
    use_record_rejected: keep a record's own `rejected` (EmoCue-Synth writes one) when it is set and
        differs from its explanation (rejected_kind "record").
    """
    if isinstance(dataset, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        return type(dataset)(
            {split: make_preference_pairs(ds, seed, kind=kind, use_record_rejected=use_record_rejected)
             for split, ds in dataset.items()}
        )

    def pair(record):
        own = record.get("rejected")
        if use_record_rejected and kind is None and own and own.strip() != (record["explanation"] or "").strip():
            rejected, rejected_kind = own, "record"
        else:
            rejected, rejected_kind = build_rejected_with_kind(record, seed, kind)
        return {
            "id": record["id"],
            "video": record.get("video"),
            "audio": record.get("audio"),
            "subtitle": record.get("subtitle") or "",
            "chosen": record["explanation"],
            "rejected": rejected,
            "rejected_kind": rejected_kind,
        }

    features = datasets.Features({column: datasets.Value("string") for column in PAIR_COLUMNS})
    if dataset.column_names:
        return dataset.map(pair, features=features, remove_columns=dataset.column_names)
    return dataset.map(pair, features=features).select_columns(list(PAIR_COLUMNS))
