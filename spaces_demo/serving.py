"""What the Space needs around `processing.inference.explain.Explainer`: settings from the environment, the served
model (+ a 4-bit copy on demand) and EmoCue-360 against a reference. The cancellable, time-limited token stream is
`Explainer.stream_prepared(..., deadline=...)`.

Nothing here imports gradio, so the serving logic can be tested and reused without a web server.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from processing.errors import XEmoGPTError
from processing.inference.explain import DEFAULT_MODEL, REPO_ROOT, Explainer

MODEL_ENV = "XEMOGPT_MODEL"
HERE = Path(__file__).resolve().parent


def front_matter_models(readme: str | os.PathLike = HERE / "README.md") -> list[str]:
    """The `models:` of the Space's README front matter (the Hub ids the Space serves, first = default)."""
    from huggingface_hub import metadata_load

    models = (metadata_load(readme) or {}).get("models") or [] if Path(readme).is_file() else []
    return [models] if isinstance(models, str) else [str(m) for m in models]


def default_model_source() -> str | None:
    """What the Space serves when no explainer is given: `$XEMOGPT_MODEL`; else, in a checkout of the repository,
    the bundled demo model; else (an assembled Space, `make space`) the first Hub id of the front matter's `models:`.
    None: nothing to load (a checkout whose demo model was not trained)."""
    named = os.environ.get(MODEL_ENV)
    if named:
        return named
    if (Path(DEFAULT_MODEL) / "config.json").exists():
        return str(DEFAULT_MODEL)
    models = front_matter_models()
    return models[0] if models else None


def default_asr_source() -> str | None:
    """The speech-recognition model for clips given without a subtitle: `$XEMOGPT_ASR_MODEL` (`none`: off); else, in
    a checkout, the converted Whisper folder (`make whisper`); else (an assembled Space) the front matter's Whisper
    id among `models:`. None: clips without a subtitle are explained from their media, with a note."""
    from processing.inference.asr import ASR_MODEL_ENV, default_model

    local = default_model()
    if local is not None or os.environ.get(ASR_MODEL_ENV, "").strip():
        return local
    return next((m for m in front_matter_models()[1:] if "whisper" in m.lower()), None)


# ----------------------------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class SpaceSettings:
    """Serving limits. Each field can be set with the environment variable `XEMOGPT_<FIELD NAME IN CAPITALS>`."""

    max_file_size: str = "50mb"  # largest upload gradio accepts (video or audio)
    max_clip_seconds: float = 60.0  # longest clip explained; checked once the file is open
    request_timeout: float = 120.0  # seconds per request: decoding + generation; the text stops there
    concurrency: int = 2  # requests generating at the same time; the rest wait in the queue
    queue_size: int = 32  # requests waiting at most; more are refused with "queue full"
    max_new_tokens_limit: int = 512  # the top of the "max new tokens" slider
    # Clips longer than two windows are also explained window by window (processing/inference/timeline.py), drawn as a strip
    # chart; clips longer than max_clip_seconds only so. The windows finished by timeline_timeout are shown.
    timeline_window: float = 8.0  # seconds per window
    timeline_stride: float = 4.0  # seconds from one window's start to the next
    max_timeline_seconds: float = 600.0  # the longest clip explained (as a timeline)
    timeline_timeout: float = 600.0  # seconds per timeline request

    @classmethod
    def from_env(cls, environ=None, **overrides) -> "SpaceSettings":
        environ = os.environ if environ is None else environ
        values = {}
        for item in fields(cls):
            name = f"XEMOGPT_{item.name.upper()}"
            raw = environ.get(name)
            if raw in (None, ""):
                continue
            kind = type(item.default)
            try:
                values[item.name] = kind(raw)
            except ValueError:
                raise XEmoGPTError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
        values.update(overrides)
        return cls(**values)


def on_zero_gpu_space() -> bool:
    """True on a Hugging Face Space (SPACE_ID is set) where the `spaces` package is installed."""
    return bool(os.environ.get("SPACE_ID")) and importlib.util.find_spec("spaces") is not None


def gpu_decorator(duration: float):
    """`spaces.GPU(duration=...)` on a Space with the `spaces` package (ZeroGPU), otherwise a no-op decorator."""
    if on_zero_gpu_space():
        import spaces

        return spaces.GPU(duration=int(duration))
    return lambda function: function


# ----------------------------------------------------------------------------------------------------------------
# The served model


def bitsandbytes_available() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def _move_to_accelerator(explainer: Explainer) -> Explainer:
    import torch

    if torch.cuda.is_available() and explainer.model.device.type == "cpu":
        explainer.model.to("cuda")
    return explainer


def _words_only(explainer: Explainer) -> None:
    """Make a random model's noise read (and stream) as words.

    With random tied embeddings greedy decoding repeats the prompt's last token ("\\n") forever: an empty box that
    looks like a broken page. Allowing only whole-word tokens (byte-level BPE pieces that start with a space)
    and no repeated word pair gives meaningless but visible text that streams word by word.
    """
    tokenizer = explainer.processor.tokenizer
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    words = {i for i, token in enumerate(tokens) if token and token[0] == "Ġ" and token[1:].isalpha() and len(token) > 2}
    if len(words) < 2:  # not a byte-level BPE vocabulary: leave generation alone
        return
    explainer.generation_defaults.setdefault("suppress_tokens", [i for i in range(len(tokens)) if i not in words])
    explainer.generation_defaults.setdefault("no_repeat_ngram_size", 2)


class ServedModel:
    """The Explainer the app serves and, loaded on first use, its 4-bit copy.

    Args:
        explainer: an `Explainer`, a `(model, processor)` pair (tests pass `tiny_model_and_processor()`), a
            model folder or Hub id (loaded through the Auto classes with its own code, `trust_remote_code`), or
            None for `default_model_source()`. Only a checkout whose demo model was never trained falls back to a
            random tiny model, and the page says so.
    """

    def __init__(self, explainer=None):
        if explainer is None:
            explainer = default_model_source()
        self.source = None  # what Explainer.load can load again for the 4-bit copy; None when injected
        if explainer is None:
            explainer = Explainer.load(None)  # the labelled random model of an untrained checkout
        elif isinstance(explainer, (str, os.PathLike)):
            self.source = str(explainer)
            explainer = Explainer.load(self.source, trust_remote_code=True)
        elif isinstance(explainer, tuple):
            explainer = Explainer(*explainer)
        if not isinstance(explainer, Explainer):
            raise TypeError("explainer must be an Explainer, a (model, processor) pair, a model folder / Hub id "
                            f"or None, got {type(explainer).__name__}")
        self.explainer = _move_to_accelerator(explainer)
        if self.explainer.transcriber is None:  # clips without a subtitle: their speech, transcribed (processing/inference/asr.py)
            from processing.inference.asr import Transcriber

            source = default_asr_source()
            self.explainer.transcriber = None if source is None else Transcriber(source)
        self.explainer.transcriber_required = False  # a Space whose speech model fails still explains, with a note
        if self.is_random:
            self.source = None  # the random fallback: nothing worth quantizing
            _words_only(self.explainer)
        self._quantized = None
        self._lock = threading.Lock()

    @property
    def is_random(self) -> bool:
        """A model built on the fly with random weights (its text is noise)."""
        return not getattr(self.explainer.model, "name_or_path", "")

    @property
    def can_quantize(self) -> bool:
        return self.source is not None and bitsandbytes_available()

    def describe(self) -> str:
        """Markdown naming the model that answers."""
        if self.is_random:
            return "a **random tiny model** (its explanations are noise)"
        name = str(self.explainer.model.name_or_path)
        if Path(name).resolve() == Path(DEFAULT_MODEL).resolve():
            return f"the bundled demo model `{Path(DEFAULT_MODEL).relative_to(REPO_ROOT)}` (trained on EmoCue-Synth only)"
        if not Path(name).exists() and "/snapshots/" in name:  # a Hub download: name it by its id
            name = self.source or name
        own_code = type(self.explainer.model).__module__.startswith("transformers_modules")
        return f"`{name}`" + (" (with the model repository's own code)" if own_code else "")

    def get(self, load_in_4bit: bool = False) -> Explainer:
        """The full-precision Explainer, or the 4-bit one (loaded once, on the first request that asks)."""
        if not load_in_4bit:
            return self.explainer
        if not self.can_quantize:
            raise XEmoGPTError("4-bit loading is not available here: it needs bitsandbytes and a model folder or Hub id")
        with self._lock:
            if self._quantized is None:
                self._quantized = Explainer.load(self.source, load_in_4bit=True, trust_remote_code=True)
                self._quantized.transcriber = self.explainer.transcriber
                self._quantized.transcriber_required = False
        return self._quantized


# ----------------------------------------------------------------------------------------------------------------
# Generation is the library's: streaming with the request's deadline and cancellation is
# `Explainer.stream_prepared(..., deadline=...)` (processing/inference/explain.py `ExplanationStream`).


# ----------------------------------------------------------------------------------------------------------------
# EmoCue-360 against a pasted reference


class ReferenceScorer:
    """EmoCue-360 precision / recall / F1 of one explanation against a reference explanation (both parsed into
    cues with `parse_explanation`). The sentence embedder (bundled all-MiniLM-L6-v2) loads on first use."""

    def __init__(self, embedder=None):
        self._embedder = embedder
        self._scorer = None
        self._lock = threading.Lock()

    def score(self, reference: str, cues: dict):
        from processing.metrics.emocue360 import EmoCue360, parse_explanation

        reference_cues = parse_explanation(reference)
        if not any(reference_cues.values()):
            raise XEmoGPTError("no cues found in the reference explanation: write full sentences such as "
                               "'In the video, the person frowns.'")
        with self._lock:
            if self._scorer is None:
                self._scorer = EmoCue360(self._embedder)
            return self._scorer.score({"clip": reference_cues}, {"clip": cues})


def score_table(result) -> dict:
    """{category: {precision, recall, f1, missed, invented}} for the one scored clip (rounded for display);
    a category the reference has no cues in is left out."""
    table = {}
    for sample in result.samples:
        table[sample.category] = {
            "precision": round(sample.precision, 3), "recall": round(sample.recall, 3), "f1": round(sample.f1, 3),
            "missed": sample.missed, "invented": sample.invented,
        }
    return table


def score_chart(result):
    """The grouped precision / recall / F1 bar chart as a PIL image."""
    import io

    from PIL import Image

    from processing.metrics.emocue360.report import chart_png

    return Image.open(io.BytesIO(chart_png(result, title="EmoCue-360 against your reference")))
