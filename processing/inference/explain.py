"""Explain one clip: the Python API behind `xemogpt explain` and the Space.

    from processing.inference.explain import Explainer
    explainer = Explainer.load()                       # the bundled demo model (or a folder / Hub id)
    result = explainer.explain("clip.mp4", subtitle="I can't believe it!")
    print(result.explanation, result.cues, result.emotion, result.timings)
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
import threading
from threading import Thread

import numpy as np

from processing.errors import XEmoGPTError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO_ROOT / "examples" / "models" / "xemogpt-synth-tiny"
UNTRAINED_REFUSAL = (
    "no trained model at {path}: train it (make demo-model), choose one (--model FOLDER_OR_HUB_ID), or pass "
    "--allow-untrained to run a random model whose text is noise"
)
UNTRAINED_TAG = "untrained"  # a model card tag: random weights (examples/models/xemogpt-synth-tiny-untrained)
UNTRAINED_FOLDER_REFUSAL = (
    "{model} is an untrained model (its card is tagged 'untrained': random weights, its text is noise); train it "
    "first, or pass --allow-untrained to run it anyway"
)
UNTRAINED_FOLDER_NOTE = "{model} is UNTRAINED (random weights): its text is noise"
RANDOM_MODEL_NOTE = (
    "no trained model found at {path}: using a RANDOM tiny model built on the fly - its text is noise "
    "(train it with `make demo-model`, or choose a model: --model / XEMOGPT_MODEL)"
)


# The longest subtitle that reaches the prompt, in tokens: ~380 English words, minutes of speech for clips the model
# hears 12 s of. Longer ones are cut (with a note), so that prompt length, memory and time stay bounded.
MAX_SUBTITLE_TOKENS = 512


def bounded_subtitle(subtitle: str, tokenizer, max_tokens: int = MAX_SUBTITLE_TOKENS) -> tuple[str, str | None]:
    """(`subtitle` cut to its first `max_tokens` tokens, a note saying so or None)."""
    subtitle = subtitle or ""
    if len(subtitle) <= max_tokens:  # a token holds at least one character
        return subtitle, None
    ids = tokenizer(subtitle[: max_tokens * 32], add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return subtitle, None
    kept = tokenizer.decode(ids[:max_tokens])
    return kept, (f"subtitle cut to its first {max_tokens} tokens ({len(kept):,} of {len(subtitle):,} characters): "
                  "the model reads a bounded prompt")


@dataclass
class Explanation:
    """What the model wrote about one clip, with the cues parsed from it and where the time went."""

    explanation: str
    cues: dict[str, list[str]]
    emotion: str | None
    timings: dict[str, float]
    notes: list[str] = field(default_factory=list)
    timestamps: list[float] | None = None
    frames: np.ndarray | None = field(default=None, repr=False)
    subtitle: str | None = None  # the subtitle the model read ("" without one)
    subtitle_source: str | None = None  # "given", "transcribed by <model>" (processing/inference/asr.py), None without one

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("frames")
        return data


def parse_cues(text: str) -> tuple[dict[str, list[str]], str | None]:
    """The cue lists (visual / auditory / emotional) and the emotion named in an explanation."""
    from processing.metrics.emocue360 import extract_emotion, parse_explanation

    return parse_explanation(text), extract_emotion(text)


def is_untrained(model) -> bool:
    """Whether the model card (README.md) of a folder or Hub id is tagged `untrained`."""
    from huggingface_hub import ModelCard
    from transformers.utils import cached_file

    try:
        readme = cached_file(str(model), "README.md", _raise_exceptions_for_missing_entries=False)
        tags = ModelCard.load(readme).data.tags if readme else None
    except Exception:  # noqa: BLE001 - no card, an unreadable one: nothing says it is untrained
        return False
    return UNTRAINED_TAG in (tags or [])


def _load_with_repo_code(name: str, kwargs: dict):
    """(model, processor) of a folder / Hub id built from the code it carries (its `auto_map`), as
    `AutoModel.from_pretrained(name, trust_remote_code=True)` does where this package is not installed. (With this
    package imported its registered classes would win over the repo's code.)"""
    import json

    from transformers.dynamic_module_utils import get_class_from_dynamic_module
    from transformers.utils import cached_file

    def auto_map(filename):
        found = cached_file(name, filename, _raise_exceptions_for_missing_entries=False)
        return (json.loads(Path(found).read_text()).get("auto_map") or {}) if found else {}

    model_ref = auto_map("config.json").get("AutoModel")
    processor_ref = auto_map("processor_config.json").get("AutoProcessor")
    if not model_ref or not processor_ref:
        raise ValueError(f"{name} carries no model / processor code of its own (no auto_map)")
    model_class = get_class_from_dynamic_module(model_ref, name)
    processor_class = get_class_from_dynamic_module(processor_ref, name)
    return model_class.from_pretrained(name, **kwargs), processor_class.from_pretrained(name)


class Explainer:
    """A loaded model + processor that turns clips into cue-by-cue explanations."""

    def __init__(self, model, processor, *, notes=None, generation_defaults=None, transcriber=None):
        self.model = model.eval()
        self.processor = processor
        self.notes = list(notes or [])
        # A clip without a subtitle gets its speech transcribed by this `processing.inference.asr.Transcriber` (None: not)
        self.transcriber = transcriber
        # True: a transcriber that cannot load or run is an error (the CLI's user named it); False (the Space): a
        # note, and the clip is explained from its media.
        self.transcriber_required = True
        self.no_transcriber_note = "no subtitle given: explaining from the media only"
        self.generation_defaults = {"max_new_tokens": 256, "do_sample": False}
        self.generation_defaults.update(generation_defaults or {})

    @classmethod
    def load(cls, model=None, *, load_in_4bit=False, load_in_8bit=False, dtype=None, device=None,
             allow_untrained=True, trust_remote_code=False) -> "Explainer":
        """Load a model folder or Hub id (default: the bundled demo model). When no `model` is given and the bundled
        one is missing: a random tiny model, said so in `notes`, if `allow_untrained`; else an `XEmoGPTError`.
        `trust_remote_code`: load the model and processor with the code the folder / Hub repo carries (what a Space
        serving a Hub id does) instead of this package's classes."""
        import modeling_xemogpt  # noqa: F401  (registers the Auto* classes)
        from transformers import AutoModel, AutoProcessor

        notes = []
        if model is None:
            if not (DEFAULT_MODEL / "config.json").exists():
                if not allow_untrained:
                    raise XEmoGPTError(UNTRAINED_REFUSAL.format(path=DEFAULT_MODEL))
                from processing.testing import tiny_model_and_processor

                tiny, processor = tiny_model_and_processor(seed=0, num_frames=16, max_audio_seconds=12.0)
                notes.append(RANDOM_MODEL_NOTE.format(path=DEFAULT_MODEL))
                return cls(tiny, processor, notes=notes, generation_defaults={"max_new_tokens": 48})
            model = DEFAULT_MODEL
        path = Path(str(model))
        if not path.exists() and (str(model).startswith((".", "/")) or path.suffix):
            raise XEmoGPTError(f"model folder {model} does not exist")
        if is_untrained(model):
            if not allow_untrained:
                raise XEmoGPTError(UNTRAINED_FOLDER_REFUSAL.format(model=model))
            notes.append(UNTRAINED_FOLDER_NOTE.format(model=model))
        kwargs = {}
        if load_in_4bit or load_in_8bit:
            from .quantization import quantization_config_from_flags, recommended_dtype

            kwargs["quantization_config"] = quantization_config_from_flags(load_in_4bit, load_in_8bit)
            dtype = dtype or recommended_dtype(load_in_4bit, load_in_8bit)
        if dtype is not None:
            kwargs["dtype"] = dtype
        if device is not None:
            kwargs["device_map"] = device
        from pickle import UnpicklingError

        from safetensors import SafetensorError

        try:
            if trust_remote_code:
                loaded, processor = _load_with_repo_code(str(model), kwargs)
            else:
                loaded = AutoModel.from_pretrained(str(model), **kwargs)
                processor = AutoProcessor.from_pretrained(str(model))
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError, UnpicklingError) as exc:
            # a folder without config / weights, truncated weights, pickle weights that are not weights-only (never
            # unpickled), a config of another model
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise XEmoGPTError(f"cannot load model {model}: {reason}") from exc
        if load_in_4bit:
            from .quantization import unpack_odd_4bit_layers

            unpack_odd_4bit_layers(loaded)  # 4-bit layers narrower than 64 have no CPU kernel
        defaults = {}
        generation_config = getattr(loaded, "generation_config", None)
        if generation_config is not None and generation_config.max_new_tokens:
            defaults["max_new_tokens"] = generation_config.max_new_tokens
        return cls(loaded, processor, notes=notes, generation_defaults=defaults)

    # ------------------------------------------------------------------------------------------------------------

    def _read(self, video, audio, allow_audio_only=True):
        from processing.media import load_clip

        return load_clip(
            video,
            audio,
            num_frames=self.processor.num_frames,
            sampling_rate=self.processor.sampling_rate,
            max_audio_seconds=self.processor.max_audio_seconds,
            allow_audio_only=allow_audio_only,
        )

    def generation_kwargs(self, overrides=None) -> dict:
        """generate() settings: the model's defaults updated by `overrides` (None values ignored)."""
        kwargs = dict(self.generation_defaults)
        kwargs.update({k: v for k, v in (overrides or {}).items() if v is not None})
        if not kwargs.get("do_sample"):
            kwargs.pop("temperature", None)
            kwargs.pop("top_p", None)
        kwargs.setdefault("pad_token_id", self.processor.tokenizer.pad_token_id)
        return kwargs

    def subtitle_for(self, clip, subtitle: str) -> tuple[str, str | None]:
        """(the subtitle the model reads, its source): the given one, else the clip's speech transcribed by
        `self.transcriber`, else "" (each with a note on the clip). Sets `clip.transcribe_seconds` when it
        transcribed."""
        if (subtitle or "").strip():
            return subtitle, "given"
        if self.transcriber is None:
            clip.notes.append(self.no_transcriber_note)
            return "", None
        start = time.perf_counter()
        try:
            transcript = self.transcriber.transcribe(clip.audio, clip.sampling_rate)
        except XEmoGPTError as exc:
            if self.transcriber_required:
                raise
            clip.notes.append(f"no subtitle given and the speech could not be transcribed ({exc}): explaining from "
                              "the media only")
            return "", None
        clip.transcribe_seconds = time.perf_counter() - start
        clip.notes.append(transcript.note)
        return transcript.text or "", transcript.source

    def read_clip(self, video, audio=None, subtitle=""):
        """Decode one clip and settle its subtitle: (Clip, seconds spent decoding). The Clip carries `subtitle` (what
        the model reads: given or transcribed, bounded) and `subtitle_source` (see `subtitle_for`)."""
        start = time.perf_counter()
        clip = self._read(video, audio)
        decoded = time.perf_counter() - start
        subtitle, clip.subtitle_source = self.subtitle_for(clip, subtitle)
        subtitle, note = bounded_subtitle(subtitle, self.processor.tokenizer)
        clip.subtitle = subtitle or ""
        if note:
            clip.notes.append(note)
        return clip, decoded

    def prepare(self, video, audio=None, subtitle=""):
        """Decode and preprocess one clip: (model inputs on the model's device, Clip, seconds spent decoding)."""
        clip, decoded = self.read_clip(video, audio, subtitle)
        inputs = self.processor.prepare_clip(clip.frames, clip.audio, subtitle=clip.subtitle, timestamps=clip.timestamps)
        return inputs.to(self.model.device), clip, decoded

    def encode(self, inputs) -> dict:
        """Run the frozen encoders once and hand their outputs to generate() in place of the raw media."""
        core = self.model.model
        inputs = dict(inputs)
        if "pixel_values_videos" in inputs:
            inputs["video_features"] = core.encode_video(inputs.pop("pixel_values_videos"))
        if "input_values" in inputs or "input_features" in inputs:
            features, mask = core.encode_audio(
                inputs.pop("input_values", None), inputs.pop("input_features", None), inputs.pop("audio_attention_mask", None)
            )
            inputs["audio_features"], inputs["audio_features_mask"] = features, mask
        return inputs

    def explain(self, video, audio=None, subtitle="", **generation) -> Explanation:
        """Explain one clip. `generation` overrides generate() settings (max_new_tokens, do_sample, temperature...)."""
        stream = self.explain_stream(video, audio, subtitle, **generation)
        for _ in stream:
            pass
        return stream.result

    def explain_stream(self, video, audio=None, subtitle="", stopping_criteria=None, deadline=None,
                       **generation) -> "ExplanationStream":
        """An iterable of the explanation text as it grows; its `.result` holds the `Explanation` once exhausted.

        The clip is decoded and encoded here (errors surface at once); generation starts when iteration does and
        stops at `deadline` (`time.monotonic()` seconds) or when the consumer stops iterating.
        """
        inputs, clip, decoded = self.prepare(video, audio, subtitle)
        timings = {"decode": decoded}
        if getattr(clip, "transcribe_seconds", None) is not None:
            timings["transcribe"] = clip.transcribe_seconds
        return self.stream_prepared(inputs, clip, stopping_criteria=stopping_criteria, deadline=deadline,
                                    timings=timings, **generation)

    def stream_prepared(self, inputs, clip=None, *, stopping_criteria=None, deadline=None, timings=None,
                        **generation) -> "ExplanationStream":
        """`explain_stream` for inputs already made by `prepare` (e.g. after checking the clip's length)."""
        import torch

        start = time.perf_counter()
        with torch.no_grad():
            inputs = self.encode(inputs)
        timings = {**(timings or {}), "encode": time.perf_counter() - start}
        kwargs = self.generation_kwargs(generation)
        if stopping_criteria is not None:
            kwargs["stopping_criteria"] = stopping_criteria
        return ExplanationStream(self, inputs, kwargs, clip, timings, deadline=deadline)


def _stop_when(should_stop):
    """A generate() stopping criterion that ends generation as soon as `should_stop()` turns true."""
    import torch
    from transformers import StoppingCriteria

    class StopWhen(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), should_stop(), dtype=torch.bool, device=input_ids.device)

    return StopWhen()


class ExplanationStream:
    """Streams one generation (a background thread + `TextIteratorStreamer`); `.result` after the last piece.

    Generation stops at `deadline` (`time.monotonic()` seconds; `timed_out` is then True) or as soon as the consumer
    stops iterating (a closed page, a cancelled request, `close()` on the iterator), so an abandoned request frees
    the model. Without a clip (inputs prepared elsewhere) the result has no frames or timestamps.
    """

    def __init__(self, explainer: Explainer, inputs: dict, generation: dict, clip=None, timings: dict | None = None,
                 *, deadline: float | None = None):
        self.explainer, self.inputs, self.generation, self.clip = explainer, inputs, generation, clip
        self.timings = dict(timings or {})
        self.deadline = deadline
        self.timed_out = False
        self.result: Explanation | None = None
        self._cancelled = threading.Event()

    def _should_stop(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.timed_out = True
        return self.timed_out or self._cancelled.is_set()

    def __iter__(self):
        import queue

        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        kwargs = dict(self.generation)
        kwargs["stopping_criteria"] = StoppingCriteriaList([*(kwargs.get("stopping_criteria") or []),
                                                            _stop_when(self._should_stop)])
        # The streamer's own timeout is a last resort against a stalled worker; the deadline stops it first.
        wait = None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0) + 30.0
        streamer = TextIteratorStreamer(self.explainer.processor.tokenizer, skip_prompt=True,
                                        skip_special_tokens=True, timeout=wait)
        errors = []

        def run():
            try:
                with torch.no_grad():
                    self.explainer.model.generate(**self.inputs, streamer=streamer, **kwargs)
            except Exception as exc:  # surfaced below, after the stream ends
                errors.append(exc)
                streamer.end()

        start = time.perf_counter()
        text = ""
        if (kwargs.get("num_beams") or 1) > 1:  # transformers refuses a streamer with beam search: one piece at the end
            with torch.no_grad():
                output = self.explainer.model.generate(**self.inputs, **kwargs)
            prompt_length = self.inputs["input_ids"].shape[1]
            text = self.explainer.processor.decode(output[0, prompt_length:], skip_special_tokens=True)
            yield text
        else:
            thread = Thread(target=run, name="xemogpt-generate", daemon=True)
            thread.start()
            try:
                for piece in streamer:
                    if piece:
                        text += piece
                        yield text
            except queue.Empty as error:
                raise XEmoGPTError("the model stopped producing text; try again with fewer new tokens") from error
            finally:
                self._cancelled.set()  # a no-op when generation has ended
                thread.join(timeout=5.0)
        self.timings["generate"] = time.perf_counter() - start
        if errors:
            raise errors[0]
        text = text.strip()
        cues, emotion = parse_cues(text)
        clip = self.clip
        timestamps = getattr(clip, "timestamps", None)
        self.result = Explanation(
            explanation=text,
            cues=cues,
            emotion=emotion,
            timings={k: round(v, 4) for k, v in self.timings.items()},
            notes=self.explainer.notes + (clip.notes if clip is not None else []),
            timestamps=None if timestamps is None else [round(float(t), 3) for t in timestamps],
            frames=getattr(clip, "frames", None),
            subtitle=getattr(clip, "subtitle", None),
            subtitle_source=getattr(clip, "subtitle_source", None),
        )
