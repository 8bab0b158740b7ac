"""Verifiable rewards for GRPO, computed with EmoCue-360 against each prompt's reference.

Each reward is a plain callable in the form TRL's `GRPOTrainer` takes: `reward(completions, **columns) -> list[float]`,
one value per completion, the dataset's other columns arriving as keyword lists (`trl grpo --reward_funcs
processing.training.rewards.cue_reward`). The reference of row i is read from whichever columns the dataset has:

* `cues` (an EmoCue record's gold `{"visual": [...], "auditory": [...], "emotional": [...]}`), else the cues the rule
  extractor finds in the reference text;
* `emotion` (the record's label), else the emotion the reference text concludes;
* the reference text: `explanation` (EmoCue records, `xemogpt train grpo`) or `chosen` (the `preference` view that
  `trl grpo` reads: `[{"role": "assistant", "content": ...}]`).

Completions are strings or conversations (the assistant turn TRL builds for conversational prompts); cues are read
off them with EmoCue-360's rule extractor (`parse_explanation`), as `xemogpt evaluate` does.

| reward | value | what it rewards |
|---|---|---|
| `emotion_reward` | 1 / 0 | the stated emotion equals the reference's, after EmoCue-360's synonym groups ("joyful" = happy) |
| `cue_reward` | 0..1 | EmoCue-360 F1 of the visual and auditory cues against the reference's (mean of the two; a modality the reference has no cue in is not counted) |
| `hallucination_reward` | -n | minus the number of invented visual / auditory cues: those whose best EmoCue-360 match among the reference's cues of that modality is below `INVENTED_BELOW` (0.7) — a cue the clip does not show, the DPO negatives' `hallucinated_cue` |
| `format_reward` | 0..1 | the share of the reference's sections ("In the video", "In the audio", "Overall") the completion opens, in that order |

Why 0.7 and not EmoCue-360's breakdown threshold (0.5): the rule extractor rewrites a stated basic cue in the
reference's own wording (cosine 1.0), while invented ones still land above 0.5 ("There is a loud scream." vs "The voice
is loud." 0.58; "The person cries with tears ..." vs "The person frowns." 0.56; a DPO negative's "... the person
sighs." 0.47). A cue stated under the wrong section is not penalised: the extractor files a basic cue under its own
modality whatever the section says.

`cue_reward` and `hallucination_reward` come from one EmoCue-360 pass per batch (every distinct cue embedded once,
all-MiniLM-L6-v2, bundled); the two share it when TRL calls them one after the other on the same completions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from processing.metrics.emocue360 import EmoCue360, extract_emotion, normalize_emotion, parse_explanation

SCORED = ("visual", "auditory")
INVENTED_BELOW = 0.7
SECTIONS = (("video", re.compile(r"\bin the video\b", re.IGNORECASE)),
            ("audio", re.compile(r"\bin the audio\b", re.IGNORECASE)),
            ("overall", re.compile(r"\boverall\b", re.IGNORECASE)))

_scorer: EmoCue360 | None = None
_last: tuple[tuple, list[dict]] | None = None  # (key, per-completion scores) of the latest EmoCue-360 pass


def completion_text(completion) -> str:
    """The text of a completion: a string, or the assistant turn(s) of a conversation (string or text items)."""
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion or []:
        content = message.get("content") if isinstance(message, Mapping) else message
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, Sequence):
            parts.extend(item.get("text") or "" for item in content
                         if isinstance(item, Mapping) and item.get("type") == "text")
    return "".join(parts)


def _column(columns: Mapping, name: str, i: int):
    values = columns.get(name)
    return values[i] if values is not None and i < len(values) else None


def reference_text(columns: Mapping, i: int) -> str:
    explanation = _column(columns, "explanation", i)
    if explanation:
        return str(explanation)
    return completion_text(_column(columns, "chosen", i) or "")


def reference_cues(columns: Mapping, i: int) -> dict[str, list[str]]:
    cues = _column(columns, "cues", i)
    if isinstance(cues, Mapping) and any(cues.get(c) for c in SCORED):
        return {c: list(cues.get(c) or []) for c in ("visual", "auditory", "emotional")}
    return parse_explanation(reference_text(columns, i))


def reference_emotion(columns: Mapping, i: int) -> str | None:
    return normalize_emotion(_column(columns, "emotion", i) or extract_emotion(reference_text(columns, i)))


def emotion_reward(completions, **columns) -> list[float]:
    """1.0 when the completion concludes the reference's emotion (synonyms grouped as in EmoCue-360), else 0.0."""
    out = []
    for i, completion in enumerate(completions):
        stated = normalize_emotion(extract_emotion(completion_text(completion)))
        reference = reference_emotion(columns, i)
        out.append(float(stated is not None and stated == reference))
    return out


def cue_scores(completions, columns: Mapping) -> list[dict]:
    """Per completion: `f1` (mean EmoCue-360 F1 over the scored modalities the reference has cues in; None when it
    has none) and `invented` (how many predicted visual / auditory cues match no reference cue of their modality).
    One EmoCue-360 pass for the batch; the latest result is reused for the same completions and references."""
    global _scorer, _last
    texts = [completion_text(c) for c in completions]
    references = {str(i): {c: reference_cues(columns, i).get(c, []) for c in SCORED} for i in range(len(texts))}
    key = (tuple(texts), tuple((k, tuple(v["visual"]), tuple(v["auditory"])) for k, v in references.items()))
    if _last is not None and _last[0] == key:
        return _last[1]
    predictions = {str(i): {c: parse_explanation(text).get(c, []) for c in SCORED} for i, text in enumerate(texts)}
    if _scorer is None:
        _scorer = EmoCue360(miss_threshold=INVENTED_BELOW)
    per_sample = _scorer.score(references, predictions).per_sample()
    scores = []
    for i in range(len(texts)):
        counted = per_sample.get(str(i), {})
        f1s = [counted[c].f1 for c in SCORED if c in counted]
        invented = sum(len(counted[c].invented) for c in SCORED if c in counted)
        # a modality the reference is silent on: every cue stated there is invented
        invented += sum(len(predictions[str(i)][c]) for c in SCORED if c not in counted)
        scores.append({"f1": sum(f1s) / len(f1s) if f1s else None, "invented": invented})
    _last = (key, scores)
    return scores


def cue_reward(completions, **columns) -> list[float]:
    """EmoCue-360 F1 of the completion's visual and auditory cues against the reference's (mean of the two)."""
    return [0.0 if s["f1"] is None else float(s["f1"]) for s in cue_scores(completions, columns)]


def hallucination_reward(completions, **columns) -> list[float]:
    """Minus the number of invented visual / auditory cues (no reference cue of that modality matches them)."""
    return [-float(s["invented"]) for s in cue_scores(completions, columns)]


def sections(text: str) -> list[str]:
    """The sections a text opens, in the order they first appear ("video", "audio", "overall")."""
    found = [(m.start(), name) for name, pattern in SECTIONS if (m := pattern.search(text or ""))]
    return [name for _, name in sorted(found)]


def format_reward(completions, **columns) -> list[float]:
    """The share of the reference's sections the completion opens in the reference's order (all three when the
    reference text is unknown); 0 for an empty completion."""
    out = []
    for i, completion in enumerate(completions):
        wanted = sections(reference_text(columns, i)) or [name for name, _ in SECTIONS]
        have = sections(completion_text(completion))
        in_order = [name for name in have if name in wanted]
        # the longest prefix-respecting match: sections present and in the reference's relative order
        matched, position = 0, -1
        for name in in_order:
            index = wanted.index(name)
            if index > position:
                matched, position = matched + 1, index
        out.append(matched / len(wanted))
    return out


DEFAULT_REWARDS = (emotion_reward, cue_reward, hallucination_reward, format_reward)
