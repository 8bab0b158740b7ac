"""XEmoGPTProcessor: video + audio + subtitle -> model inputs, on `ProcessorMixin`'s own multimodal machinery.

`processor(text=..., videos=..., audio=...)` and `processor.apply_chat_template(conversation, tokenize=True)` work as
for other transformers multimodal processors (LLaVA, Qwen2.5-Omni):

* videos: file paths or decoded frame arrays (F, H, W, 3) of any length; `XEmoGPTVideoProcessor` samples
  `num_frames` uniformly (paths are decoded with PyAV by `media_xemogpt`, as `xemogpt explain` decodes them);
* audio: mono waveforms at `sampling_rate` or file paths; a video given by path without an audio brings its own
  audio track (`audio_from_video`, on by default: the published model always hears the clip's voice);
* `ProcessorMixin.__call__` expands each `<|video|>` / `<|audio|>` marker to as many placeholder tokens as the
  model makes media tokens (`replace_video_token` / `replace_audio_token`).

A chat turn is `[{"type": "video", "path": ...}, {"type": "text", "text": SUBTITLE}]` (an `audio` item is optional;
a second text item replaces the default instruction). The chat template renders media markers first, then
`Subtitle: "..."` and the instruction, in the Qwen3 chat format.
"""

import json
import math
import os

import numpy as np
from transformers import AutoTokenizer
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessingKwargs, ProcessorMixin, VideosKwargs

from .media_xemogpt import _checked_path, _load_audio, load_audio_from, sample_frames_from

DEFAULT_INSTRUCTION = (
    "Explain the person's emotion cue by cue: what the face and body show in the video, what the voice sounds "
    "like in the audio, and the emotion these cues add up to."
)


# The published inference prompt (ARCHITECTURE.md §6.1, from the published `inference.py`): pad token as BOS, audio
# before video, the subtitle unstripped, a missing modality's placeholder text left in, and its reasoning instruction.
ORIGINAL_PROMPT = (
    "###Human: The audio content is as follows: <Audio><AudioHere></Audio>. Meanwhile, we uniformly sample raw "
    "frames from the video: <Video><VideoHere></Video>. The subtitle of this video is: <Subtitle>{subtitle}</Subtitle>. "
    "Now, please answer my question based on all the provided information. {instruction}###Assistant: "
)
PUBLISHED_INSTRUCTION = (
    "\n                Please describe the speaker's emotional state in the video. \n                **Output Requirements:**  "
    "\n                Present the synthesized multimodal information in a well-structured paragraph, such as: 'In the "
    "video, ... In the audio, ...'. \n                Conclude the paragraph with an emotion state inference based on "
    "all cues. \n                 "
)
_AUDIO_SLOT, _VIDEO_SLOT = "<Audio><AudioHere></Audio>", "<Video><VideoHere></Video>"

# Jinja pieces shared by both templates: a message's text items and the kinds of its content items.
_CONTENT = (
    "{% if message['content'] is string %}{% set texts = [message['content']] %}{% set kinds = [] %}"
    "{% else %}"
    "{% set texts = message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | list %}"
    "{% set kinds = message['content'] | map(attribute='type') | list %}"
    "{% endif %}"
)


def _literal(text: str) -> str:
    return "{{ " + json.dumps(text) + " }}"


def _instruction(default_instruction: str) -> str:
    return "{% if texts | length > 1 %}{{ texts[1:] | join('\n') }}{% else %}" + _literal(default_instruction) + "{% endif %}"


def build_chat_template(default_instruction: str | None = None, style: str = "chat",
                        original_prompt: str = ORIGINAL_PROMPT) -> str:
    """The chat template of a prompt style. In a user turn holding media, the first text item is the subtitle and
    the next text items are the instruction (default: `default_instruction`, or the style's own).

    * `"chat"` (Qwen3 chat format): media markers in content order, then `Subtitle: "..."` (trimmed) and the
      instruction; turns without media render their text as is.

    An assistant turn's text and closing token sit in a `{% generation %}` block, so that
    `return_assistant_tokens_mask=True` (TRL's `assistant_only_loss`) marks exactly the tokens XEmoGPT's own SFT
    collator trains on.
    * `"original"`: the published prompt `original_prompt` (ARCHITECTURE.md §6.1): the pad token as BOS, the
      audio / video slots filled with the markers (or left as the published placeholder text when the modality is
      missing), the subtitle as given; an assistant turn is its text + EOS.
    """
    if style == "original":
        instruction = PUBLISHED_INSTRUCTION if default_instruction is None else default_instruction
        order = [original_prompt.find(slot) for slot in (_AUDIO_SLOT, _VIDEO_SLOT, "{subtitle}", "{instruction}")]
        if min(order) < 0 or order != sorted(order):
            raise ValueError("original_prompt must hold <Audio><AudioHere></Audio>, <Video><VideoHere></Video>, "
                             "{subtitle} and {instruction}, in this order")
        head, rest = original_prompt.split(_AUDIO_SLOT)
        audio_to_video, rest = rest.split(_VIDEO_SLOT)
        video_to_subtitle, rest = rest.split("{subtitle}")
        subtitle_to_instruction, tail = rest.split("{instruction}")
        return (
            "{{ pad_token or '' }}{% for message in messages %}" + _CONTENT +
            "{% if message['role'] == 'user' %}" + _literal(head) +
            "{% if 'audio' in kinds %}<Audio><|audio|></Audio>{% else %}" + _literal(_AUDIO_SLOT) + "{% endif %}" +
            _literal(audio_to_video) +
            "{% if 'video' in kinds %}<Video><|video|></Video>{% else %}" + _literal(_VIDEO_SLOT) + "{% endif %}" +
            _literal(video_to_subtitle) + "{{ texts[0] if texts else '' }}" + _literal(subtitle_to_instruction) +
            _instruction(instruction) + _literal(tail) +
            "{% elif message['role'] == 'assistant' %}"
            "{% generation %}{{ texts | join('') }}{{ eos_token or '' }}{% endgeneration %}{% endif %}"
            "{% endfor %}"
        )
    instruction = DEFAULT_INSTRUCTION if default_instruction is None else default_instruction
    return (
        "{% for message in messages %}"
        "<|im_start|>{{ message['role'] }}\n" + _CONTENT +
        "{% if message['role'] == 'assistant' %}"
        "{% generation %}{{ texts | join('') }}<|im_end|>{% endgeneration %}"
        "{% else %}"
        "{% for kind in kinds %}"
        "{% if kind == 'video' %}Video: <|video|>\n{% elif kind == 'audio' %}Audio: <|audio|>\n{% endif %}"
        "{% endfor %}"
        "{% if 'video' in kinds or 'audio' in kinds %}"
        "{% set subtitle = (texts[0] if texts else '') | trim %}"
        "{% if subtitle %}Subtitle: \"{{ subtitle }}\"\n{% else %}Subtitle: (none)\n{% endif %}" +
        _instruction(instruction) +
        "{% else %}{{ texts | join('') }}{% endif %}"
        "<|im_end|>"
        "{% endif %}\n"
        "{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n"
        "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
        "{% endif %}"
    )


CHAT_TEMPLATE = build_chat_template()

# The template of folders saved before the content-item format: it rendered one text item holding
# 'Subtitle: "..."\n' + instruction. Such folders get the current template, which renders the same prompts.
_LEGACY_CHAT_TEMPLATES = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for item in message['content'] %}{% if item['type'] == 'video' %}"
    "Video: <|video|>\n{% elif item['type'] == 'audio' %}Audio: <|audio|>\n{% elif item['type'] == 'text' %}"
    "{{ item['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% endif %}{% endif %}",
)

def conv_output_length(num_samples: int, kernels, strides) -> int:
    """Frames out of a stack of unpadded 1-D convolutions (HuBERT / wav2vec2 feature encoder)."""
    length = num_samples
    for kernel, stride in zip(kernels, strides):
        length = (length - kernel) // stride + 1
    return max(length, 0)


def uniform_indices(total: int, num_frames: int) -> np.ndarray:
    """Indices of `num_frames` frames out of `total`: the frame playing at each of `num_frames` equal segments'
    centres (the rule `media_xemogpt` applies to timestamps); frames repeat when `total < num_frames`."""
    if total < 1:
        raise ValueError("a video needs at least one frame")
    return np.minimum(np.floor((np.arange(num_frames) + 0.5) * total / num_frames).astype(np.int64), total - 1)


def _is_path(item) -> bool:
    return isinstance(item, (str, os.PathLike))


def _is_frame_list(item) -> bool:
    """A video given as a list of frames (PIL images or (H, W, 3) arrays)."""
    return isinstance(item, (list, tuple)) and len(item) > 0 and all(
        getattr(frame, "ndim", 0) == 3 or hasattr(frame, "getpixel") for frame in item)


def _is_video(item) -> bool:
    """One video: a path, a `{"path", "bytes"}` dict, a torchcodec `VideoDecoder`, frames (F, H, W, 3) or a list of
    frames. (transformers' `make_batched_videos` drops decoders and dicts, hence this.)"""
    return (_is_path(item) or isinstance(item, dict) or hasattr(item, "get_frames_played_at")
            or getattr(item, "ndim", 0) == 4 or _is_frame_list(item))


def _flat_videos(videos) -> list:
    """One video or a (nested) list of videos -> a flat list."""
    if _is_video(videos):
        return [videos]
    flat = []
    for item in videos:
        flat.extend([item] if _is_video(item) else _flat_videos(item))
    return flat


class XEmoGPTVideoProcessor:
    r"""
    Videos of any length -> `pixel_values_videos` (n, num_frames, 3, S, S).

    transformers 5.24's `BaseVideoProcessor` and `AutoVideoProcessor` require torchvision, which cannot be installed
    beside a CPU-only torch; this is the smallest video processor that needs neither: paths are decoded with PyAV
    (`media_xemogpt.sample_frames`, the decoder of `xemogpt explain`), frame arrays are sampled with the same
    segment-centre rule, and each frame goes through the processor's (PIL) image processor. It is built from the
    processor's saved settings, so it has no file of its own.
    """

    model_input_names = ["pixel_values_videos"]

    def __init__(self, image_processor, num_frames: int = 16):
        self.image_processor = image_processor
        self.num_frames = num_frames

    def sample(self, video, timestamps=None):
        """One video (a path, a `{"path", "bytes"}` dict, a torchcodec `VideoDecoder`, or frames (F, H, W, 3) /
        (F, 3, H, W) / a list of frames) -> (frames (num_frames, H, W, 3) uint8, timestamps (num_frames,) seconds)."""
        if _is_path(video) or isinstance(video, dict) or hasattr(video, "get_frames_played_at"):
            return sample_frames_from(video, self.num_frames)
        if _is_frame_list(video):
            video = np.stack([np.asarray(frame.convert("RGB") if hasattr(frame, "convert") else frame) for frame in video])
        frames = np.asarray(video.numpy() if hasattr(video, "numpy") else video)
        if frames.ndim != 4 or 3 not in (frames.shape[-1], frames.shape[1]):
            raise ValueError(f"expected a video path or frames (F, H, W, 3), got an array of shape {frames.shape}")
        if frames.shape[-1] != 3:
            frames = frames.transpose(0, 2, 3, 1)
        index = uniform_indices(len(frames), self.num_frames)
        stamps = None if timestamps is None else np.asarray(timestamps, dtype=np.float64)[index]
        return frames[index], stamps

    def __call__(self, videos, timestamps=None, return_tensors="pt", **kwargs) -> BatchFeature:
        """`videos`: one or a list of videos. Returns `pixel_values_videos` and `video_timestamps` (per video, its
        frames' times in seconds; None for frame arrays given without `timestamps`)."""
        videos = _flat_videos(videos)
        sampled = [self.sample(v, None if timestamps is None else timestamps[i]) for i, v in enumerate(videos)]
        flat = [frame for frames, _ in sampled for frame in frames]
        pixels = self.image_processor(images=flat, return_tensors="pt")["pixel_values"]
        pixels = pixels.reshape(len(sampled), self.num_frames, *pixels.shape[1:])
        return BatchFeature(
            {"pixel_values_videos": pixels, "video_timestamps": [t for _, t in sampled]}, tensor_type=None
        )


class XEmoGPTVideosKwargs(VideosKwargs, total=False):
    timestamps: list | None  # per video, its frames' times in seconds (written into the prompt with interleave_timestamps)


class XEmoGPTProcessorKwargs(ProcessingKwargs, total=False):
    videos_kwargs: XEmoGPTVideosKwargs
    _defaults = {"text_kwargs": {"padding": True, "add_special_tokens": False}}


class XEmoGPTProcessor(ProcessorMixin):
    r"""
    Combines a CLIP image processor (frames; wrapped in `video_processor`), an audio feature extractor
    (HuBERT/wav2vec2 waveform or Whisper log-mel) and the LLM tokenizer.

    Args:
        num_frames (`int`): frames sampled per video (the model's `num_frames`).
        sampling_rate (`int`), max_audio_seconds (`float`): audio is expected at this rate and cut to this length.
        audio_input_kind (`"waveform"` or `"mel"`): what the audio encoder takes.
        audio_conv_kernel / audio_conv_stride (`list[int]`): the waveform encoder's convolution stack.
        audio_hop_length (`int`): mel hop length (Whisper).
        audio_token_stride (`int`): the model's AECB pooling stride.
        prompt_style (`"chat"` or `"original"`), interleave_timestamps (`bool`), default_instruction (`str`).
        audio_from_video (`bool`): a video given by path without an audio item/argument brings its own audio track.
    """

    valid_processor_kwargs = XEmoGPTProcessorKwargs

    def __init__(
        self,
        image_processor=None,
        feature_extractor=None,
        tokenizer=None,
        chat_template=None,
        num_frames: int = 16,
        sampling_rate: int = 16000,
        max_audio_seconds: float = 12.0,
        audio_input_kind: str = "waveform",
        audio_conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        audio_conv_stride=(5, 2, 2, 2, 2, 2, 2),
        audio_hop_length: int = 160,
        audio_token_stride: int = 1,
        video_token: str = "<|video|>",
        audio_token: str = "<|audio|>",
        prompt_style: str = "chat",
        interleave_timestamps: bool = False,
        default_instruction: str | None = None,
        original_prompt: str = ORIGINAL_PROMPT,
        audio_from_video: bool = True,
        **kwargs,
    ):
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self.max_audio_seconds = max_audio_seconds
        self.audio_input_kind = audio_input_kind
        self.audio_conv_kernel = list(audio_conv_kernel)
        self.audio_conv_stride = list(audio_conv_stride)
        self.audio_hop_length = audio_hop_length
        self.audio_token_stride = audio_token_stride
        self.video_token = video_token
        self.audio_token = audio_token
        self.prompt_style = prompt_style
        self.interleave_timestamps = interleave_timestamps
        if default_instruction is None:
            default_instruction = PUBLISHED_INSTRUCTION if prompt_style == "original" else DEFAULT_INSTRUCTION
        self.default_instruction = default_instruction
        self.original_prompt = original_prompt
        self.audio_from_video = audio_from_video
        if chat_template is None or chat_template in _LEGACY_CHAT_TEMPLATES:
            chat_template = build_chat_template(default_instruction, prompt_style, original_prompt)
        super().__init__(image_processor, feature_extractor, tokenizer, chat_template=chat_template)
        self.video_processor = XEmoGPTVideoProcessor(image_processor, num_frames)

    @property
    def video_token_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(self.video_token)

    @property
    def audio_token_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(self.audio_token)

    # ---- counts ---------------------------------------------------------------------------------------------------

    @property
    def max_audio_samples(self) -> int:
        return int(round(self.max_audio_seconds * self.sampling_rate))

    def num_audio_tokens(self, num_samples: int) -> int:
        """LLM audio tokens for an audio of `num_samples` samples (after the cut to `max_audio_seconds`)."""
        num_samples = min(int(num_samples), self.max_audio_samples)
        if self.audio_input_kind == "mel":
            frames = min(math.ceil(num_samples / self.audio_hop_length), self.max_audio_samples // self.audio_hop_length)
            encoder_frames = (frames - 1) // 2 + 1 if frames > 0 else 0
        else:
            encoder_frames = conv_output_length(num_samples, self.audio_conv_kernel, self.audio_conv_stride)
        return math.ceil(encoder_frames / self.audio_token_stride)

    @property
    def min_audio_samples(self) -> int:
        """The shortest audio that yields at least one audio token."""
        if self.audio_input_kind == "mel":
            return 1
        length = 1
        for kernel, stride in reversed(list(zip(self.audio_conv_kernel, self.audio_conv_stride))):
            length = (length - 1) * stride + kernel
        return length

    # ---- prompts --------------------------------------------------------------------------------------------------

    def build_messages(self, subtitle="", has_video=True, has_audio=True, instruction=None, answer=None, system=None,
                       video=None, audio=None):
        """Chat messages for one clip: a user turn with the media items (`video` / `audio`: a path or an array to
        carry in the item), the subtitle and the instruction (+ the assistant's `answer`)."""
        content = []
        if has_video:
            content.append({"type": "video"} if video is None else {"type": "video", **_media_item("video", video)})
        if has_audio:
            content.append({"type": "audio"} if audio is None else {"type": "audio", **_media_item("audio", audio)})
        content.append({"type": "text", "text": subtitle or ""})
        content.append({"type": "text", "text": instruction or self.default_instruction})
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": content})
        if answer is not None:
            messages.append({"role": "assistant", "content": answer})
        return messages

    def build_prompt(
        self, subtitle="", has_video=True, has_audio=True, instruction=None, answer=None, style=None,
        add_generation_prompt=True,
    ) -> str:
        """The prompt string (unexpanded markers) in `style` ("chat" or "original"; default: the processor's, i.e.
        its chat template); with `answer`, the full example as text. Token ids of prompt + answer come from
        `encode_answers` (the answer tokenized on its own, as in training), not from tokenizing this string."""
        style = style or self.prompt_style
        template = None if style == self.prompt_style else build_chat_template(
            self.default_instruction, style, self.original_prompt)
        messages = self.build_messages(subtitle, has_video, has_audio, instruction)
        prompt = self.apply_chat_template(messages, chat_template=template, add_generation_prompt=add_generation_prompt)
        return prompt + (answer + self.answer_suffix(style) if answer is not None else "")

    def answer_suffix(self, style=None) -> str:
        """What closes an assistant answer in training examples."""
        if (style or self.prompt_style) == "original":
            return self.tokenizer.eos_token or ""
        return "<|im_end|>"

    # ---- rendered prompts keep their media (TRL's DPO collator) ---------------------------------------------------

    # How many rendered conversations keep their media items for a later `processor(text=...)` (a batch's worth)
    RENDERED_MEDIA_KEPT = 256

    def apply_chat_template(self, conversation, chat_template=None, **kwargs):
        """`ProcessorMixin.apply_chat_template`; a conversation rendered to text (`tokenize=False`) keeps its `video` /
        `audio` items, so that a later `processor(text=that_text)` without media uses them.

        Why: TRL 1.16's `DataCollatorForVisionPreference.torch_call` (`trl/trainer/dpo_trainer.py:315-327`, what
        `trl dpo` trains with) renders each prompt to text and then calls `processor(images=..., text=prompts)`,
        forwarding images only: the clip would be lost. The media of the last `RENDERED_MEDIA_KEPT` rendered
        conversations are held (the items as given: paths, decoders, arrays); media passed explicitly always win,
        and a text with markers that was not rendered here still fails loudly in `validate_inputs`."""
        rendered = super().apply_chat_template(conversation, chat_template, **kwargs)
        if not kwargs.get("tokenize", False) and isinstance(rendered, (str, list)):
            batched = isinstance(rendered, list)
            conversations = conversation if batched else [conversation]
            texts = rendered if batched else [rendered]
            for conv, text in zip(conversations, texts):
                media = _conversation_media(conv)
                if isinstance(text, str) and (media[0] or media[1]):
                    kept = self.__dict__.setdefault("_rendered_media", {})
                    kept.pop(text, None)
                    kept[text] = media
                    while len(kept) > self.RENDERED_MEDIA_KEPT:
                        kept.pop(next(iter(kept)))
        return rendered

    def _media_of_rendered(self, text: list[str]):
        """(videos, audio) of prompts rendered by `apply_chat_template(tokenize=False)`, or (None, None) when one of
        the prompts with media markers was not rendered here."""
        kept = self.__dict__.get("_rendered_media", {})
        videos, audio = [], []
        for prompt in text:
            if self.video_token not in prompt and self.audio_token not in prompt:
                continue
            if prompt not in kept:
                return None, None
            videos += kept[prompt][0]
            audio += kept[prompt][1]
        return videos or None, audio or None

    # ---- ProcessorMixin hooks -------------------------------------------------------------------------------------

    def _multimodal_inputs_from_conversations(self, conversations, audio_loading_params, load_audio_from_video=False):
        """Collect the `video` / `audio` items of chat conversations (for `apply_chat_template(tokenize=True)`).

        Differs from `ProcessorMixin`'s in two ways, both because its `load_audio` needs torchcodec (system FFmpeg) or
        soundfile (no video containers): audio items are decoded with PyAV (`media_xemogpt.load_audio`), and a video
        item given by path and not followed by an audio item gets its own audio track as an audio item (when the file
        has one, unless `audio_from_video` is off) - what `load_audio_from_video=True` does in transformers.
        """
        batch_videos, batch_audios = [], []
        use_track = self.audio_from_video or load_audio_from_video
        for conversation in conversations:
            videos = []
            for message in conversation:
                content = message.get("content")
                if not isinstance(content, list):
                    continue
                new_content = []
                for block, next_block in zip(content, [*content[1:], None]):
                    new_content.append(block)
                    kind = block.get("type")
                    if kind == "image":
                        raise ValueError("XEmoGPT explains videos, not images: give a `video` item (a path or frames)")
                    source = _item_source(block)
                    if kind == "video" and source is not None:
                        videos.append(source)
                        following = (next_block or {}).get("type")
                        if use_track and _is_path(source) and following != "audio":
                            wave = self.load_audio_track(source)
                            if wave is not None:
                                new_content.append({"type": "audio", "audio": wave})
                                batch_audios.append(wave)
                    elif kind == "audio" and source is not None:
                        batch_audios.append(self.load_audio(source))
                message["content"] = new_content
            batch_videos.append(videos)
        return [[] for _ in conversations], batch_videos, batch_audios, {}

    def prepare_inputs_layout(self, images=None, text=None, videos=None, audio=None, **kwargs):
        """Flatten videos and audio; decode audio paths; give each video path its own audio track when the prompts
        hold audio markers but no audio was passed (and `audio_from_video`)."""
        if images is not None:
            raise ValueError("XEmoGPT explains videos, not images: pass frames as `videos` (F, H, W, 3)")
        if text is not None:
            text = [text] if isinstance(text, str) else list(text)
        if text is not None and videos is None and audio is None:
            videos, audio = self._media_of_rendered(text)
        if videos is not None:
            videos = _flat_videos(videos)
        if audio is None and videos and text is not None and self.audio_from_video:
            markers = sum(t.count(self.audio_token) for t in text)
            if markers and markers == len(videos) and all(_is_path(v) for v in videos):
                audio = [self.load_audio(v) for v in videos]
        if audio is not None:
            audio = [self.load_audio(a) for a in _flat_audio(audio)]
        return images, text, videos, audio

    def validate_inputs(self, images=None, text=None, videos=None, audio=None, **kwargs):
        """One media input per marker. (`ProcessorMixin.validate_inputs` counts videos with `make_batched_videos`,
        which drops the decoders and `{"path", "bytes"}` dicts `datasets` yields.)"""
        if "audios" in kwargs and audio is None:
            raise ValueError("You passed keyword argument `audios` which is deprecated. Please use `audio` instead.")
        if text is None and videos is None and audio is None:
            raise ValueError(f"You need to provide at least one input to call {type(self).__name__}")
        if text is not None:
            for name, token, given in (("video", self.video_token, videos), ("audio", self.audio_token, audio)):
                markers = sum(t.count(token) for t in text)
                if markers != len(given or []):
                    raise ValueError(f"the prompts hold {markers} {token} markers but {len(given or [])} {name} "
                                     "inputs were given")

    def _process_videos(self, videos, **kwargs):
        processed = self.video_processor(videos, **kwargs)
        return processed, [self.replace_video_token(processed, i) for i in range(len(videos))]

    def replace_video_token(self, video_inputs: dict, video_idx: int, **kwargs) -> str:
        """`num_frames` video tokens, each after its frame's time (`<1.5s>`) with `interleave_timestamps`."""
        return self.video_replacement(video_inputs["video_timestamps"][video_idx])

    def video_replacement(self, timestamps=None) -> str:
        if self.interleave_timestamps and timestamps is not None:
            return "".join(f"<{float(t):.1f}s>{self.video_token}" for t in timestamps)
        return self.video_token * self.num_frames

    def replace_audio_token(self, audio_inputs: dict, audio_idx: int, **kwargs) -> str:
        return self.audio_token * audio_inputs["audio_token_counts"][audio_idx]

    def _process_audio(self, audio, **kwargs):
        data, counts = self.audio_inputs(audio)
        return data, [self.replace_audio_token({"audio_token_counts": counts}, i) for i in range(len(counts))]

    @property
    def unused_input_names(self) -> list[str]:
        return ["video_timestamps"]

    # ---- media ----------------------------------------------------------------------------------------------------

    def load_audio(self, audio) -> np.ndarray:
        """A path (any container PyAV reads; a video's audio track), a `{"path", "bytes"}` / `{"array",
        "sampling_rate"}` dict, a torchcodec `AudioDecoder`, or a waveform -> mono float32 at `sampling_rate`."""
        if _is_path(audio) or isinstance(audio, dict) or hasattr(audio, "get_samples_played_in_range"):
            return load_audio_from(audio, self.sampling_rate, self.max_audio_seconds)
        return np.asarray(audio, dtype=np.float32)

    def load_audio_track(self, video_path):
        """The audio track of a video file, or None when it has none."""
        wave, _ = _load_audio(_checked_path(video_path), self.sampling_rate, self.max_audio_seconds, required=False)
        return wave

    def video_pixels(self, videos):
        """Videos (paths or frame arrays of any length) -> pixel_values_videos (n, F, 3, S, S)."""
        return self.video_processor(list(videos))["pixel_values_videos"]

    def audio_inputs(self, audios):
        """Mono waveforms -> ({input_values (n, T) | input_features (n, mels, frames), audio_attention_mask},
        LLM audio-token count per audio). Audio is cut to max_audio_seconds; too-short audio is padded."""
        waves = []
        for index, audio in enumerate(audios):
            wave = np.asarray(audio, dtype=np.float32)
            if wave.ndim != 1:
                raise ValueError(f"audio {index}: expected a mono waveform (T,), got shape {wave.shape}")
            wave = wave[: self.max_audio_samples]
            if len(wave) < self.min_audio_samples:  # too short for one encoder frame: pad with silence
                wave = np.pad(wave, (0, self.min_audio_samples - len(wave)))
            waves.append(wave)
        counts = [self.num_audio_tokens(len(w)) for w in waves]
        if self.audio_input_kind == "mel":
            features = self.feature_extractor(
                waves, sampling_rate=self.sampling_rate, padding="max_length", max_length=self.max_audio_samples,
                return_tensors="pt",
            )["input_features"]
            total = features.shape[-1]
            valid = [min(math.ceil(len(w) / self.audio_hop_length), total) for w in waves]
            mask = (np.arange(total)[None, :] < np.array(valid)[:, None]).astype(np.int64)
            out = {"input_features": features}
        else:
            longest = max(len(w) for w in waves)
            out_values = self.feature_extractor(
                waves, sampling_rate=self.sampling_rate, padding="longest", return_tensors="np",
                return_attention_mask=True,
            )
            values = out_values["input_values"]
            mask = (np.arange(longest)[None, :] < np.array([len(w) for w in waves])[:, None]).astype(np.int64)
            values = values * mask  # padding is silence whatever the extractor's normalisation did
            out = {"input_values": values.astype(np.float32)}
        out["audio_attention_mask"] = mask
        return out, counts

    # ---- convenience ----------------------------------------------------------------------------------------------

    def encode_answers(self, answers, style=None) -> list[list[int]]:
        """Token ids of each answer followed by the closing token of the prompt style, tokenized on their own - never
        merged with the prompt's last characters (the space after "###Assistant:") - as every training example is."""
        suffix = self.answer_suffix(style)
        return self.tokenizer([a + suffix for a in answers], add_special_tokens=False, padding=False)["input_ids"]

    def prepare_clips(self, clips, *, instruction=None, answers=None, style=None, return_tensors="pt",
                      padding_side="left") -> BatchFeature:
        """Model inputs for a batch of clips, each a dict with optional `frames` (F, H, W, 3), `audio` (T,),
        `subtitle` and `timestamps`. Any modality may be missing per clip. Left padding (for generation). With
        `answers`, each prompt's ids are followed by `encode_answers` of its answer (teacher forcing)."""
        texts, videos, audios, stamps = [], [], [], []
        for clip in clips:
            frames, audio = clip.get("frames"), clip.get("audio")
            texts.append(self.build_prompt(clip.get("subtitle", ""), frames is not None, audio is not None,
                                           instruction, style=style))
            if frames is not None:
                videos.append(frames)
                stamps.append(clip.get("timestamps"))
            if audio is not None:
                audios.append(audio)
        media = dict(text=texts, videos=videos or None, audio=audios or None,
                     videos_kwargs={"timestamps": stamps} if videos else {})
        if answers is None:
            return self(**media, padding_side=padding_side, return_tensors=return_tensors)
        encoded = self(**media, padding=False, return_tensors=None)
        ids = [list(p) + a for p, a in zip(encoded.pop("input_ids"), self.encode_answers(answers, style))]
        encoded.pop("attention_mask", None)
        padded = self.tokenizer.pad({"input_ids": ids}, padding=True, padding_side=padding_side)
        return BatchFeature({**encoded, **padded}, tensor_type=return_tensors)

    def prepare_clip(self, frames=None, audio=None, subtitle="", timestamps=None, **kwargs) -> BatchFeature:
        """Model inputs for one clip (see `prepare_clips`)."""
        return self.prepare_clips([{"frames": frames, "audio": audio, "subtitle": subtitle, "timestamps": timestamps}], **kwargs)

    @property
    def model_input_names(self):
        names = ["input_ids", "attention_mask", "pixel_values_videos", "audio_attention_mask"]
        names.append("input_features" if self.audio_input_kind == "mel" else "input_values")
        return names

    @classmethod
    def for_config(cls, config, tokenizer, **kwargs):
        """A processor matching an `XEmoGPTConfig` (image size, audio front end, counts) around `tokenizer`."""
        from transformers import Wav2Vec2FeatureExtractor, WhisperFeatureExtractor
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

        size = config.frame_size
        image_processor = CLIPImageProcessorPil(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size}
        )
        audio_config = config.audio_config
        if config.audio_input_kind == "mel":
            feature_extractor = WhisperFeatureExtractor(
                feature_size=audio_config.num_mel_bins, sampling_rate=config.audio_sampling_rate,
                chunk_length=config.max_audio_seconds,
            )
            conv = {}
        else:
            feature_extractor = Wav2Vec2FeatureExtractor(
                feature_size=1, sampling_rate=config.audio_sampling_rate, padding_value=0.0,
                do_normalize=audio_config.feat_extract_norm == "layer", return_attention_mask=True,
            )
            conv = {"audio_conv_kernel": list(audio_config.conv_kernel), "audio_conv_stride": list(audio_config.conv_stride)}
        add_placeholder_tokens(tokenizer)
        return cls(
            image_processor=image_processor, feature_extractor=feature_extractor, tokenizer=tokenizer,
            num_frames=config.num_frames, sampling_rate=config.audio_sampling_rate,
            max_audio_seconds=config.max_audio_seconds, audio_input_kind=config.audio_input_kind,
            audio_token_stride=config.audio_token_stride, prompt_style=config.prompt_style,
            interleave_timestamps=config.interleave_timestamps, **conv, **kwargs,
        )

    @classmethod
    def from_pretrained_components(cls, vision, audio, text, **config_kwargs):
        """A processor from the three component checkpoints (see `XEmoGPTForConditionalGeneration.from_pretrained_components`)."""
        from transformers import AutoConfig, AutoFeatureExtractor
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

        from .configuration_xemogpt import XEmoGPTConfig

        image_processor = CLIPImageProcessorPil.from_pretrained(vision)
        feature_extractor = AutoFeatureExtractor.from_pretrained(audio)
        tokenizer = AutoTokenizer.from_pretrained(text)
        vision_config = AutoConfig.from_pretrained(vision)
        vision_config = getattr(vision_config, "vision_config", vision_config)
        config = XEmoGPTConfig(
            vision_config=vision_config.to_dict(), audio_config=AutoConfig.from_pretrained(audio).to_dict(),
            text_config={"model_type": "qwen3", "vocab_size": len(tokenizer)}, **config_kwargs,
        )
        processor = cls.for_config(config, tokenizer)
        processor.image_processor = processor.video_processor.image_processor = image_processor
        processor.feature_extractor = feature_extractor
        return processor


XEmoGPTProcessor.register_for_auto_class()


def _item_source(block: dict):
    """What a content item holds: its value under its type's key (`"video": ...`), else its `url` or `path`."""
    return next((block[k] for k in (block.get("type"), "url", "path") if block.get(k) is not None), None)


def _conversation_media(conversation) -> tuple[list, list]:
    """The sources of a conversation's `video` and `audio` content items, in order."""
    found = {"video": [], "audio": []}
    for message in conversation:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind in found:
                source = _item_source(block)
                if source is not None:
                    found[kind].append(source)
    return found["video"], found["audio"]


def _media_item(kind: str, value) -> dict:
    """The key a chat content item carries its media under: `path` for a path, `video` / `audio` for an array."""
    return {"path": os.fspath(value)} if _is_path(value) else {kind: value}


def _flat_audio(audio) -> list:
    """One audio (path or 1-D waveform) or a (nested) list of them -> a flat list."""
    if (_is_path(audio) or isinstance(audio, dict) or hasattr(audio, "get_samples_played_in_range")
            or (hasattr(audio, "ndim") and audio.ndim == 1)):
        return [audio]
    flat = []
    for item in audio:
        flat.extend(_flat_audio(item) if isinstance(item, (list, tuple)) else [item])
    return flat


def add_placeholder_tokens(tokenizer, tokens=("<|video|>", "<|audio|>")) -> int:
    """Add the media placeholder tokens (and a pad token) to `tokenizer` when missing; returns how many were added."""
    missing = [t for t in tokens if t not in tokenizer.get_vocab()]
    added = tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False) if missing else 0
    if tokenizer.pad_token is None:
        added += tokenizer.add_special_tokens({"pad_token": "<|endoftext|>" if "<|endoftext|>" in tokenizer.get_vocab() else "<pad>"})
    return added


__all__ = ["XEmoGPTProcessor", "XEmoGPTVideoProcessor", "add_placeholder_tokens", "build_chat_template"]
