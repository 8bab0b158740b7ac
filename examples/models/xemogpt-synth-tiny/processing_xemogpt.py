"""XEmoGPTProcessor: frames + audio + subtitle -> model inputs, with the prompt formats and placeholder expansion.

A prompt holds one `<|video|>` marker per clip video and one `<|audio|>` marker per audio track; `__call__` expands
each marker to exactly as many placeholder tokens as the model produces media tokens (`num_frames` per video; the
audio count follows from the audio encoder's convolution lengths and the AECB pooling stride), optionally writing
each frame's timestamp as text before its video token.
"""

import math

import numpy as np
from transformers import AutoTokenizer
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

DEFAULT_INSTRUCTION = (
    "Explain the person's emotion cue by cue: what the face and body show in the video, what the voice sounds "
    "like in the audio, and the emotion these cues add up to."
)

# Qwen3 chat format. A user turn's content may hold {"type": "video"}, {"type": "audio"} and text items.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'video' %}Video: <|video|>\n"
    "{% elif item['type'] == 'audio' %}Audio: <|audio|>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    "{% endif %}"
)

# The published plain prompt (audio before video); the filler words are configurable for converted checkpoints.
ORIGINAL_PROMPT = (
    "###Human: Listen to the audio <Audio><AudioHere></Audio> and watch the video <Video><VideoHere></Video>. "
    "The subtitle of this video is <Subtitle>{subtitle}</Subtitle>. {instruction} ###Assistant: "
)


def conv_output_length(num_samples: int, kernels, strides) -> int:
    """Frames out of a stack of unpadded 1-D convolutions (HuBERT / wav2vec2 feature encoder)."""
    length = num_samples
    for kernel, stride in zip(kernels, strides):
        length = (length - kernel) // stride + 1
    return max(length, 0)


class XEmoGPTProcessor(ProcessorMixin):
    r"""
    Combines a CLIP image processor (frames), an audio feature extractor (HuBERT/wav2vec2 waveform or Whisper log-mel)
    and the LLM tokenizer.

    Args:
        num_frames (`int`): frames per video (the model's `num_frames`).
        sampling_rate (`int`), max_audio_seconds (`float`): audio is expected at this rate and cut to this length.
        audio_input_kind (`"waveform"` or `"mel"`): what the audio encoder takes.
        audio_conv_kernel / audio_conv_stride (`list[int]`): the waveform encoder's convolution stack.
        audio_hop_length (`int`): mel hop length (Whisper).
        audio_token_stride (`int`): the model's AECB pooling stride.
        prompt_style (`"chat"` or `"original"`), interleave_timestamps (`bool`), default_instruction (`str`).
    """

    valid_processor_kwargs = None

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
        default_instruction: str = DEFAULT_INSTRUCTION,
        original_prompt: str = ORIGINAL_PROMPT,
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
        self.default_instruction = default_instruction
        self.original_prompt = original_prompt
        super().__init__(image_processor, feature_extractor, tokenizer, chat_template=chat_template or CHAT_TEMPLATE)

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

    def build_messages(self, subtitle="", has_video=True, has_audio=True, instruction=None, answer=None, system=None):
        """Chat messages for one clip: a user turn with the media markers, subtitle and instruction (+ answer)."""
        content = []
        if has_video:
            content.append({"type": "video"})
        if has_audio:
            content.append({"type": "audio"})
        subtitle = (subtitle or "").strip()
        text = f"Subtitle: \"{subtitle}\"\n" if subtitle else "Subtitle: (none)\n"
        content.append({"type": "text", "text": text + (instruction or self.default_instruction)})
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": content})
        if answer is not None:
            messages.append({"role": "assistant", "content": answer})
        return messages

    def build_prompt(
        self, subtitle="", has_video=True, has_audio=True, instruction=None, answer=None, style=None,
        add_generation_prompt=True,
    ) -> str:
        """The prompt string (unexpanded markers) in `style` ("chat" or "original"); with `answer`, the full example."""
        style = style or self.prompt_style
        if style == "original":
            audio_part = f"<Audio>{self.audio_token}</Audio>" if has_audio else "<Audio></Audio>"
            video_part = f"<Video>{self.video_token}</Video>" if has_video else "<Video></Video>"
            prompt = (
                self.original_prompt.replace("<Audio><AudioHere></Audio>", audio_part)
                .replace("<Video><VideoHere></Video>", video_part)
                .format(subtitle=(subtitle or "").strip(), instruction=instruction or self.default_instruction)
            )
            pad = self.tokenizer.pad_token or ""
            prompt = pad + prompt
            return prompt + (answer + self.answer_suffix(style) if answer is not None else "")
        messages = self.build_messages(subtitle, has_video, has_audio, instruction)
        prompt = self.apply_chat_template(messages, add_generation_prompt=add_generation_prompt)
        return prompt + (answer + self.answer_suffix(style) if answer is not None else "")

    def answer_suffix(self, style=None) -> str:
        """What closes an assistant answer in training examples."""
        if (style or self.prompt_style) == "original":
            return self.tokenizer.eos_token or ""
        return "<|im_end|>"

    def apply_chat_template(self, conversation, add_generation_prompt=False, tokenize=False, return_dict=True,
                            videos=None, audios=None, timestamps=None, return_tensors="pt", **kwargs):
        """Render chat messages (Qwen3 format). With `tokenize=True`, returns the model inputs (a dict) built by
        `__call__` from the rendered text and the given `videos` / `audios`."""
        text = self.tokenizer.apply_chat_template(
            conversation, chat_template=self.chat_template, add_generation_prompt=add_generation_prompt,
            tokenize=False, **kwargs,
        )
        if not tokenize:
            return text
        inputs = self(text=[text], videos=videos, audios=audios, timestamps=timestamps, return_tensors=return_tensors)
        return inputs if return_dict else inputs["input_ids"]

    # ---- media ----------------------------------------------------------------------------------------------------

    def video_pixels(self, videos):
        """Videos (each (F, H, W, 3) uint8, F = num_frames) -> pixel_values_videos (n, F, 3, S, S)."""
        arrays = []
        for index, video in enumerate(videos):
            frames = np.asarray(video)
            if frames.ndim != 4 or frames.shape[-1] != 3:
                raise ValueError(f"video {index}: expected frames (F, H, W, 3), got shape {frames.shape}")
            if frames.shape[0] != self.num_frames:
                raise ValueError(f"video {index}: expected {self.num_frames} frames, got {frames.shape[0]}")
            arrays.append(frames)
        flat = [frame for frames in arrays for frame in frames]
        pixels = self.image_processor(images=flat, return_tensors="pt")["pixel_values"]
        return pixels.reshape(len(arrays), self.num_frames, *pixels.shape[1:])

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

    # ---- main entry -----------------------------------------------------------------------------------------------

    def __call__(self, text=None, videos=None, audios=None, timestamps=None, padding=True, padding_side=None,
                 return_tensors="pt", **kwargs) -> BatchFeature:
        """Tokenize prompts and prepare media.

        Args:
            text (`str` or `list[str]`): prompts with one `<|video|>` / `<|audio|>` marker per media item.
            videos (`list`): the videos in marker order over the whole batch, each (F, H, W, 3) uint8.
            audios (`list`): the audios in marker order, each a mono float waveform at `sampling_rate`.
            timestamps (`list`): per video, its frames' times in seconds (used with `interleave_timestamps`).
        Returns:
            `BatchFeature` with `input_ids`, `attention_mask`, `pixel_values_videos` (n, F, 3, H, W),
            `input_values` (n, T) or `input_features` (n, mels, frames), and `audio_attention_mask`.
        """
        texts = [text] if isinstance(text, str) else list(text)
        videos = list(videos) if videos is not None else []
        audios = list(audios) if audios is not None else []
        n_video_markers = sum(t.count(self.video_token) for t in texts)
        n_audio_markers = sum(t.count(self.audio_token) for t in texts)
        if n_video_markers != len(videos):
            raise ValueError(f"the prompts hold {n_video_markers} {self.video_token} markers but {len(videos)} videos were given")
        if n_audio_markers != len(audios):
            raise ValueError(f"the prompts hold {n_audio_markers} {self.audio_token} markers but {len(audios)} audios were given")

        data = {}
        if videos:
            data["pixel_values_videos"] = self.video_pixels(videos)
        audio_counts = []
        if audios:
            audio_data, audio_counts = self.audio_inputs(audios)
            data.update(audio_data)
        expanded = self.expand_placeholders(texts, audio_counts, timestamps)
        tokenizer_kwargs = {"padding": padding, "return_tensors": None, "add_special_tokens": False}
        if padding_side is not None:
            tokenizer_kwargs["padding_side"] = padding_side
        encoded = self.tokenizer(expanded, **tokenizer_kwargs)
        data.update(encoded)
        return BatchFeature(data=data, tensor_type=return_tensors)

    def expand_placeholders(self, texts, audio_counts, timestamps):
        """Replace each marker by its placeholder tokens (video: num_frames, optionally with timestamps)."""
        audio_iter = iter(audio_counts)
        video_index = 0
        expanded = []
        for text in texts:
            pieces = []
            for chunk_index, chunk in enumerate(text.split(self.video_token)):
                if chunk_index > 0:
                    if self.interleave_timestamps and timestamps is not None:
                        times = timestamps[video_index]
                        pieces.append("".join(f"<{float(t):.1f}s>{self.video_token}" for t in times))
                    else:
                        pieces.append(self.video_token * self.num_frames)
                    video_index += 1
                audio_chunks = chunk.split(self.audio_token)
                for audio_index, audio_chunk in enumerate(audio_chunks):
                    if audio_index > 0:
                        pieces.append(self.audio_token * next(audio_iter))
                    pieces.append(audio_chunk)
            expanded.append("".join(pieces))
        return expanded

    # ---- convenience ----------------------------------------------------------------------------------------------

    def prepare_clips(self, clips, *, instruction=None, answers=None, style=None, return_tensors="pt",
                      padding_side="left") -> BatchFeature:
        """Model inputs for a batch of clips, each a dict with optional `frames` (F, H, W, 3), `audio` (T,),
        `subtitle` and `timestamps`. Any modality may be missing per clip. Left padding (for generation)."""
        texts, videos, audios, stamps = [], [], [], []
        for index, clip in enumerate(clips):
            frames, audio = clip.get("frames"), clip.get("audio")
            answer = answers[index] if answers is not None else None
            texts.append(
                self.build_prompt(
                    clip.get("subtitle", ""), frames is not None, audio is not None, instruction, answer, style,
                    add_generation_prompt=True,
                )
            )
            if frames is not None:
                videos.append(frames)
                stamps.append(clip.get("timestamps") if clip.get("timestamps") is not None else np.zeros(self.num_frames))
            if audio is not None:
                audios.append(audio)
        return self(text=texts, videos=videos, audios=audios, timestamps=stamps, padding_side=padding_side,
                    return_tensors=return_tensors)

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
        processor.image_processor = image_processor
        processor.feature_extractor = feature_extractor
        return processor


def add_placeholder_tokens(tokenizer, tokens=("<|video|>", "<|audio|>")) -> int:
    """Add the media placeholder tokens (and a pad token) to `tokenizer` when missing; returns how many were added."""
    missing = [t for t in tokens if t not in tokenizer.get_vocab()]
    added = tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False) if missing else 0
    if tokenizer.pad_token is None:
        added += tokenizer.add_special_tokens({"pad_token": "<|endoftext|>" if "<|endoftext|>" in tokenizer.get_vocab() else "<pad>"})
    return added


__all__ = ["XEmoGPTProcessor", "add_placeholder_tokens"]
