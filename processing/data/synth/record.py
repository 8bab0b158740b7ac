"""Texts of an EmoCue-Synth record: subtitle, explanation (paraphrased from the cue table), captions."""

from __future__ import annotations

import numpy as np

from .cues import CUE_TABLE, EXPRESSION_NOUNS, SUBJECTS, VOICES, canonical_cues, cue_keys, expression_key
from .factors import Factors
from .rules import derive_emotion

SUBTITLES = {
    "positive": (
        "I can't believe we actually won the whole thing!", "This is the best news I've had all year.",
        "Thank you so much, this means a lot to me.", "We finally finished it, and it looks wonderful.",
        "I'm so glad you came, it's really good to see you.", "Guess what, I got the job!",
        "Everything went better than I ever hoped.", "What a lovely day to be outside."),
    "negative": (
        "I really thought it would work this time.", "Nobody called me back, not even once.",
        "I lost it, and I don't think I'll ever get it back.", "It's over, there's nothing left to do.",
        "I waited for hours and nobody came.", "They told me it was my fault.",
        "I can't do this anymore.", "Everything I planned fell apart today."),
    "neutral": (
        "The meeting starts at nine tomorrow morning.", "I put the keys on the kitchen table.",
        "The train leaves from platform four.", "We need two more chairs for the room.",
        "The report is in the second folder.", "I'll take the bus home after work.",
        "The shop closes at six on weekdays.", "It's about twenty minutes from here."),
    "question": (
        "Are you coming with us tonight?", "Did you see what happened over there?",
        "Why didn't you tell me earlier?", "Is this really the right address?",
        "What are we supposed to do now?", "Have you heard anything from them?",
        "Can you say that one more time?", "Where did you put the letter?"),
    "sarcastic": (
        "Oh great, another meeting, just what I needed.", "Wow, what a wonderful surprise, the train is late again.",
        "Sure, because that always works so well.", "Oh perfect, it's raining on my day off.",
        "Brilliant idea, let's do it all again from the start.", "Yeah, I just love waiting in line for hours.",
        "Fantastic, the printer is broken again.", "Oh wonderful, more paperwork."),
}

HEAD_CAPTION = {"still": "keeping the head still", "nodding": "nodding", "shaking": "shaking the head",
                "turning away": "turning away"}
DYNAMICS_CAPTION = {"steady": "", "onset": "; the face is neutral until mid-clip",
                    "offset": "; the face turns neutral in mid-clip"}
AUDIO_ADJECTIVES = {
    "pitch": {"low": "low-pitched", "medium": "medium-pitched", "high": "high-pitched"},
    "contour": {"flat": "flat", "rising": "rising", "falling": "falling"},
    "loudness": {"soft": "soft", "normal": "normal-volume", "loud": "loud"},
    "tempo": {"slow": "slow", "normal": "normal-paced", "fast": "fast"},
    "tremor": {"steady": "steady", "trembling": "trembling"},
}
EVENT_CAPTION = {"none": "", "laughter": " with laughter", "sigh": " with a sigh"}
OVERALL_LINKS = (", so ", ", which suggests that ", "; taken together, ")


def _join(items: list[str], last: str = " and ") -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + last + items[-1]


def video_caption(f: Factors) -> str:
    """A short caption of the video alone (alignment stage 1)."""
    nouns = [EXPRESSION_NOUNS[(n, getattr(f, n))] for n in ("mouth", "brows", "eyes", "tears")
             if (n, getattr(f, n)) in EXPRESSION_NOUNS]
    return f"A person with {_join(nouns) if nouns else 'a neutral face'}, {HEAD_CAPTION[f.head]}" \
           f"{DYNAMICS_CAPTION[f.dynamics]}."


def audio_caption(f: Factors) -> str:
    """A short caption of the audio alone (alignment stage 2)."""
    adjectives = ", ".join(AUDIO_ADJECTIVES[n][getattr(f, n)] for n in AUDIO_ADJECTIVES)
    return f"A {adjectives} wordless voice{EVENT_CAPTION[f.event]}."


def _clause(key, rng: np.random.Generator, x: str) -> str:
    paraphrases = CUE_TABLE[key].paraphrases
    template = paraphrases[int(rng.integers(len(paraphrases)))]
    subjects = SUBJECTS[CUE_TABLE[key].category]
    subj, voice = subjects[int(rng.integers(len(subjects)))], VOICES[int(rng.integers(len(VOICES)))]
    return template.format(subj=subj, voice=voice, x=x)


def _sentences(clauses: list[str], rng: np.random.Generator) -> list[str]:
    """Group clauses into sentences of one or two clauses."""
    sentences, i = [], 0
    while i < len(clauses):
        if i + 1 < len(clauses) and rng.random() < 0.5:
            sentences.append(clauses[i] + (", and " if rng.random() < 0.6 else ", while ") + clauses[i + 1])
            i += 2
        else:
            sentences.append(clauses[i])
            i += 1
    return sentences


def _paragraph(opening: str, sentences: list[str]) -> str:
    first, rest = sentences[0], sentences[1:]
    return " ".join([f"{opening} {first}."] + [s[0].upper() + s[1:] + "." for s in rest])


def explanation(f: Factors, rng: np.random.Generator) -> str:
    """"In the video, ... In the audio, ... Overall, ..." with paraphrases drawn by `rng`."""
    keys = cue_keys(f)
    x = EXPRESSION_NOUNS.get(expression_key(f), "")
    visual = [_clause(k, rng, x) for k in keys["visual"]]
    auditory = [_clause(k, rng, x) for k in keys["auditory"]]
    reasons = [_clause(k, rng, x) for k in keys["emotional"][:-1]]
    verdict = _clause(keys["emotional"][-1], rng, x)
    overall = f"Overall, {_join(reasons, ', and ')}{OVERALL_LINKS[int(rng.integers(len(OVERALL_LINKS)))]}{verdict}."
    return " ".join([_paragraph("In the video,", _sentences(visual, rng)),
                     _paragraph("In the audio,", _sentences(auditory, rng)), overall])


def rejected_explanation(record: dict, seed: int) -> str | None:
    """The DPO `rejected` text from processing/data/emocue/dpo.py when that module is available, else None."""
    try:
        from processing.data.emocue.dpo import build_rejected
    except ImportError:
        return None
    return build_rejected(record, seed)


def make_record(factors: Factors, rng: np.random.Generator, *, id: str = "synth", split: str = "train",
                rejected_seed: int | None = None) -> dict:
    """One EmoCue row for `factors` (media paths `media/<id>.mp4|.wav`; texts drawn with `rng`).

    `rejected` is filled by processing.data.emocue.dpo.build_rejected when `rejected_seed` is given and that
    module exists; otherwise it is None.
    """
    record = {
        "id": id,
        "video": f"media/{id}.mp4",
        "audio": f"media/{id}.wav",
        "subtitle": SUBTITLES[factors.sentiment][int(rng.integers(len(SUBTITLES[factors.sentiment])))],
        "explanation": explanation(factors, rng),
        "cues": canonical_cues(factors),
        "emotion": derive_emotion(factors).emotion,
        "video_caption": video_caption(factors),
        "audio_caption": audio_caption(factors),
        "rejected": None,
        "split": split,
        "factors": factors.to_json(),
    }
    if rejected_seed is not None:
        record["rejected"] = rejected_explanation(record, rejected_seed)
    return record
