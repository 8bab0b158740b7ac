"""The canonical cue table: one short atomic statement per cue value, plus its paraphrases.

`CUE_TABLE[(factor, value)]` gives the category ("visual", "auditory", "emotional"), the canonical statement
(what `record["cues"]` holds) and the paraphrase clauses an explanation may use instead. Category and statement
come from EmoCue-360's basic cues (processing/metrics/emocue360/canonical.py), so the metric's rule extractor
reads every paraphrase as the statement it was written from; emotion words come from its emotions.py.
Paraphrases are lower-case clauses with placeholders `{subj}` (a person), `{voice}` (their voice) and, for
dynamics, `{x}` (the expression that appears/fades, from EXPRESSION_NOUNS). Every paraphrase maps back to
exactly one canonical statement, so `recover_cues(explanation)` returns the cues an explanation was written from.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from processing.metrics.emocue360.canonical import basic_cue
from processing.metrics.emocue360.emotions import EMOTION_NOUNS
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

# The clauses an explanation states each cue with.
PARAPHRASES: dict[tuple[str, object], tuple[str, ...]] = {
    # ---- video --------------------------------------------------------------------------------------------
    ("mouth", "smile"): (
        "{subj} smiles", "{subj} is smiling", "the corners of the mouth turn up", "{subj} wears a smile"),
    ("mouth", "frown"): ("{subj} frowns", "the corners of the mouth turn down", "the mouth is bent into a frown"),
    ("mouth", "open"): ("the mouth is open", "{subj}'s mouth hangs open", "{subj} keeps the mouth open"),
    ("mouth", "tight-lipped"): (
        "the lips are pressed tight", "{subj} is tight-lipped", "{subj} presses the lips together"),
    ("brows", "raised"): ("the eyebrows are raised", "{subj} raises the eyebrows", "the brows are lifted"),
    ("brows", "furrowed"): ("the brows are furrowed", "{subj} furrows the brows", "the eyebrows are drawn together"),
    ("eyes", "wide"): ("the eyes are wide open", "{subj} stares with wide eyes", "{subj}'s eyes open wide"),
    ("eyes", "narrowed"): ("the eyes are narrowed", "{subj} narrows the eyes", "{subj} squints"),
    ("eyes", "closed"): ("the eyes are closed", "{subj} keeps the eyes shut", "the eyes are shut"),
    ("face", "neutral"): ("the face is neutral", "{subj} shows no clear expression", "the face stays relaxed"),
    ("tears", True): (
        "tears run down the cheeks", "tears roll down {subj}'s face", "there are tears on {subj}'s cheeks"),
    ("dynamics", "onset"): (
        "the face changes from neutral to {x} in mid-clip", "{x} only appears halfway through the clip",
        "the face starts out neutral and shows {x} from the middle of the clip on"),
    ("dynamics", "offset"): (
        "the face changes from {x} to neutral in mid-clip", "{x} fades away halfway through the clip",
        "the face shows {x} at first and relaxes to neutral in the middle of the clip"),
    ("head", "still"): ("the head stays still", "{subj} keeps the head still", "the head does not move"),
    ("head", "nodding"): ("{subj} nods", "the head moves up and down", "{subj} nods repeatedly"),
    ("head", "shaking"): (
        "{subj} shakes the head", "the head moves from side to side", "{subj} keeps shaking the head"),
    ("head", "turning away"): ("{subj} turns away", "the head turns to the side", "{subj} looks away"),
    # ---- audio --------------------------------------------------------------------------------------------
    ("pitch", "low"): ("{voice} is low-pitched", "{voice} is deep", "{subj} speaks in a low voice"),
    ("pitch", "medium"): (
        "{voice} is medium-pitched", "{voice} has a moderate pitch", "{subj} speaks at a middle pitch"),
    ("pitch", "high"): ("{voice} is high-pitched", "{voice} sits high", "{subj} speaks in a high voice"),
    ("contour", "rising"): ("the pitch rises", "the intonation goes up", "the pitch climbs over the clip"),
    ("contour", "falling"): ("the pitch falls", "the intonation goes down", "the pitch drops over the clip"),
    ("contour", "flat"): ("the pitch stays flat", "the intonation is flat", "the pitch is monotone"),
    ("loudness", "soft"): ("{voice} is soft", "{subj} speaks quietly", "{voice} is quiet"),
    ("loudness", "normal"): (
        "{voice} is at normal loudness", "{subj} speaks at a normal volume", "the loudness is moderate"),
    ("loudness", "loud"): ("{voice} is loud", "{subj} speaks loudly", "the volume is high"),
    ("tempo", "slow"): ("the speech is slow", "{subj} speaks slowly", "the speaking rate is slow"),
    ("tempo", "normal"): (
        "the speech is at a normal pace", "{subj} talks at an ordinary pace", "the speaking rate is moderate"),
    ("tempo", "fast"): ("the speech is fast", "{subj} speaks quickly", "the speaking rate is high"),
    ("tremor", "steady"): ("{voice} is steady", "{voice} does not waver", "{voice} sounds stable"),
    ("tremor", "trembling"): ("{voice} trembles", "{voice} is shaky", "{voice} quivers"),
    ("event", "laughter"): ("there is laughter", "{subj} laughs", "bursts of laughter can be heard"),
    ("event", "sigh"): ("there is a sigh", "{subj} sighs", "an audible sigh can be heard"),
    # ---- emotional ----------------------------------------------------------------------------------------
    ("sentiment", "positive"): (
        "the subtitle is positive", "the words are positive", "the spoken line sounds positive"),
    ("sentiment", "negative"): (
        "the subtitle is negative", "the words are negative", "the spoken line sounds negative"),
    ("sentiment", "neutral"): (
        "the subtitle is neutral", "the words are matter-of-fact", "the spoken line sounds neutral"),
    ("sentiment", "question"): ("the subtitle is a question", "the words ask a question", "{subj} asks a question"),
    ("sentiment", "sarcastic"): (
        "the subtitle is sarcastic", "the words are sarcastic", "the spoken line sounds sarcastic"),
    ("conflict", "forced smile"): (
        "the smile looks forced", "the smile does not match the voice", "the smile seems put on"),
    ("conflict", "sarcasm"): (
        "the cheerful words contradict the tone", "the upbeat words do not match the delivery",
        "the words mean the opposite of what they say"),
    **{("face reading", e): (f"the face looks {e}", f"the expression reads as {e}",
                             f"the face suggests {EMOTION_NOUNS[e]}") for e in EMOTIONS if e != "neutral"},
    **{("voice reading", e): (f"the voice sounds {e}", f"the tone of voice suggests {EMOTION_NOUNS[e]}",
                              f"the voice carries {EMOTION_NOUNS[e]}") for e in EMOTIONS if e != "neutral"},
    **{("emotion", e): (f"{{subj}} feels {e}", f"{{subj}} is most likely {e}", f"{{subj}} seems {e}")
       for e in EMOTIONS},
}
# Category and statement of each cue from the metric's basic cues, then its paraphrases.
CUE_TABLE = {key: Cue(*basic_cue(*key), paraphrases) for key, paraphrases in PARAPHRASES.items()}

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
