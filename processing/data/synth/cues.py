"""The canonical cue table: one short atomic statement per cue value, plus its paraphrases.

`CUE_TABLE[(factor, value)]` gives the category ("visual", "auditory", "emotional"), the canonical statement
(what `record["cues"]` holds) and the paraphrase clauses an explanation may use instead. Paraphrases are
lower-case clauses with placeholders `{subj}` (a person), `{voice}` (their voice) and, for dynamics, `{x}`
(the expression that appears/fades, from EXPRESSION_NOUNS). Every paraphrase maps back to exactly one
canonical statement, so `recover_cues(explanation)` returns the cues an explanation was written from.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .factors import EMOTIONS, has_expression
from .rules import derive_emotion


class Cue(NamedTuple):
    category: str
    statement: str
    paraphrases: tuple[str, ...]


# Who a clause is about, per category: visual clauses never say "the speaker" (a keyword-based cue extractor
# would read it as audio), auditory clauses may.
SUBJECTS = {"visual": ("the person", "the individual"), "auditory": ("the speaker", "the person"),
            "emotional": ("the person", "the speaker")}
VOICES = ("the voice", "the speaker's voice")

# What appears or fades when dynamics is onset/offset: the mouth if it shows something, else brows, eyes, tears.
EXPRESSION_NOUNS = {
    ("mouth", "smile"): "a smile", ("mouth", "frown"): "a frown", ("mouth", "open"): "an open mouth",
    ("mouth", "tight-lipped"): "pressed lips", ("brows", "raised"): "raised eyebrows",
    ("brows", "furrowed"): "furrowed brows", ("eyes", "wide"): "wide eyes", ("eyes", "narrowed"): "narrowed eyes",
    ("eyes", "closed"): "closed eyes", ("tears", True): "tears",
}

EMOTION_NOUNS = {"neutral": "calm", "happy": "happiness", "sad": "sadness", "angry": "anger",
                 "surprised": "surprise", "fearful": "fear", "worried": "worry", "contemptuous": "contempt"}

V, A, E = "visual", "auditory", "emotional"
CUE_TABLE: dict[tuple[str, object], Cue] = {
    # ---- video --------------------------------------------------------------------------------------------
    ("mouth", "smile"): Cue(V, "The person smiles.", (
        "{subj} smiles", "{subj} is smiling", "the corners of the mouth turn up", "{subj} wears a smile")),
    ("mouth", "frown"): Cue(V, "The person frowns.", (
        "{subj} frowns", "the corners of the mouth turn down", "the mouth is bent into a frown")),
    ("mouth", "open"): Cue(V, "The mouth is open.", (
        "the mouth is open", "{subj}'s mouth hangs open", "{subj} keeps the mouth open")),
    ("mouth", "tight-lipped"): Cue(V, "The lips are pressed tight.", (
        "the lips are pressed tight", "{subj} is tight-lipped", "{subj} presses the lips together")),
    ("brows", "raised"): Cue(V, "The eyebrows are raised.", (
        "the eyebrows are raised", "{subj} raises the eyebrows", "the brows are lifted")),
    ("brows", "furrowed"): Cue(V, "The brows are furrowed.", (
        "the brows are furrowed", "{subj} furrows the brows", "the eyebrows are drawn together")),
    ("eyes", "wide"): Cue(V, "The eyes are wide open.", (
        "the eyes are wide open", "{subj} stares with wide eyes", "{subj}'s eyes open wide")),
    ("eyes", "narrowed"): Cue(V, "The eyes are narrowed.", (
        "the eyes are narrowed", "{subj} narrows the eyes", "{subj} squints")),
    ("eyes", "closed"): Cue(V, "The eyes are closed.", (
        "the eyes are closed", "{subj} keeps the eyes shut", "the eyes are shut")),
    ("face", "neutral"): Cue(V, "The face is neutral.", (
        "the face is neutral", "{subj} shows no clear expression", "the face stays relaxed")),
    ("tears", True): Cue(V, "Tears run down the cheeks.", (
        "tears run down the cheeks", "tears roll down {subj}'s face", "there are tears on {subj}'s cheeks")),
    ("dynamics", "onset"): Cue(V, "The face changes from neutral to {x} in mid-clip.", (
        "the face changes from neutral to {x} in mid-clip", "{x} only appears halfway through the clip",
        "the face starts out neutral and shows {x} from the middle of the clip on")),
    ("dynamics", "offset"): Cue(V, "The face changes from {x} to neutral in mid-clip.", (
        "the face changes from {x} to neutral in mid-clip", "{x} fades away halfway through the clip",
        "the face shows {x} at first and relaxes to neutral in the middle of the clip")),
    ("head", "still"): Cue(V, "The head stays still.", (
        "the head stays still", "{subj} keeps the head still", "the head does not move")),
    ("head", "nodding"): Cue(V, "The person nods.", (
        "{subj} nods", "the head moves up and down", "{subj} nods repeatedly")),
    ("head", "shaking"): Cue(V, "The person shakes the head.", (
        "{subj} shakes the head", "the head moves from side to side", "{subj} keeps shaking the head")),
    ("head", "turning away"): Cue(V, "The person turns away.", (
        "{subj} turns away", "the head turns to the side", "{subj} looks away")),
    # ---- audio --------------------------------------------------------------------------------------------
    ("pitch", "low"): Cue(A, "The voice is low-pitched.", (
        "{voice} is low-pitched", "{voice} is deep", "{subj} speaks in a low voice")),
    ("pitch", "medium"): Cue(A, "The voice is medium-pitched.", (
        "{voice} is medium-pitched", "{voice} has a moderate pitch", "{subj} speaks at a middle pitch")),
    ("pitch", "high"): Cue(A, "The voice is high-pitched.", (
        "{voice} is high-pitched", "{voice} sits high", "{subj} speaks in a high voice")),
    ("contour", "rising"): Cue(A, "The pitch rises.", (
        "the pitch rises", "the intonation goes up", "the pitch climbs over the clip")),
    ("contour", "falling"): Cue(A, "The pitch falls.", (
        "the pitch falls", "the intonation goes down", "the pitch drops over the clip")),
    ("contour", "flat"): Cue(A, "The pitch stays flat.", (
        "the pitch stays flat", "the intonation is flat", "the pitch is monotone")),
    ("loudness", "soft"): Cue(A, "The voice is soft.", (
        "{voice} is soft", "{subj} speaks quietly", "{voice} is quiet")),
    ("loudness", "normal"): Cue(A, "The voice is at normal loudness.", (
        "{voice} is at normal loudness", "{subj} speaks at a normal volume", "the loudness is moderate")),
    ("loudness", "loud"): Cue(A, "The voice is loud.", (
        "{voice} is loud", "{subj} speaks loudly", "the volume is high")),
    ("tempo", "slow"): Cue(A, "The speech is slow.", (
        "the speech is slow", "{subj} speaks slowly", "the speaking rate is slow")),
    ("tempo", "normal"): Cue(A, "The speech is at a normal pace.", (
        "the speech is at a normal pace", "{subj} talks at an ordinary pace", "the speaking rate is moderate")),
    ("tempo", "fast"): Cue(A, "The speech is fast.", (
        "the speech is fast", "{subj} speaks quickly", "the speaking rate is high")),
    ("tremor", "steady"): Cue(A, "The voice is steady.", (
        "{voice} is steady", "{voice} does not waver", "{voice} sounds stable")),
    ("tremor", "trembling"): Cue(A, "The voice trembles.", (
        "{voice} trembles", "{voice} is shaky", "{voice} quivers")),
    ("event", "laughter"): Cue(A, "There is laughter.", (
        "there is laughter", "{subj} laughs", "bursts of laughter can be heard")),
    ("event", "sigh"): Cue(A, "There is a sigh.", (
        "there is a sigh", "{subj} sighs", "an audible sigh can be heard")),
    # ---- emotional ----------------------------------------------------------------------------------------
    ("sentiment", "positive"): Cue(E, "The subtitle is positive.", (
        "the subtitle is positive", "the words are positive", "the spoken line sounds positive")),
    ("sentiment", "negative"): Cue(E, "The subtitle is negative.", (
        "the subtitle is negative", "the words are negative", "the spoken line sounds negative")),
    ("sentiment", "neutral"): Cue(E, "The subtitle is neutral.", (
        "the subtitle is neutral", "the words are matter-of-fact", "the spoken line sounds neutral")),
    ("sentiment", "question"): Cue(E, "The subtitle is a question.", (
        "the subtitle is a question", "the words ask a question", "{subj} asks a question")),
    ("sentiment", "sarcastic"): Cue(E, "The subtitle is sarcastic.", (
        "the subtitle is sarcastic", "the words are sarcastic", "the spoken line sounds sarcastic")),
    ("conflict", "forced smile"): Cue(E, "The smile looks forced.", (
        "the smile looks forced", "the smile does not match the voice", "the smile seems put on")),
    ("conflict", "sarcasm"): Cue(E, "The cheerful words contradict the tone.", (
        "the cheerful words contradict the tone", "the upbeat words do not match the delivery",
        "the words mean the opposite of what they say")),
    **{("face reading", e): Cue(E, f"The face looks {e}.", (
        f"the face looks {e}", f"the expression reads as {e}", f"the face suggests {EMOTION_NOUNS[e]}"))
       for e in EMOTIONS if e != "neutral"},
    **{("voice reading", e): Cue(E, f"The voice sounds {e}.", (
        f"the voice sounds {e}", f"the tone of voice suggests {EMOTION_NOUNS[e]}", f"the voice carries {EMOTION_NOUNS[e]}"))
       for e in EMOTIONS if e != "neutral"},
    **{("emotion", e): Cue(E, f"The person feels {e}.", (
        f"{{subj}} feels {e}", f"{{subj}} is most likely {e}", f"{{subj}} seems {e}")) for e in EMOTIONS},
}

VISUAL_ORDER = ("mouth", "brows", "eyes", "tears", "dynamics", "head")
AUDITORY_ORDER = ("pitch", "contour", "loudness", "tempo", "tremor", "event")


def expression_key(f) -> tuple[str, object] | None:
    """The (factor, value) whose appearance/fading the dynamics describes, or None for a neutral face."""
    for name in ("mouth", "brows", "eyes"):
        if getattr(f, name) != "neutral":
            return (name, getattr(f, name))
    return ("tears", True) if f.tears else None


def cue_keys(f) -> dict[str, list[tuple[str, object]]]:
    """The CUE_TABLE keys of a clip, per category, in explanation order."""
    visual = [(n, getattr(f, n)) for n in VISUAL_ORDER if (n, getattr(f, n)) in CUE_TABLE]
    if not has_expression(f):
        visual.insert(0, ("face", "neutral"))
    auditory = [(n, getattr(f, n)) for n in AUDITORY_ORDER if (n, getattr(f, n)) in CUE_TABLE]
    reading = derive_emotion(f)
    emotional = [(name, e) for name, e in (("face reading", reading.visual), ("voice reading", reading.vocal))
                 if e != "neutral"]
    emotional += [("sentiment", f.sentiment)] + [("conflict", c) for c in reading.conflicts]
    emotional.append(("emotion", reading.emotion))
    return {"visual": visual, "auditory": auditory, "emotional": emotional}


def canonical_cues(f) -> dict[str, list[str]]:
    """record["cues"]: the canonical statements of a clip ({"visual": [...], "auditory": [...], ...})."""
    x = EXPRESSION_NOUNS.get(expression_key(f), "")
    return {cat: [CUE_TABLE[k].statement.format(x=x) for k in keys] for cat, keys in cue_keys(f).items()}


def _pattern(template: str) -> str:
    subjects = tuple(dict.fromkeys(s for group in SUBJECTS.values() for s in group))
    alternatives = {"{subj}": subjects, "{voice}": VOICES, "{x}": tuple(EXPRESSION_NOUNS.values())}
    out = re.escape(template)
    for placeholder, words in alternatives.items():
        group = "(?P<x>" if placeholder == "{x}" else "(?:"
        out = out.replace(re.escape(placeholder), group + "|".join(map(re.escape, words)) + ")")
    return out


_SECTIONS = {"visual": r"in the video,(.*?)(?=in the audio,|overall,|$)", "auditory": r"in the audio,(.*?)(?=overall,|$)",
             "emotional": r"overall,(.*)$"}
_MATCHERS = [(k, cue.category, re.compile(r"\b" + _pattern(p) + r"\b", re.IGNORECASE))
             for k, cue in CUE_TABLE.items() for p in cue.paraphrases]


def recover_cues(explanation: str) -> dict[str, list[str]]:
    """Map an EmoCue-Synth explanation back to its canonical cue statements (inverse of the paraphrasing)."""
    result = {}
    for category, section_re in _SECTIONS.items():
        section = re.search(section_re, explanation, re.IGNORECASE | re.DOTALL)
        text = section.group(1) if section else ""
        found: dict[tuple, tuple[int, str]] = {}
        for key, cat, matcher in _MATCHERS:
            if cat != category:
                continue
            for m in matcher.finditer(text):
                x = m.groupdict().get("x") or ""
                statement = CUE_TABLE[key].statement.format(x=x.lower())
                if key not in found or m.start() < found[key][0]:
                    found[key] = (m.start(), statement)
        result[category] = [s for _, s in sorted(found.values())]
    return result
