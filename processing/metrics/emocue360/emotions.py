"""The emotion vocabulary, and what the metric does with it: label groups, mentions in free text, accuracy.

This module is the one home of emotion words. Besides the metric's synonym groups it lists the words the data
writes: each emotion's adjective (its label) and noun, other common adjectives and nouns (EmoCue-Synth's
paraphrases and the DPO "wrong_emotion" corruption, in processing/data, take theirs from here) and the words a
basic emotional cue may name (canonical.py).

Labels are compared by *group*: "joyful" and "happy" are the same answer. A label outside every group is
compared as itself (lower-cased, stripped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# canonical label → words of the same group (adjectives, nouns and adverbs)
EMOTION_GROUPS: dict[str, tuple[str, ...]] = {
    "happy": ("happy", "happiness", "happily", "joyful", "joy", "joyous", "joyfully", "glad", "gladness", "pleased",
              "delighted", "delight", "cheerful", "cheerfully", "cheer", "elated", "elation", "amused", "amusement",
              "excited", "excitement", "content", "contented", "contentment"),
    "sad": ("sad", "sadness", "sadly", "unhappy", "unhappiness", "sorrowful", "sorrow", "grief", "grieving",
            "depressed", "melancholy", "gloomy", "upset", "heartbroken", "disappointed", "disappointment", "dejected",
            "despair", "miserable"),
    "angry": ("angry", "anger", "angrily", "annoyed", "annoyance", "irritated", "irritation", "furious", "fury",
              "mad", "rage", "enraged", "frustrated", "frustration", "irate", "hostile", "resentful", "resentment"),
    "surprised": ("surprised", "surprise", "surprising", "astonished", "astonishment", "amazed", "amazement",
                  "shocked", "startled", "stunned"),
    "fearful": ("fearful", "fear", "afraid", "scared", "frightened", "terrified", "terror", "panic", "panicked",
                "fright"),
    "worried": ("worried", "worry", "worrying", "anxious", "anxiety", "anxiously", "nervous", "nervousness",
                "nervously", "concerned", "uneasy", "unease", "apprehensive", "apprehension", "stressed"),
    "neutral": ("neutral", "calm", "calmness", "calmly", "composed", "indifferent", "serene", "unemotional",
                "emotionless", "impassive"),
    "disgusted": ("disgusted", "disgust", "repulsed", "revulsion", "disgusting"),
    "contempt": ("contempt", "contemptuous", "disdain", "scornful", "scorn"),
    "embarrassed": ("embarrassed", "embarrassment", "ashamed", "shame", "sheepish"),
}

# The emotions explanations name: label (an adjective) → its noun. EmoCue-Synth's labels are among them.
EMOTION_NOUNS = {"happy": "happiness", "sad": "sadness", "angry": "anger", "surprised": "surprise", "fearful": "fear",
                 "worried": "worry", "disgusted": "disgust", "neutral": "neutrality", "contemptuous": "contempt"}
# Other common adjectives and nouns, each standing for one of those labels.
EMOTION_SYNONYMS = {
    "adjective": {
        "cheerful": "happy", "joyful": "happy", "glad": "happy", "pleased": "happy", "delighted": "happy",
        "upset": "sad", "unhappy": "sad", "sorrowful": "sad", "depressed": "sad",
        "furious": "angry", "annoyed": "angry", "irritated": "angry", "frustrated": "angry",
        "astonished": "surprised", "amazed": "surprised", "shocked": "surprised",
        "scared": "fearful", "afraid": "fearful", "frightened": "fearful", "terrified": "fearful",
        "anxious": "worried", "nervous": "worried", "calm": "neutral",
    },
    "noun": {"joy": "happy", "sorrow": "sad", "rage": "angry", "anxiety": "worried", "fright": "fearful"},
}
# The emotion words a basic emotional cue may name ("the voice carries joy"), each → the adjective its canonical
# statement uses ("The voice sounds happy."): every label and its noun ("neutrality" aside), a few synonyms as
# they are, and a few nouns by their own adjective.
CUE_EMOTION_WORDS = {
    **{label: label for label in EMOTION_NOUNS},
    **{noun: label for label, noun in EMOTION_NOUNS.items() if label != "neutral"},
    **{word: word for word in ("afraid", "scared", "anxious", "nervous", "joyful", "annoyed", "frustrated", "calm")},
    "joy": "happy", "sorrow": "sad", "anxiety": "anxious", "calmness": "calm",
}

_WORD_TO_GROUP = {word: group for group, words in EMOTION_GROUPS.items() for word in words}
# words too ambiguous to count as an emotion when they occur in running text (labels still map)
_AMBIGUOUS_IN_TEXT = {"content", "cheer", "mad", "surprising", "disgusting", "concerned", "worrying", "shame"}
_WORD_RE = re.compile(r"[a-z]+(?:-[a-z]+)?")
_NEGATORS = {"not", "no", "never", "nor", "without", "hardly", "barely", "isn't", "wasn't", "doesn't", "don't",
             "pretend", "pretends", "pretending", "feign", "feigns", "feigning", "fake", "faked", "forced", "mock"}
_NEGATING_PHRASES = ("rather than", "instead of", "pretending to be", "trying to look", "trying to appear",
                     "trying to seem", "than", "lack of", "free of")


def normalize_emotion(label) -> str | None:
    """The canonical group of a label ("Joyful" → "happy"); unknown labels come back lower-cased; '' → None."""
    if label is None:
        return None
    text = str(label).strip().lower()
    if not text:
        return None
    if text in _WORD_TO_GROUP:
        return _WORD_TO_GROUP[text]
    for word in _WORD_RE.findall(text):  # "very happy", "happy/joyful"
        if word in _WORD_TO_GROUP:
            return _WORD_TO_GROUP[word]
    return text


def emotion_mentions(text: str) -> list[tuple[int, str, str]]:
    """Non-negated emotion words in ``text``: (character offset, word, group), in order.

    A word is negated when one of "not", "no", "never", "without", "pretending", "forced", … is among the three
    words before it, or a phrase such as "rather than"/"instead of" directly precedes it.
    """
    lowered = text.lower().replace("’", "'")
    found = []
    tokens = list(re.finditer(r"[a-z']+(?:-[a-z]+)?", lowered))
    for index, match in enumerate(tokens):
        word = match.group(0)
        group = _WORD_TO_GROUP.get(word)
        if group is None or word in _AMBIGUOUS_IN_TEXT:
            continue
        before = [t.group(0) for t in tokens[max(0, index - 3):index]]
        if any(b in _NEGATORS or b.endswith("n't") for b in before):
            continue
        prefix = lowered[max(0, match.start() - 24):match.start()].strip()
        if any(prefix.endswith(phrase) for phrase in _NEGATING_PHRASES):
            continue
        found.append((match.start(), word, group))
    return found


def emotion_scores(references: Mapping[str, str], predictions: Mapping[str, str | None],
                   mentioned: Mapping[str, set[str]] | None = None) -> dict:
    """Label accuracy over the ids with a reference label: ``{"accuracy", "n"[, "hit_rate"]}``.

    accuracy: the predicted label's group equals the reference's (a missing prediction is wrong).
    hit_rate (when ``mentioned`` maps id → groups mentioned anywhere in the prediction's emotional part): the
    reference group is the predicted one or among those — lenient, for explanations naming several emotions.
    """
    ids = [key for key, label in references.items() if normalize_emotion(label) is not None]
    correct = sum(normalize_emotion(predictions.get(key)) == normalize_emotion(references[key]) for key in ids)
    out = {"accuracy": correct / len(ids) if ids else None, "n": len(ids)}
    if mentioned is not None:
        hits = sum(normalize_emotion(references[key]) in ({normalize_emotion(predictions.get(key))} | set(mentioned.get(key) or ()))
                   for key in ids)
        out["hit_rate"] = hits / len(ids) if ids else None
    return out
