"""The emotion of a clip, derived from its cue factors by explicit rules (documented in README.md).

Each modality is read on its own (first matching rule wins), then the readings are combined. Nuisance
factors, timing and seeds are never looked at.
"""

from __future__ import annotations

from typing import NamedTuple

NEGATIVE_VOCAL = ("sad", "worried", "fearful")


class EmotionReading(NamedTuple):
    emotion: str  # one of factors.EMOTIONS
    visual: str  # what the face alone suggests
    vocal: str  # what the voice alone suggests
    textual: str  # what the subtitle alone suggests ("sarcastic" for sarcasm)
    conflicts: tuple[str, ...]  # cross-modal conflicts that decided the emotion ("forced smile", "sarcasm")
    rule: str  # the combination rule that fired (F1..F5)


def visual_reading(f) -> str:
    """V1..V9: the face (mouth, brows, eyes, tears); head motion and dynamics never change it."""
    if f.tears:
        return "sad"  # V1
    if f.mouth == "smile" and f.brows != "furrowed":
        return "happy"  # V2
    if f.mouth == "open" and (f.brows == "raised" or f.eyes == "wide"):
        return "surprised"  # V3
    if f.eyes == "wide" and (f.brows == "furrowed" or f.mouth == "tight-lipped"):
        return "fearful"  # V4
    if f.brows == "furrowed" and (f.mouth in ("tight-lipped", "frown") or f.eyes == "narrowed"):
        return "angry"  # V5
    if f.mouth == "frown":
        return "sad"  # V6
    if f.brows == "furrowed":
        return "worried"  # V7 (includes a smile under furrowed brows)
    if f.brows == "raised" and f.eyes == "wide":
        return "surprised"  # V8
    return "neutral"  # V9


def vocal_reading(f) -> str:
    """A1..A9: the voice (pitch level, contour, loudness, tempo, tremor, events)."""
    if f.event == "laughter":
        return "happy"  # A1
    if f.event == "sigh":
        return "sad" if (f.pitch == "low" or f.tempo == "slow") else "worried"  # A2
    if f.tremor == "trembling":
        if f.pitch == "high":
            return "fearful"  # A3
        return "sad" if f.pitch == "low" else "worried"  # A4
    if f.pitch == "high" and f.contour == "rising" and f.loudness != "soft":
        return "surprised"  # A5
    if f.loudness == "loud" and f.pitch != "high":
        return "angry"  # A6
    if f.pitch == "high" and f.tempo == "fast":
        return "happy"  # A7
    if f.pitch == "low" and f.tempo == "slow" and f.loudness != "loud":
        return "sad"  # A8
    return "neutral"  # A9


TEXT_READING = {"positive": "happy", "negative": "sad", "neutral": "neutral", "question": "neutral",
                "sarcastic": "sarcastic"}


def derive_emotion(f) -> EmotionReading:
    """F1..F5: combine the three readings into one emotion label."""
    v, a, t = visual_reading(f), vocal_reading(f), TEXT_READING[f.sentiment]
    if f.mouth == "smile" and a in NEGATIVE_VOCAL:
        # F1 forced smile: a smile over a sad/worried/fearful voice; the voice tells the real feeling.
        return EmotionReading(a, v, a, t, ("forced smile",), "F1")
    if t == "sarcastic" and v != "happy" and a != "happy":
        # F2 sarcasm: cheerful words without a cheerful face or voice (with one they read as playful: F3/F4).
        return EmotionReading("contemptuous", v, a, t, ("sarcasm",), "F2")
    if v != "neutral":
        return EmotionReading(v, v, a, t, (), "F3")  # F3 the face leads when it shows an emotion
    if a != "neutral":
        return EmotionReading(a, v, a, t, (), "F4")  # F4 otherwise the voice
    return EmotionReading(t, v, a, t, (), "F5")  # F5 neither face nor voice: the words decide
