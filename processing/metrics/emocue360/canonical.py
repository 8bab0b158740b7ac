"""The basic face, voice and emotional cues: one canonical statement each, and the clauses that state them.

Sentence embeddings rate paraphrases of one cue ("the speaker's voice is deep" / "the voice is low-pitched")
well below identical statements (cosine ≈ 0.6–0.8), so a metric over free paraphrases is dominated by wording.
When a whole clause is one of the basic cues below — written with any of the usual subjects ("the person",
"she", "the speaker", …) and phrasings — the rule extractor replaces it by one short canonical statement and
puts it in that cue's category. Clauses that are not exactly such a cue are kept as written.

`BASIC_CUES` is the one home of these statements: it is keyed by EmoCue-Synth's cue keys (factor, value), and
the generator's `CUE_TABLE` (processing/data/synth/cues.py) takes each cue's category and statement from here
and adds the paraphrases it writes; tests/test_synth.py checks that every one of them reads back as its cue.
The vocabulary: mouth (smile, frown, open, pressed lips), brows (raised, furrowed), eyes (wide, narrowed,
closed), neutral face, tears, head (still, nodding, shaking, turning away), an expression appearing/fading in
mid-clip; pitch level and contour, loudness, tempo, steadiness/tremor, laughter, sighs; a channel's emotion
("the face looks happy", "the voice carries fear") and the person's emotion, each named by a word of
emotions.CUE_EMOTION_WORDS; the subtitle's sentiment, a forced smile, sarcasm.
"""

from __future__ import annotations

import re

from .emotions import CUE_EMOTION_WORDS

_SUBJ = (r"(?:the (?:person|speaker|individual|character|man|woman|lady|girl|boy|actor|actress|host|subject)"
         r"|she|he|they)")
_OWNER = rf"(?:the|her|his|their|{_SUBJ}'s)"
_VOICE = rf"(?:{_OWNER} voice|the tone of voice|{_OWNER} tone)"
_BODY = r"(?:the|her|his|their)"
_EMOTION = "(?P<e>" + "|".join(CUE_EMOTION_WORDS) + ")"
_HEDGE = r"(?:(?:most |very |quite )?(?:likely|probably|clearly|rather|really|actually) )?"
_SUBTITLE = r"(?:the subtitle|the words|what is said|the spoken line) (?:is|are|sounds?)"
ANY_EMOTION = "{e}"  # the value of an emotion-valued cue's entry: its pattern captures the emotion word as e

V, A, E = "visual", "auditory", "emotional"
# (factor, value) → (category, canonical statement, pattern that must match the whole clause, lower-cased).
# In this order: the first whole-clause match wins.
BASIC_CUES: dict[tuple[str, object], tuple[str, str, str]] = {
    ("mouth", "smile"): (V, "The person smiles.",
        rf"{_SUBJ} (?:smiles|is smiling|wears a smile|has a smile|breaks into a smile)"
        rf"|the corners of {_OWNER} mouth turn up(?:wards?)?|{_OWNER} mouth curves into a smile"),
    ("mouth", "frown"): (V, "The person frowns.",
        rf"{_SUBJ} (?:frowns|is frowning)|the corners of {_OWNER} mouth turn down(?:wards?)?"
        rf"|{_OWNER} mouth is bent into a frown"),
    ("mouth", "open"): (V, "The mouth is open.",
        rf"{_OWNER} mouth (?:is|hangs|stays) open|{_SUBJ} (?:keeps|has) {_BODY} mouth open"
        rf"|{_SUBJ} opens {_BODY} mouth"),
    ("mouth", "tight-lipped"): (V, "The lips are pressed tight.",
        rf"{_OWNER} lips are (?:pressed|pressed tight|pressed together|tight)"
        rf"|{_SUBJ} (?:is|looks) tight-lipped|{_SUBJ} presses {_BODY} lips(?: together| tight)?"),
    ("brows", "raised"): (V, "The eyebrows are raised.",
        rf"{_OWNER} (?:eye)?brows are (?:raised|lifted)|{_SUBJ} (?:raises|lifts) {_BODY} (?:eye)?brows"),
    ("brows", "furrowed"): (V, "The brows are furrowed.",
        rf"{_OWNER} (?:eye)?brows are (?:furrowed|knitted|drawn together)"
        rf"|{_SUBJ} (?:furrows|knits) {_BODY} (?:eye)?brows"),
    ("eyes", "wide"): (V, "The eyes are wide open.",
        rf"{_OWNER} eyes are wide(?: open)?|{_SUBJ} stares with wide eyes|{_OWNER} eyes open wide"
        rf"|{_SUBJ} opens {_BODY} eyes wide|{_SUBJ} is wide-eyed"),
    ("eyes", "narrowed"): (V, "The eyes are narrowed.",
        rf"{_OWNER} eyes are narrowed|{_SUBJ} narrows {_BODY} eyes|{_SUBJ} (?:squints|is squinting)"),
    ("eyes", "closed"): (V, "The eyes are closed.",
        rf"{_OWNER} eyes are (?:closed|shut)|{_SUBJ} keeps {_BODY} eyes (?:shut|closed)"
        rf"|{_SUBJ} closes {_BODY} eyes"),
    ("face", "neutral"): (V, "The face is neutral.",
        rf"{_OWNER} (?:face|expression) is neutral|{_SUBJ} shows no (?:clear )?expression"
        rf"|{_OWNER} face stays relaxed|{_SUBJ} has a neutral (?:face|expression)"),
    ("tears", True): (V, "Tears run down the cheeks.",
        rf"tears (?:run|roll) down {_OWNER} (?:cheeks|face)|{_SUBJ} (?:is crying|cries|is in tears)"
        rf"|there are tears on {_OWNER} cheeks|{_SUBJ} has tears in {_BODY} eyes"),
    ("dynamics", "onset"): (V, "The face changes from neutral to {x} in mid-clip.",
        rf"{_OWNER} face changes from neutral to (?P<x>.+?) in mid-clip"
        rf"|(?P<x2>.+?) (?:only )?appears (?:halfway|midway) through the clip"
        rf"|{_OWNER} face starts out neutral and shows (?P<x3>.+?) from the middle of the clip on"),
    ("dynamics", "offset"): (V, "The face changes from {x} to neutral in mid-clip.",
        rf"{_OWNER} face changes from (?P<x>.+?) to neutral in mid-clip"
        rf"|(?P<x2>.+?) fades(?: away)? (?:halfway|midway) through the clip"
        rf"|{_OWNER} face shows (?P<x3>.+?) at first and relaxes to neutral in the middle of the clip"),
    ("head", "still"): (V, "The head stays still.",
        rf"{_OWNER} head (?:stays|remains|is|keeps) still|{_SUBJ} keeps {_BODY} head still"
        rf"|{_OWNER} head does not move"),
    ("head", "nodding"): (V, "The person nods.",
        rf"{_SUBJ} (?:nods|is nodding)(?: {_BODY} head)?(?: repeatedly| slowly)?|{_OWNER} head moves up and down"),
    ("head", "shaking"): (V, "The person shakes the head.",
        rf"{_SUBJ} (?:shakes|keeps shaking|is shaking) {_BODY} head"
        rf"|{_OWNER} head moves from side to side"),
    ("head", "turning away"): (V, "The person turns away.",
        rf"{_SUBJ} (?:turns|looks) away|{_OWNER} head turns (?:to the side|away)"),
    ("pitch", "low"): (A, "The voice is low-pitched.",
        rf"{_VOICE} is (?:low-pitched|low|deep)|{_SUBJ} speaks in a (?:low|deep)(?:-pitched)? voice"),
    ("pitch", "medium"): (A, "The voice is medium-pitched.",
        rf"{_VOICE} is medium-pitched|{_VOICE} has a (?:moderate|medium|middle) pitch"
        rf"|{_SUBJ} speaks at a (?:middle|medium|moderate) pitch"),
    ("pitch", "high"): (A, "The voice is high-pitched.",
        rf"{_VOICE} is (?:high-pitched|high)|{_VOICE} sits high"
        rf"|{_SUBJ} speaks in a high(?:-pitched)? voice"),
    ("contour", "rising"): (A, "The pitch rises.",
        r"the (?:pitch|intonation) (?:rises|climbs|goes up)(?: over the clip| at the end)?"),
    ("contour", "falling"): (A, "The pitch falls.",
        r"the (?:pitch|intonation) (?:falls|drops|goes down)(?: over the clip| at the end)?"),
    ("contour", "flat"): (A, "The pitch stays flat.",
        rf"the (?:pitch|intonation) (?:stays|is|remains) (?:flat|monotone|level)|{_VOICE} is monotone"),
    ("loudness", "soft"): (A, "The voice is soft.", rf"{_VOICE} is (?:soft|quiet)|{_SUBJ} speaks (?:quietly|softly)"),
    ("loudness", "normal"): (A, "The voice is at normal loudness.",
        rf"{_VOICE} is at (?:a )?normal (?:loudness|volume)"
        rf"|{_SUBJ} speaks at a normal volume|the (?:loudness|volume) is (?:moderate|normal)"),
    ("loudness", "loud"): (A, "The voice is loud.", rf"{_VOICE} is loud|{_SUBJ} speaks loudly|the volume is high"),
    ("tempo", "slow"): (A, "The speech is slow.",
        rf"the speech is slow|{_SUBJ} (?:speaks|talks) slowly|the (?:speaking rate|pace) is slow"),
    ("tempo", "normal"): (A, "The speech is at a normal pace.",
        rf"the speech is at a normal pace|{_SUBJ} (?:talks|speaks) at an? (?:ordinary|normal|moderate) pace"
        r"|the (?:speaking rate|pace) is (?:moderate|normal)"),
    ("tempo", "fast"): (A, "The speech is fast.",
        rf"the speech is fast|{_SUBJ} (?:speaks|talks) quickly|the (?:speaking rate|pace) is (?:high|fast)"),
    ("tremor", "steady"): (A, "The voice is steady.",
        rf"{_VOICE} is steady|{_VOICE} does not waver|{_VOICE} sounds (?:stable|steady)"),
    ("tremor", "trembling"): (A, "The voice trembles.",
        rf"{_VOICE} (?:trembles|is trembling|is shaky|quivers|wavers|shakes)"),
    ("event", "laughter"): (A, "There is laughter.",
        rf"there is laughter|{_SUBJ} laughs|(?:bursts of )?laughter can be heard"),
    ("event", "sigh"): (A, "There is a sigh.", rf"there is a sigh|{_SUBJ} sighs|an? (?:audible )?sigh can be heard"),
    ("face reading", ANY_EMOTION): (E, "The face looks {e}.",
        rf"{_OWNER} (?:face|expression) (?:looks|reads as|seems|appears|suggests|shows) {_HEDGE}{_EMOTION}"),
    ("voice reading", ANY_EMOTION): (E, "The voice sounds {e}.",
        rf"(?:{_VOICE}|the tone) (?:sounds|seems|suggests|carries|conveys) {_HEDGE}{_EMOTION}"),
    ("emotion", ANY_EMOTION): (E, "The person feels {e}.",
        rf"{_SUBJ} (?:feels|is|seems|appears|looks) {_HEDGE}{_EMOTION}"),
    ("sentiment", "positive"): (E, "The subtitle is positive.", rf"{_SUBTITLE} positive"),
    ("sentiment", "negative"): (E, "The subtitle is negative.", rf"{_SUBTITLE} negative"),
    ("sentiment", "neutral"): (E, "The subtitle is neutral.", rf"{_SUBTITLE} (?:neutral|matter-of-fact)"),
    ("sentiment", "sarcastic"): (E, "The subtitle is sarcastic.", rf"{_SUBTITLE} sarcastic"),
    ("sentiment", "question"): (E, "The subtitle is a question.",
        rf"the subtitle is a question|the words ask a question|{_SUBJ} asks a question"),
    ("conflict", "forced smile"): (E, "The smile looks forced.",
        r"the smile (?:looks|seems) (?:forced|put on|fake)|the smile does not match the voice"),
    ("conflict", "sarcasm"): (E, "The cheerful words contradict the tone.",
        r"the (?:cheerful|upbeat|positive) words (?:contradict|do not match) the (?:tone|delivery)"
        r"|the words mean the opposite of what they say"),
}
_COMPILED = [(category, statement, re.compile(pattern)) for category, statement, pattern in BASIC_CUES.values()]


def basic_cue(factor: str, value) -> tuple[str, str]:
    """(category, canonical statement) of the cue (factor, value); an emotion-valued factor ("face reading",
    "voice reading", "emotion") takes the emotion's adjective as its value. Statements may hold {x}."""
    if (factor, value) in BASIC_CUES:
        return BASIC_CUES[factor, value][:2]
    category, statement, _ = BASIC_CUES[factor, ANY_EMOTION]
    return category, statement.format(e=value)


def canonical_cue(clause: str) -> tuple[str, str] | None:
    """(category, canonical statement) when the whole clause is one basic cue, else None."""
    text = " ".join(clause.lower().replace("’", "'").split()).rstrip(".!;, ")
    for category, statement, pattern in _COMPILED:
        match = pattern.fullmatch(text)
        if match:
            groups = {k[0]: v for k, v in match.groupdict().items() if v}  # x2, x3 → x
            emotion = CUE_EMOTION_WORDS.get(groups.get("e"), "")
            return category, statement.format(x=groups.get("x", ""), e=emotion)
    return None
