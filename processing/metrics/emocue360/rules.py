"""The ``rule`` cue extractor: deterministic, offline parsing of an explanation into atomic cues.

Explanations follow the EmoCue shape "In the video, … In the audio, … [In the text, …] Overall, …".

1. Sentences are split at ``. ! ?`` (quoted speech is protected first).
2. Sections: a sentence opening with a visual marker ("In the video,", "Visually,", …) starts the visual
   section, an audio marker ("In the audio,", "Vocally,", …) or a subtitle marker ("In the text,", "The
   subtitle …") the auditory section (subtitle cues are auditory, as in the published one-shot prompt), and a
   conclusion marker ("Overall,", "Therefore,", "Based on …", …) the emotional section. Sentences inherit the
   current section; before any marker, keywords decide.
3. Inside the visual/auditory sections, an inference clause (", indicating …", ", suggesting …",
   ", which shows …", "This suggests …") goes to *emotional*; the rest is cut into atomic clauses at ";",
   ", and", ", but", ", while", ", with", ", as well as", "and then", and at "and" before a new subject
   ("and her …", "and the …"). A clause that names only the other modality's words ("her voice" inside the
   video section) moves there.
4. Cues are tidied: markers and "we can see that"-style lead-ins removed, first letter upper-cased, one final
   period. A clause that is exactly one basic face/voice cue ("the speaker's voice is deep") becomes its
   canonical statement ("The voice is low-pitched.") in that cue's category (canonical.py).

:func:`extract_emotion` picks the explanation's emotion from the emotional part (see its docstring).
"""

from __future__ import annotations

import re

from .canonical import canonical_cue
from .emotions import emotion_mentions

_FLAGS = re.IGNORECASE

_VISUAL_MARKER = re.compile(
    r"^(?:(?:in|from|throughout|across|within|on) (?:the )?(?:video|videos|visuals?|footage|clip|frames?|scene|images?"
    r"|picture|screen|visual (?:content|channel|modality|cues?|information))\b|visually\b|on[- ]screen\b)[,:]?\s*", _FLAGS)
_AUDIO_MARKER = re.compile(
    r"^(?:(?:in|from|throughout|across|within|on) (?:the )?(?:audio|sound|soundtrack|voice|speech|recording"
    r"|audio (?:track|channel|content|modality|cues?|information)|acoustic \w+)\b|acoustically\b|vocally\b"
    r"|audibly\b|auditorily\b)[,:]?\s*", _FLAGS)
_TEXT_MARKER = re.compile(
    r"^(?:(?:in|from|within) (?:the )?(?:text|subtitles?|transcript|dialogue|captions?|textual content|lines?)\b"
    r"[,:]?\s*|(?=(?:the|her|his|their) (?:subtitle|subtitles|transcript|caption)\b))", _FLAGS)
_EMOTIONAL_MARKER = re.compile(
    r"^(?:overall|in summary|in conclusion|to sum up|to summari[sz]e|all in all|taken together|in short|in sum"
    r"|therefore|thus|hence|consequently|as a result|finally|altogether|emotionally)\b[,:]?\s*"
    r"|^(?=(?:based on|considering|combining|given|putting|integrating|together,)\b)", _FLAGS)
_LEAD_IN = re.compile(
    r"^(?:(?:and|but|also|then|while|so)\s+)*(?:we (?:can )?(?:clearly )?(?:see|observe|notice|hear)(?: that)?"
    r"|it (?:can be|is) (?:seen|heard|observed|noticed) that|one can (?:see|hear) that|taken together,?"
    r"|all in all,?|overall,?|in summary,?|therefore,?|thus,?|hence,?|which (?:suggests|indicates|means) that)\s+",
    _FLAGS)
_CONJUNCTION_HEAD = re.compile(r"^(?:and|but|also|then|while|whereas|with|so|yet|as well as)\s+", _FLAGS)

_INFERENCE_SPLIT = re.compile(
    r"(?:,|;|\s)\s*(?:indicating|suggesting|implying|signall?ing|showing that|revealing|reflecting|conveying"
    r"|hinting at|expressing|which (?:suggests?|indicates?|shows?|implies|reflects?|conveys?|reveals?|may|might"
    r"|could|means|hints?|signals?)|(?:this|that|it) (?:suggests?|indicates?|shows?|implies|reflects?|conveys?"
    r"|reveals?|may|might|could|means|hints?|signals?)|as if|a sign (?:of|that))\b(?:\s+that\b)?[,:]?\s*", _FLAGS)
_INFERENCE_SENTENCE = re.compile(
    r"^(?:this|these|that|those|it|such|all of this|all this|both|the combination)\b[^,]{0,60}?\b(?:suggests?"
    r"|indicates?|shows?|implies|reflects?|conveys?|reveals?|means|hints?|signals?|points? to|seems?|appears?"
    r"|may|might|could|is likely|probably|expresses)\b", _FLAGS)
_CLAUSE_SPLIT = re.compile(
    r"\s*;\s*|,\s*(?:and|but|while|whereas|with|then|as well as|accompanied by|followed by)\s+|\s+(?:while|whereas"
    r"|and then|but then|as well as|before|after which)\s+|,\s*(?=(?:her|his|their|the|she|he|they|its)\s)"
    r"|\s+and\s+(?=(?:her|his|their|the|a|an|she|he|they|it|its|there|some|occasional|then)\s)", _FLAGS)

_EMOTIONAL_SPLIT = re.compile(_CLAUSE_SPLIT.pattern + r"|,\s*(?:so|thus|hence|therefore)\s+", _FLAGS)

_VISUAL_WORDS = re.compile(
    r"\b(?:face|faces|facial|expressions?|eyes?|eyebrows?|brows?|mouth|lips?|smil\w*|frown\w*|grin\w*|teeth"
    r"|gaze|stare\w*|glanc\w*|nod\w*|head|tears?|blink\w*|squint\w*|gestur\w*|posture|hands?|arms?|body"
    r"|shoulders?|cheeks?|forehead|chin|jaw|wrinkl\w*|wear\w*|clothes|clothing|background|room|indoors?"
    r"|outdoors?|lighting|camera|skin|looks? (?:away|down|up|at)|turns? away|tight-lipped|visible|visibly)\b", _FLAGS)
_AUDIO_WORDS = re.compile(
    r"\b(?:voice\w*|vocal\w*|tone|tones|pitch\w*|intonation|prosod\w*|speech|speak\w*|spoken|tempo|pace|rhythm"
    r"|loud\w*|volume|quiet\w*|whisper\w*|shout\w*|yell\w*|laugh\w*|sigh\w*|sob\w*|trembl\w*|tremor|shaky"
    r"|quiver\w*|breath\w*|pauses?|audio|sounds?|syllables?|humm?\w*|monoton\w*|timbre|cadence|stutter\w*"
    r"|utterances?|hesitat\w*|says|said|subtitles?)\b", _FLAGS)
_EMOTIONAL_WORDS = re.compile(
    r"\b(?:feel\w*|emotion\w*|mood|affect\w*|infer\w*|likely|probably|seems?|appears? to be|state of mind)\b", _FLAGS)

_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|(?<![\w])'[^'\n]{2,}?'(?![\w])")
_SENTENCE_END = re.compile(r"(?<=[.!?\x01])\s+(?=[A-Z0-9\"“'(\x00])|(?<=[。！？])\s*")


def _protect_quotes(text: str) -> tuple[str, list[str]]:
    quotes: list[str] = []

    def keep(match):  # a quote ending a sentence ('… goodbye."') ends with \x01 so that the split sees it
        quotes.append(match.group(0))
        return f"\x00{len(quotes) - 1}" + ("\x01" if re.search(r"[.!?]\W?$", match.group(0)) else "\x00")

    return _QUOTED.sub(keep, text), quotes


def _restore_quotes(text: str, quotes: list[str]) -> str:
    return re.sub(r"\x00(\d+)[\x00\x01]", lambda m: quotes[int(m.group(1))], text)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; punctuation inside quoted speech does not end a sentence."""
    masked, quotes = _protect_quotes(" ".join(str(text).split()))
    return [_restore_quotes(s, quotes).strip() for s in _SENTENCE_END.split(masked) if s.strip()]


def _tidy(clause: str) -> str | None:
    clause = clause.strip(" ,;:-–—")
    for _ in range(3):
        clause = _LEAD_IN.sub("", _CONJUNCTION_HEAD.sub("", clause)).strip(" ,;:-–—")
    clause = clause.rstrip(".!?,;: 。！？，；：").strip()
    if not re.search(r"[^\W\d_]{2}|\x00", clause):
        return None
    unfinished = not clause.endswith("\x01") and ord(clause[-1]) < 0x2E80  # no "." after a quote or CJK text
    return clause[0].upper() + clause[1:] + ("." if unfinished else "")


def _modality_of(clause: str, section: str) -> str:
    """Keep the section's modality unless the clause names only the other perceptual modality's words."""
    visual, audio = bool(_VISUAL_WORDS.search(clause)), bool(_AUDIO_WORDS.search(clause))
    if section == "visual" and audio and not visual:
        return "auditory"
    if section == "auditory" and visual and not audio:
        return "visual"
    if section is None:
        if visual and not audio:
            return "visual"
        if audio and not visual:
            return "auditory"
        if visual and audio:
            return "emotional" if _EMOTIONAL_WORDS.search(clause) or emotion_mentions(clause) else "visual"
        return "emotional"
    return section


def _section_of(sentence: str) -> tuple[str | None, str]:
    """(section started by this sentence or None, sentence without its marker)."""
    for section, marker in (("visual", _VISUAL_MARKER), ("auditory", _AUDIO_MARKER), ("auditory", _TEXT_MARKER),
                            ("emotional", _EMOTIONAL_MARKER)):
        match = marker.match(sentence)
        if match:
            return section, sentence[match.end():]
    return None, sentence


_ADVERBIAL = re.compile(
    r"^(?:as|at|in|on|over|during|after|before|later|then|meanwhile|suddenly|afterwards|eventually|initially"
    r"|finally|first|soon|towards?|throughout|when|once|despite|although|though)\b", _FLAGS)


def _merge_fragments(pieces: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Glue a short adverbial clause that names no cue ("As time goes on", "At first") onto the next clause."""
    merged, carry = [], ""
    for index, (category, part) in enumerate(pieces):
        part = f"{carry}, {part}" if carry else part
        carry = ""
        bare = not (_VISUAL_WORDS.search(part) or _AUDIO_WORDS.search(part) or emotion_mentions(part))
        short = len(part.split()) <= 2 or (len(part.split()) <= 6 and _ADVERBIAL.match(part.strip()))
        if bare and short and index + 1 < len(pieces) and category == pieces[index + 1][0]:
            carry = part.strip(" ,")
            continue
        merged.append((category, part))
    return merged


def parse_explanation(text: str, *, canonical: bool = True) -> dict[str, list[str]]:
    """Split an explanation into atomic cues: ``{"visual": [...], "auditory": [...], "emotional": [...]}``.

    canonical: a clause that is exactly one basic face/voice cue is rewritten as its canonical statement and
    filed under that cue's category (see canonical.py); False keeps every clause as written."""
    cues: dict[str, list[str]] = {"visual": [], "auditory": [], "emotional": []}
    if not text or not str(text).strip():
        return cues
    masked, quotes = _protect_quotes(" ".join(str(text).split()))
    section = None
    for sentence in _SENTENCE_END.split(masked):
        started, body = _section_of(sentence.strip())
        section = started or section
        if section == "emotional":
            pieces = [("emotional", part) for clause in _INFERENCE_SPLIT.split(body)
                      for part in _EMOTIONAL_SPLIT.split(clause) if part]
        elif section is not None and _INFERENCE_SENTENCE.match(body):
            pieces = [("emotional", body)]
        else:
            perceptual, *inferences = _INFERENCE_SPLIT.split(body, maxsplit=1)
            pieces = [(_modality_of(part, section), part) for part in _CLAUSE_SPLIT.split(perceptual) if part]
            pieces += [("emotional", part) for part in inferences]
        for category, part in _merge_fragments(pieces):
            cue = _tidy(part)
            if not cue:
                continue
            cue = _restore_quotes(cue, quotes)
            known = canonical_cue(cue) if canonical else None
            if known:
                category, cue = known
            cues[category].append(cue)
    return cues


_STRONG_FRAME = re.compile(
    r"\b(?:is|are|was|be|being|feels?|feeling|felt|seems?|seemed|appears?|looks?|sounds?|becomes?|getting|grows?"
    r"|expresses|expressing|shows?|showing|conveys?|conveying|reveals?|revealing|reflects?|masks?|masking|hides?"
    r"|hiding|of|with|in|into|emotion|mood|state)\s+(?:\w+ly\s+|a\s+|an\s+|sense\s+of\s+|quite\s+|rather\s+|very\s+"
    r"|most\s+|more\s+|so\s+|deep\s+|genuine\s+|real\s+|mild\s+|slight\s+|to\s+be\s+)*$", _FLAGS)
# an emotion read off one channel ("the face looks happy", "the tone suggests sadness") is evidence, not the verdict
_CHANNEL_SUBJECT = re.compile(r"\b(?:face|facial|expression|voice|tone|smile|eyes|brows|words|subtitle|sentence"
                              r"|pitch|intonation|laughter|mouth)\b[^,;]*$", _FLAGS)
_TRUTH_HINT = re.compile(r"\b(?:actually|really|truly|in fact|underlying|true|genuine\w*|real|deep down|masks?"
                         r"|masking|hides?|hiding|conceals?|concealing)\b", _FLAGS)
_CONCLUSION = re.compile(r"^(?:overall|in summary|in conclusion|to sum up|therefore|thus|hence|all in all"
                         r"|taken together|consequently|in short)\b", _FLAGS)


def emotions_mentioned(text: str) -> set[str]:
    """Emotion groups named (not negated) in the emotional part of an explanation."""
    emotional = " ".join(parse_explanation(text)["emotional"]) or str(text or "")
    return {group for _, _, group in emotion_mentions(emotional)}


def extract_emotion(text: str) -> str | None:
    """The emotion an explanation concludes, as a canonical label ("happy", "sad", …) or None.

    Candidates are the non-negated emotion words of its emotional part (the whole text when that part is
    empty). Each scores +2 when framed as a state ("is happy", "feels", "a sense of joy", "masking sadness"),
    +2 when marked as the true one ("actually sad", "underlying anxiety"), −1.5 when it is said of one channel
    ("the face looks happy", "the tone suggests sadness": evidence, not the verdict), +0.5 in the last clause;
    ties go to the later mention (conclusions come last).
    """
    if not text or not str(text).strip():
        return None
    parts = parse_explanation(text)["emotional"]
    sentences = parts or split_sentences(text)
    best, best_key = None, None
    for order, sentence in enumerate(sentences):
        for offset, _word, group in emotion_mentions(sentence):
            before = sentence[max(0, offset - 60):offset]
            score = 2 * bool(_STRONG_FRAME.search(before)) + 2 * bool(_TRUTH_HINT.search(before[-40:]))
            score -= 1.5 * bool(_CHANNEL_SUBJECT.search(before))
            score += bool(_CONCLUSION.match(sentence)) + bool(parts and order == len(sentences) - 1) * 0.5
            key = (score, order, offset)
            if best_key is None or key >= best_key:
                best, best_key = group, key
    return best
