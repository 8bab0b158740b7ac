"""Automatic subtitles: a clip without a subtitle gets the transcript of its own speech.

    from processing.inference.asr import Transcriber
    transcriber = Transcriber(Transcriber.default_model())     # or any Whisper checkpoint by Hub id or folder
    transcript = transcriber.transcribe(clip.audio, clip.sampling_rate)
    transcript.text, transcript.source, transcript.note

XEmoGPT reads the subtitle as a modality of its own, so a clip explained without one loses a third of its input.
The transcript comes from transformers' own `pipeline("automatic-speech-recognition")`. It transcribes the audio the
model hears (the clip's track, or the separate audio file, as `load_clip` decoded it: its first `max_audio_seconds`),
so the subtitle and the voice the model hears cover the same seconds.

Which model (`default_model`): `$XEMOGPT_ASR_MODEL` (a Hub id or folder; `none` switches transcription off), else
Whisper tiny.en converted into `.cache/whisper-tiny.en` of a checkout (`make whisper`), else none: the clip is then
explained without a subtitle and a note says how to get one.

Nothing to transcribe is never an error: no audio track, silence, or speech recognised as no words each give a
note, and the clip is explained without a subtitle.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import OrderedDict
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from processing.errors import XEmoGPTError

REPO_ROOT = Path(__file__).resolve().parents[2]
ASR_MODEL_ENV = "XEMOGPT_ASR_MODEL"
LOCAL_WHISPER = REPO_ROOT / ".cache" / "whisper-tiny.en"  # make whisper (examples/scripts/convert_whisper_ct2.py)
OFF = "none"
# Below this RMS level (-60 dBFS) a track is silent: Whisper invents text for silence (". . . ."), so it is not asked.
SILENCE_RMS = 1e-3
# Whisper's own no-speech probability (its `<|nocaptions|>` / `<|nospeech|>` token right after start-of-transcript,
# as OpenAI's decoder reads it) above which a track holds no speech: Whisper otherwise writes a stock line ("Thank
# you.") for wordless voices. Measured with tiny.en: espeak-ng sentences 0.09-0.20 (10), EmoCue-Synth's wordless
# voices 0.39-0.82 (30 clips + the Space's 3 examples).
NO_SPEECH_PROB = 0.3
MAX_TRANSCRIPT_TOKENS = 128  # a 12-s clip says ~40 words; bounds the time a hallucinating decoder can take
NO_MODEL_NOTE = (
    "no subtitle given and no speech-recognition model available: explaining from the media only (transcribe the "
    f"speech with --asr MODEL, ${ASR_MODEL_ENV}, or `make whisper` in a checkout)"
)
_WORD = re.compile(r"[^\W_]", re.UNICODE)
# The last transcripts by (model, rate, audio digest): the Space's Explain and Attribute on one upload, or a clip
# explained again with other settings, transcribe its speech once.
_TRANSCRIPTS: OrderedDict = OrderedDict()
_TRANSCRIPTS_KEPT = 16
_TRANSCRIPTS_LOCK = threading.Lock()


@dataclass
class Transcript:
    """What the speech recogniser heard: `text` (None when nothing usable), `source` ("transcribed by <model>"),
    `note` (one line for the user: what was transcribed, or why nothing was)."""

    text: str | None
    source: str | None
    note: str


def default_model() -> str | None:
    """The speech-recognition model to use when the user names none (see the module docstring); None: no model."""
    named = os.environ.get(ASR_MODEL_ENV, "").strip()
    if named:
        return None if named.lower() == OFF else named
    if (LOCAL_WHISPER / "config.json").is_file() and (LOCAL_WHISPER / "model.safetensors").is_file():
        return str(LOCAL_WHISPER)
    return None


def display_name(model: str) -> str:
    """A short name for notes and JSON: a folder's name, or the Hub id as given."""
    path = Path(model)
    return path.name if path.exists() else model


@contextmanager
def _quiet_transformers():
    """transformers' Whisper generate warns about its own generation arguments on every first call; the user cannot
    act on it, so it is kept off the command's stderr."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


@lru_cache(maxsize=2)  # one process explaining many clips (the Space, a notebook) loads the model once
def _load_pipeline(model: str, device=None):
    from transformers import pipeline

    path = Path(model)
    if not path.exists() and (model.startswith((".", "/")) or path.suffix):
        raise XEmoGPTError(f"speech-recognition model folder {model} does not exist")
    try:
        with _quiet_transformers():
            return pipeline("automatic-speech-recognition", model=model, device=device)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise XEmoGPTError(f"cannot load speech-recognition model {model}: {reason}") from exc


class Transcriber:
    """A speech-recognition pipeline, loaded on first use (loading takes a second or two; a clip that comes with a
    subtitle never pays it)."""

    def __init__(self, model: str, *, device=None):
        self.model = str(model)
        self.name = display_name(self.model)
        self.device = device
        self._pipeline = None
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> "Transcriber | None":
        model = default_model()
        return None if model is None else cls(model)

    @property
    def pipeline(self):
        with self._lock:
            if self._pipeline is None:
                self._pipeline = _load_pipeline(self.model, self.device)
        return self._pipeline

    def transcribe(self, audio: np.ndarray | None, sampling_rate: int) -> Transcript:
        """The transcript of a mono waveform (float in [-1, 1]); `audio=None` (no track) gives no text and a note."""
        source = f"transcribed by {self.name}"
        if audio is None or len(audio) == 0:
            return Transcript(None, None, "no subtitle given and no audio track to transcribe: explaining from the "
                                          "video only")
        audio = np.asarray(audio, dtype=np.float32)
        if float(np.sqrt(np.mean(np.square(audio)))) < SILENCE_RMS:
            return Transcript(None, None, "no subtitle given and the audio track is silent: nothing to transcribe, "
                                          "explaining from the media only")
        key = (self.model, int(sampling_rate), hashlib.sha1(audio.tobytes()).hexdigest())
        with _TRANSCRIPTS_LOCK:
            text = _TRANSCRIPTS.get(key)
        if text is None:
            text = self._recognise(audio, sampling_rate)
            with _TRANSCRIPTS_LOCK:
                _TRANSCRIPTS[key] = text
                while len(_TRANSCRIPTS) > _TRANSCRIPTS_KEPT:
                    _TRANSCRIPTS.popitem(last=False)
        if not _WORD.search(text):
            return Transcript(None, None, f"no subtitle given and {self.name} heard no speech (no words) in the audio: "
                                          "explaining from the media only")
        return Transcript(text, source, f"no subtitle given: the subtitle is the speech {source}")

    def _recognise(self, audio: np.ndarray, sampling_rate: int) -> str:
        pipe = self.pipeline
        target = pipe.feature_extractor.sampling_rate
        if sampling_rate != target:
            from math import gcd

            from scipy.signal import resample_poly

            divisor = gcd(int(sampling_rate), int(target))
            audio = resample_poly(audio, target // divisor, int(sampling_rate) // divisor).astype(np.float32)
        if no_speech_probability(pipe, audio) > NO_SPEECH_PROB:
            return ""
        with _quiet_transformers():
            out = pipe({"raw": audio, "sampling_rate": target},
                       generate_kwargs={"max_new_tokens": MAX_TRANSCRIPT_TOKENS})
        return " ".join((out.get("text") or "").split())


def no_speech_probability(pipe, audio: np.ndarray) -> float:
    """Whisper's probability that `audio` (at the feature extractor's rate) holds no speech: its no-speech token
    after start-of-transcript, on the first 30 s. 0.0 for a model that is not Whisper or has no such token."""
    import torch

    model, tokenizer = pipe.model, pipe.tokenizer
    if getattr(model.config, "model_type", None) != "whisper":
        return 0.0
    token = next((tokenizer.convert_tokens_to_ids(t) for t in ("<|nocaptions|>", "<|nospeech|>")
                  if tokenizer.convert_tokens_to_ids(t) not in (None, tokenizer.unk_token_id)), None)
    if token is None:
        return 0.0
    rate = pipe.feature_extractor.sampling_rate
    features = pipe.feature_extractor(audio[: 30 * rate], sampling_rate=rate, return_tensors="pt").input_features
    start = torch.tensor([[model.generation_config.decoder_start_token_id]], device=model.device)
    with torch.no_grad():
        logits = model(input_features=features.to(model.device, model.dtype), decoder_input_ids=start).logits
    return float(logits[0, -1].float().softmax(-1)[token])


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation, as word error rates compare them."""
    return re.findall(r"[^\W_]+(?:'[^\W_]+)?", (text or "").lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words of the reference, by word-level edit distance."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i]
        for j, other in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1] / max(len(ref), 1)


def resolve(asr: str | None = None, no_asr: bool = False) -> Transcriber | None:
    """The transcriber for `--asr MODEL` / `--no-asr` (None: no transcription)."""
    if no_asr:
        return None
    if asr:
        return Transcriber(asr)
    return Transcriber.default()


__all__ = ["ASR_MODEL_ENV", "LOCAL_WHISPER", "NO_MODEL_NOTE", "Transcriber", "Transcript", "default_model", "normalize_words", "resolve",
           "word_error_rate"]
