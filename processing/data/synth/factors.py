"""The generating factors of one EmoCue-Synth clip, how they are sampled, and the splits.

A clip is fully determined by its `Factors`: the renderers draw everything (frame noise, syllable timing)
from seeds stored in it, so `Factors` -> media is a pure function.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

# Vocabularies (index = integer label for classifier pretraining). The first value is the "rest" value.
MOUTHS = ("neutral", "smile", "frown", "open", "tight-lipped")
BROWS = ("neutral", "raised", "furrowed")
EYES = ("neutral", "wide", "narrowed", "closed")
HEAD_MOTIONS = ("still", "nodding", "shaking", "turning away")
DYNAMICS = ("steady", "onset", "offset")  # onset: neutral -> X in mid-clip; offset: X -> neutral in mid-clip
TEARS = (False, True)
PITCHES = ("low", "medium", "high")
CONTOURS = ("flat", "rising", "falling")
LOUDNESSES = ("soft", "normal", "loud")
TEMPOS = ("slow", "normal", "fast")
TREMORS = ("steady", "trembling")
EVENTS = ("none", "laughter", "sigh")
SENTIMENTS = ("positive", "negative", "neutral", "question", "sarcastic")
EMOTIONS = ("neutral", "happy", "sad", "angry", "surprised", "fearful", "worried", "contemptuous")

VISUAL_FACTORS = {"mouth": MOUTHS, "brows": BROWS, "eyes": EYES, "head": HEAD_MOTIONS, "dynamics": DYNAMICS,
                  "tears": TEARS}
AUDITORY_FACTORS = {"pitch": PITCHES, "contour": CONTOURS, "loudness": LOUDNESSES, "tempo": TEMPOS,
                    "tremor": TREMORS, "event": EVENTS}
TEXT_FACTORS = {"sentiment": SENTIMENTS}
CUE_FACTORS = {**VISUAL_FACTORS, **AUDITORY_FACTORS, **TEXT_FACTORS}

# Splits by sample-index range: sample i of split s uses the random stream seeded by
# (corpus_seed, SPLIT_INDEX_BASE[s] + i), so no two splits ever share a sample index.
SPLIT_INDEX_BASE = {"train": 0, "validation": 100_000_000, "test": 200_000_000, "compositional": 300_000_000}
SPLIT_SIZE_LIMIT = 100_000_000
SPLITS = tuple(SPLIT_INDEX_BASE)

# Compositional generalisation: these (mouth, brows, pitch) combinations never occur in train / validation /
# test, and every `compositional` sample has one of them. Each value alone is common in training.
COMPOSITIONAL_KEYS = ("mouth", "brows", "pitch")
COMPOSITIONAL_HOLDOUT = frozenset({
    ("smile", "furrowed", "high"),
    ("smile", "raised", "low"),
    ("frown", "raised", "high"),
    ("open", "neutral", "low"),
    ("tight-lipped", "raised", "medium"),
    ("neutral", "furrowed", "low"),
})

DURATION_RANGE = (2.0, 12.0)  # seconds


@dataclass(frozen=True)
class Nuisance:
    """Factors that change pixels/samples but never a cue."""

    skin_rgb: tuple[int, int, int] = (224, 180, 150)
    hair_rgb: tuple[int, int, int] = (60, 40, 30)
    shirt_rgb: tuple[int, int, int] = (70, 90, 150)
    face_scale: float = 0.7  # face height / frame height
    face_x: float = 0.0  # centre offset, fraction of the frame
    face_y: float = 0.0
    bg_rgb: tuple[int, int, int] = (150, 170, 190)
    bg_texture: str = "plain"  # plain | stripes | checker | gradient | blobs
    bg_period: float = 0.25  # texture period, fraction of the frame
    bg_angle: float = 0.0  # radians
    bg_contrast: float = 0.15
    light_angle: float = 0.0  # direction the light comes from (radians)
    light_strength: float = 0.0  # 0 (flat) .. 0.3
    brightness: float = 1.0
    pixel_noise: float = 2.0  # std of the per-pixel noise, in 8-bit levels
    f0_scale: float = 1.0  # speaker's pitch relative to the level's centre (within +-6 %)
    gain_db: float = 0.0  # global audio gain jitter (voice and noise floor together)


@dataclass(frozen=True)
class Factors:
    """Everything that generates one clip. Cue factors first, then timing, nuisance and seeds."""

    mouth: str = "neutral"
    brows: str = "neutral"
    eyes: str = "neutral"
    head: str = "still"
    dynamics: str = "steady"
    tears: bool = False
    pitch: str = "medium"
    contour: str = "flat"
    loudness: str = "normal"
    tempo: str = "normal"
    tremor: str = "steady"
    event: str = "none"
    sentiment: str = "neutral"
    duration: float = 6.0  # seconds
    change_time: float = 0.5  # fraction of the clip where an onset/offset is half done
    head_cycles: float = 2.5  # nods/shakes over the whole clip (kept low so 16 sampled frames resolve them)
    head_phase: float = 0.0
    turn_side: int = 1  # +1 right, -1 left
    event_time: float = 0.5  # fraction of the clip where a laughter burst / sigh starts
    nuisance: Nuisance = field(default_factory=Nuisance)
    render_seed: int = 0  # frame noise
    voice_seed: int = 0  # syllable timing, vowels, noise floor

    def __post_init__(self):
        for name, vocab in CUE_FACTORS.items():
            if getattr(self, name) not in vocab:
                raise ValueError(f"Factors.{name}={getattr(self, name)!r} is not one of {vocab}")
        if not DURATION_RANGE[0] <= self.duration <= DURATION_RANGE[1]:
            raise ValueError(f"Factors.duration={self.duration} is outside {DURATION_RANGE} seconds")
        if self.dynamics != "steady" and not has_expression(self):
            raise ValueError("Factors.dynamics must be 'steady' when the face shows no expression")

    def cue_values(self) -> dict:
        """The cue factors only (what the cues, emotion and labels are computed from)."""
        return {name: getattr(self, name) for name in CUE_FACTORS}

    def to_json(self) -> str:
        """All generating factors as a JSON string (the record's `factors` column)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Factors":
        data = json.loads(text)
        nuisance = data.pop("nuisance")
        nuisance = {k: tuple(v) if isinstance(v, list) else v for k, v in nuisance.items()}
        return cls(**data, nuisance=Nuisance(**nuisance))


def has_expression(f) -> bool:
    """True when the face shows something that can appear or fade (dynamics is then meaningful)."""
    return f.mouth != "neutral" or f.brows != "neutral" or f.eyes != "neutral" or f.tears


def factor_labels(factors: Factors) -> dict[str, int]:
    """Integer label per cue factor (index into its vocabulary) plus the rule-derived `emotion`."""
    from .rules import derive_emotion

    labels = {name: vocab.index(getattr(factors, name)) for name, vocab in CUE_FACTORS.items()}
    labels["emotion"] = EMOTIONS.index(derive_emotion(factors).emotion)
    return labels


def compositional_key(f) -> tuple[str, str, str]:
    return tuple(getattr(f, k) for k in COMPOSITIONAL_KEYS)


# Typical cue values per emotion (and for two cross-modal conflicts). Sampling draws half of the clips from
# these so that coherent emotions are frequent; the label always comes from the rules, never from here.
PROTOTYPES = {
    "happy": dict(mouth=["smile"], brows=["neutral", "raised"], eyes=["neutral", "narrowed"],
                  head=["nodding", "still"], pitch=["high", "medium"], contour=["rising"],
                  loudness=["normal", "loud"], tempo=["fast", "normal"], tremor=["steady"],
                  event=["laughter", "none"], sentiment=["positive"]),
    "sad": dict(mouth=["frown"], brows=["neutral", "raised"], eyes=["closed", "narrowed", "neutral"],
                head=["still", "turning away"], pitch=["low"], contour=["falling"], loudness=["soft"],
                tempo=["slow"], tremor=["trembling", "steady"], event=["sigh", "none"], sentiment=["negative"]),
    "angry": dict(mouth=["tight-lipped", "frown"], brows=["furrowed"], eyes=["narrowed", "wide"],
                  head=["shaking", "still"], pitch=["low", "medium"], contour=["falling", "flat"],
                  loudness=["loud"], tempo=["fast"], tremor=["steady"], event=["none"],
                  sentiment=["negative", "sarcastic"]),
    "surprised": dict(mouth=["open"], brows=["raised"], eyes=["wide"], head=["still"], pitch=["high"],
                      contour=["rising"], loudness=["normal", "loud"], tempo=["normal", "fast"],
                      tremor=["steady"], event=["none", "laughter"], sentiment=["question", "positive"]),
    "fearful": dict(mouth=["tight-lipped", "open"], brows=["furrowed"], eyes=["wide"],
                    head=["turning away", "shaking"], pitch=["high"], contour=["rising", "flat"],
                    loudness=["soft", "normal"], tempo=["fast"], tremor=["trembling"], event=["none"],
                    sentiment=["negative", "question"]),
    "worried": dict(mouth=["tight-lipped", "neutral"], brows=["furrowed"], eyes=["neutral", "narrowed"],
                    head=["still", "turning away"], pitch=["medium"], contour=["flat", "falling"],
                    loudness=["soft", "normal"], tempo=["normal", "slow"], tremor=["trembling"],
                    event=["sigh", "none"], sentiment=["negative", "question"]),
    "neutral": dict(mouth=["neutral"], brows=["neutral"], eyes=["neutral"], head=["still", "nodding"],
                    pitch=["medium"], contour=["flat"], loudness=["normal"], tempo=["normal"],
                    tremor=["steady"], event=["none"], sentiment=["neutral", "question"]),
    "forced smile": dict(mouth=["smile"], brows=["neutral"], eyes=["neutral"], head=["still"],
                         pitch=["low"], contour=["falling", "flat"], loudness=["soft"], tempo=["slow"],
                         tremor=["trembling"], event=["none", "sigh"], sentiment=["negative"]),
    "contemptuous": dict(mouth=["tight-lipped", "neutral"], brows=["neutral", "raised"],
                         eyes=["narrowed", "neutral"], head=["still", "turning away"], pitch=["medium", "low"],
                         contour=["flat", "falling"], loudness=["normal"], tempo=["slow", "normal"],
                         tremor=["steady"], event=["none", "sigh"], sentiment=["sarcastic"]),
}
PROTOTYPE_SHARE = 0.5  # share of clips drawn around a prototype (the rest: every cue factor uniform)
PROTOTYPE_FIDELITY = 0.75  # chance that a prototype's factor takes one of its typical values
PROTOTYPE_WEIGHTS = {"neutral": 4.0}  # others 1 (a neutral clip needs every modality calm)
TEARS_RATE = {"sad": 0.4, "forced smile": 0.3, "fearful": 0.15, None: 0.04}
HEAD_WEIGHTS = {"still": 0.35, "nodding": 0.25, "shaking": 0.2, "turning away": 0.2}
DYNAMICS_WEIGHTS = {"steady": 0.4, "onset": 0.3, "offset": 0.3}

SKIN_TONES = ((255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 94), (160, 102, 66),
              (125, 80, 52), (100, 64, 42))
BG_TEXTURES = ("plain", "stripes", "checker", "gradient", "blobs")


def _choice(rng: np.random.Generator, values, weights=None):
    values = list(values)
    if weights is None:
        return values[int(rng.integers(len(values)))]
    p = np.asarray(list(weights), dtype=float)
    return values[int(rng.choice(len(values), p=p / p.sum()))]


def _rgb(rng, base, jitter) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-jitter, jitter + 1), 0, 255)) for c in base)


def sample_nuisance(rng: np.random.Generator) -> Nuisance:
    """Draw skin tone, face size/position, background, lighting and noise (never a cue)."""
    return Nuisance(
        skin_rgb=_rgb(rng, _choice(rng, SKIN_TONES), 10),
        hair_rgb=_rgb(rng, _choice(rng, [(30, 22, 18), (70, 45, 25), (120, 85, 45), (180, 150, 90),
                                         (110, 110, 110)]), 10),
        shirt_rgb=tuple(int(c) for c in rng.integers(30, 226, 3)),
        face_scale=float(rng.uniform(0.58, 0.78)),
        face_x=float(rng.uniform(-0.08, 0.08)),
        face_y=float(rng.uniform(-0.05, 0.05)),
        bg_rgb=tuple(int(c) for c in rng.integers(20, 236, 3)),
        bg_texture=_choice(rng, BG_TEXTURES),
        bg_period=float(rng.uniform(0.08, 0.4)),
        bg_angle=float(rng.uniform(0, np.pi)),
        bg_contrast=float(rng.uniform(0.05, 0.25)),
        light_angle=float(rng.uniform(0, 2 * np.pi)),
        light_strength=float(rng.uniform(0.0, 0.3)),
        brightness=float(rng.uniform(0.85, 1.15)),
        pixel_noise=float(rng.uniform(0.0, 6.0)),
        f0_scale=float(rng.uniform(0.94, 1.06)),
        gain_db=float(rng.uniform(-4.0, 1.0)),
    )


def _sample_cues(rng: np.random.Generator) -> dict:
    names = sorted(PROTOTYPES)
    weights = [PROTOTYPE_WEIGHTS.get(n, 1.0) for n in names]
    prototype = _choice(rng, names, weights) if rng.random() < PROTOTYPE_SHARE else None
    prefs = PROTOTYPES.get(prototype, {})
    cues = {}
    for name, vocab in CUE_FACTORS.items():
        if name in ("tears", "dynamics"):
            continue
        if name in prefs and rng.random() < PROTOTYPE_FIDELITY:
            cues[name] = _choice(rng, prefs[name])
        elif name == "head":
            cues[name] = _choice(rng, HEAD_WEIGHTS, HEAD_WEIGHTS.values())
        else:
            cues[name] = _choice(rng, vocab)
    cues["tears"] = bool(rng.random() < TEARS_RATE.get(prototype, TEARS_RATE[None]))
    return cues


def sample_factors(rng: np.random.Generator, split: str = "train") -> Factors:
    """Draw one clip's factors for `split` ("train", "validation", "test" or "compositional").

    Train/validation/test never contain a (mouth, brows, pitch) combination of COMPOSITIONAL_HOLDOUT;
    compositional samples always do (the rest of their factors is drawn as usual).
    """
    if split not in SPLIT_INDEX_BASE:
        raise ValueError(f"unknown split {split!r}: use one of {SPLITS}")
    cues = _sample_cues(rng)
    if split == "compositional":
        held_out = sorted(COMPOSITIONAL_HOLDOUT)[int(rng.integers(len(COMPOSITIONAL_HOLDOUT)))]
        cues.update(zip(COMPOSITIONAL_KEYS, held_out))
    else:
        while tuple(cues[k] for k in COMPOSITIONAL_KEYS) in COMPOSITIONAL_HOLDOUT:
            cues = _sample_cues(rng)
    expressive = has_expression(SimpleNamespace(**cues))
    cues["dynamics"] = _choice(rng, DYNAMICS_WEIGHTS, DYNAMICS_WEIGHTS.values()) if expressive else "steady"
    return Factors(
        **cues,
        duration=round(float(rng.uniform(*DURATION_RANGE)), 1),
        change_time=float(rng.uniform(0.4, 0.6)),
        head_cycles=float(rng.choice([2.0, 2.5, 3.0])),
        head_phase=float(rng.uniform(0, 2 * np.pi)),
        turn_side=int(rng.choice([-1, 1])),
        event_time=float(rng.uniform(0.15, 0.7)),
        nuisance=sample_nuisance(rng),
        render_seed=int(rng.integers(2**31)),
        voice_seed=int(rng.integers(2**31)),
    )


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of sample `index` of `split` in the corpus made with `seed`."""
    if split not in SPLIT_INDEX_BASE:
        raise ValueError(f"unknown split {split!r}: use one of {SPLITS}")
    if not 0 <= index < SPLIT_SIZE_LIMIT:
        raise ValueError(f"sample index {index} is outside [0, {SPLIT_SIZE_LIMIT})")
    return np.random.default_rng([int(seed), SPLIT_INDEX_BASE[split] + int(index)])
