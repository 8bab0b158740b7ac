"""Modality attribution: which input (video, audio, subtitle) each stated cue and the emotion rest on.

    from processing.inference.attribution import attribute
    result = attribute(Explainer.load(), "clip.mp4", subtitle="Oh great.")
    result.cues          # [{"category": "visual", "cue": "The person smiles.", "depends_on": ["video"]}, ...]
    result.emotion_depends_on

The clip is explained with all its inputs and once more without each input it has (the model accepts any
modality missing), all in ONE batched `generate` call (left-padded, greedy: the rows do not influence each other).
A cue the full input states *depends on* a modality when the explanation without that modality no longer states
it; the emotion depends on a modality when the emotion without it is another one. A cue may depend on several
modalities or on none (the model states it whatever input it loses: a prior, or the other inputs suffice).

Cue identity: both explanations are parsed by EmoCue-360's rule parser (`explain.parse_cues`), which maps every
clause that is one of the basic cues, however paraphrased ("the speaker's voice is deep"), to its canonical
statement ("The voice is low-pitched."); other clauses are kept as written. So comparing the parsed cues as
strings (case and spacing folded) compares cues, not wordings. Embedding similarity (EmoCue-360's matching of
free text) is not used: it would make "present / gone" a threshold choice and cost a sentence encoder per call.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

MODALITIES = ("video", "audio", "subtitle")
_WITHOUT = {"video": "frames", "audio": "audio", "subtitle": "subtitle"}
_EMPTY = {"frames": None, "audio": None, "subtitle": ""}


def cue_key(cue: str) -> str:
    """The identity of a parsed cue: lower case, single spaces, no closing punctuation."""
    return " ".join(cue.lower().split()).rstrip(".!;, ")


def present_modalities(clip: dict) -> list[str]:
    """The inputs a decoded clip (`frames`, `audio`, `subtitle`) has."""
    present = []
    if clip.get("frames") is not None:
        present.append("video")
    if clip.get("audio") is not None:
        present.append("audio")
    if (clip.get("subtitle") or "").strip():
        present.append("subtitle")
    return present


def ablations(clip: dict) -> list[tuple[str | None, dict]]:
    """[(None, the clip), ("video", the clip without frames), ...] for every modality the clip has."""
    rows = [(None, clip)]
    for modality in present_modalities(clip):
        key = _WITHOUT[modality]
        rows.append((modality, {**clip, key: _EMPTY[key], **({"timestamps": None} if key == "frames" else {})}))
    return rows


@dataclass
class Attribution:
    """One clip's explanation with all inputs, what changed without each input, and per cue / for the emotion
    the modalities it depends on."""

    explanation: str
    emotion: str | None
    emotion_depends_on: list[str]
    cues: list[dict]  # {"category", "cue", "depends_on": [modality, ...]} for every cue the full input states
    present: list[str]  # the modalities the clip has (only these were removed)
    without: dict[str, dict] = field(default_factory=dict)  # modality -> {"explanation", "emotion", "cues"}
    subtitle: str | None = None  # the subtitle the model read, and where it came from (as in `Explanation`)
    subtitle_source: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> dict[str, list[str]]:
        """{modality: [cues that depend on it]} plus "none": cues no single removal takes away."""
        out = {m: [] for m in self.present}
        out["none"] = []
        for cue in self.cues:
            for modality in cue["depends_on"] or ["none"]:
                out[modality].append(cue["cue"])
        return out


def compare(full_text: str, without_texts: dict[str, str], present: list[str]) -> Attribution:
    """The attribution from the full-input explanation and those without each modality (texts already generated)."""
    from .explain import parse_cues

    cues, emotion = parse_cues(full_text)
    without = {}
    for modality, text in without_texts.items():
        their_cues, their_emotion = parse_cues(text)
        without[modality] = {"explanation": text, "emotion": their_emotion, "cues": their_cues}
    stated = {m: {cue_key(c) for category in w["cues"].values() for c in category} for m, w in without.items()}
    attributed = []
    for category in ("visual", "auditory", "emotional"):
        for cue in cues.get(category) or []:
            depends = [m for m in present if m in stated and cue_key(cue) not in stated[m]]
            attributed.append({"category": category, "cue": cue, "depends_on": depends})
    emotion_depends = [m for m in present if m in without and without[m]["emotion"] != emotion] if emotion else []
    return Attribution(full_text, emotion, emotion_depends, attributed, list(present), without)


def attribute_clips(model, processor, clips: list[dict], generation: dict) -> list[Attribution]:
    """Attributions for decoded clips (dicts with `frames`, `timestamps`, `audio`, `subtitle`): every clip with all
    its inputs and without each one, in one `generate` call."""
    from .predict import generate_batch

    rows, owners = [], []
    for index, clip in enumerate(clips):
        for modality, row in ablations(clip):
            rows.append(row)
            owners.append((index, modality))
    start = time.perf_counter()
    texts = generate_batch(model, processor, rows, {**generation, "do_sample": False})
    seconds = time.perf_counter() - start
    full = {}
    without = {index: {} for index in range(len(clips))}
    for (index, modality), text in zip(owners, texts):
        if modality is None:
            full[index] = text
        else:
            without[index][modality] = text
    results = []
    for index, clip in enumerate(clips):
        result = compare(full[index], without[index], present_modalities(clip))
        result.timings["generate"] = round(seconds, 4)
        results.append(result)
    return results


def attribute(explainer, video, audio=None, subtitle: str = "", **generation) -> Attribution:
    """Attribute one clip with an `Explainer` (its decoding, subtitle transcription and generation settings).
    Greedy decoding only: sampling would make "gone without X" a matter of chance."""
    clip, decoded = explainer.read_clip(video, audio, subtitle)  # the rows' model inputs are built in the batch
    row = {"frames": clip.frames, "timestamps": clip.timestamps, "audio": clip.audio, "subtitle": clip.subtitle}
    kwargs = explainer.generation_kwargs({**generation, "do_sample": False, "num_beams": None})
    kwargs.pop("num_beams", None)
    [result] = attribute_clips(explainer.model, explainer.processor, [row], kwargs)
    result.timings = {"decode": round(decoded, 4), **result.timings}
    result.notes = explainer.notes + clip.notes
    result.subtitle, result.subtitle_source = clip.subtitle, clip.subtitle_source
    missing = [m for m in MODALITIES if m not in result.present]
    if missing:
        result.notes.append(f"the clip has no {' and no '.join(missing)}: nothing to remove there")
    return result


def format_text(result: Attribution) -> str:
    """The attribution as lines for a terminal: one line per cue, then the emotion."""
    width = max([len(c["cue"]) for c in result.cues] + [10])
    lines = [f"which input each cue rests on (gone when that input is removed; inputs: {', '.join(result.present)}):"]
    for cue in result.cues:
        depends = ", ".join(cue["depends_on"]) or "none (stated without any one input)"
        lines.append(f"  {cue['category']:<9}  {cue['cue']:<{width}}  <- {depends}")
    depends = ", ".join(result.emotion_depends_on) or "none (the same without any one input)"
    lines.append(f"  {'emotion':<9}  {result.emotion or '(not stated)':<{width}}  <- {depends}")
    for modality, other in result.without.items():
        lines.append(f"  without {modality}: emotion {other['emotion'] or '(not stated)'}")
    return "\n".join(lines)


__all__ = ["MODALITIES", "Attribution", "ablations", "attribute", "attribute_clips", "compare", "cue_key",
           "format_text", "present_modalities"]
