"""Configuration of XEmoGPT: frozen vision and audio encoders, two emotional cue bridges, a decoder-only LLM.

`XEmoGPTConfig()` with no arguments describes the published model (arXiv 2602.05496): CLIP ViT-L/14 frames,
chinese-hubert-large audio, Qwen3-4B language model, 16 frames, 2-layer VECB and AECB, audio cut to 12 s at 16 kHz.
"""

from typing import Literal

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

# Published component sizes (their public configs). Kept here, and only here.
CLIP_VIT_L14 = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "image_size": 224,
    "patch_size": 14,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
}
CHINESE_HUBERT_LARGE = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "feat_extract_norm": "layer",
    "conv_bias": True,
    "do_stable_layer_norm": True,
}
QWEN3_4B = {
    "vocab_size": 151936,
    "hidden_size": 2560,
    "intermediate_size": 9728,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 40960,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
    "tie_word_embeddings": True,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}

WAVEFORM_AUDIO_MODEL_TYPES = ("hubert", "wav2vec2")
MEL_AUDIO_MODEL_TYPES = ("whisper",)


class XEmoGPTConfig(PreTrainedConfig):
    r"""
    Configuration for [`XEmoGPTForConditionalGeneration`].

    Args:
        vision_config (`dict` or `PreTrainedConfig`, *optional*): the frame encoder (CLIP vision).
        audio_config (`dict` or `PreTrainedConfig`, *optional*): the audio encoder (HuBERT; wav2vec2 and Whisper
            are also accepted).
        text_config (`dict` or `PreTrainedConfig`, *optional*): any decoder-only LM (Qwen3, Qwen2, Llama, ...).
        num_frames (`int`): frames sampled per clip; the VECB position table has this many rows.
        vecb_num_layers (`int`): transformer layers in the Video Emotional Cue Bridge.
        aecb_num_layers (`int`): transformer layers in the Audio Emotional Cue Bridge.
        aecb_layer_variant (`"post_norm"` or `"stable_layer_norm"`): the AECB layer type. The published model
            builds the post-norm HuBERT layer although HuBERT-large itself is pre-norm; both have identical
            parameter names, so a checkpoint loads silently into either. Default: the published `"post_norm"`.
        audio_sampling_rate (`int`): audio is resampled to this rate.
        max_audio_seconds (`float`): only the first this-many seconds of audio are used.
        audio_token_stride (`int`): average-pool AECB outputs over this many frames before the LLM
            (1 = every frame, as published; order is kept).
        video_token_id / audio_token_id (`int`): placeholder token ids expanded by the processor.
        prompt_style (`"chat"` or `"original"`): the default prompt the processor builds.
        interleave_timestamps (`bool`): write each frame's timestamp as text before its video token.
        freeze_vision_tower / freeze_audio_tower (`bool`): keep the encoders frozen (and in eval mode).
    """

    model_type = "xemogpt"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_vision_model", init_kwargs=CLIP_VIT_L14),
        "audio_config": SubConfigSpec(config_class=AutoConfig, model_type="hubert", init_kwargs=CHINESE_HUBERT_LARGE),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen3", init_kwargs=QWEN3_4B),
    }

    vision_config: dict | PreTrainedConfig | None = None
    audio_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    num_frames: int = 16
    vecb_num_layers: int = 2
    aecb_num_layers: int = 2
    aecb_layer_variant: Literal["post_norm", "stable_layer_norm"] = "post_norm"
    audio_sampling_rate: int = 16000
    max_audio_seconds: float = 12.0
    audio_token_stride: int = 1
    video_token_id: int = 151669
    audio_token_id: int = 151670
    prompt_style: Literal["chat", "original"] = "chat"
    interleave_timestamps: bool = False
    projector_bias: bool = True
    freeze_vision_tower: bool = True
    freeze_audio_tower: bool = True
    initializer_range: float = 0.02
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.aecb_layer_variant not in ("post_norm", "stable_layer_norm"):
            raise ValueError(
                f"aecb_layer_variant must be 'post_norm' (published) or 'stable_layer_norm', got {self.aecb_layer_variant!r}"
            )
        if self.prompt_style not in ("chat", "original"):
            raise ValueError(f"prompt_style must be 'chat' or 'original', got {self.prompt_style!r}")
        if self.audio_config.model_type not in WAVEFORM_AUDIO_MODEL_TYPES + MEL_AUDIO_MODEL_TYPES:
            raise ValueError(
                f"audio_config.model_type {self.audio_config.model_type!r} is not supported; "
                f"use one of {WAVEFORM_AUDIO_MODEL_TYPES + MEL_AUDIO_MODEL_TYPES}"
            )
        if self.num_frames < 1 or self.audio_token_stride < 1:
            raise ValueError("num_frames and audio_token_stride must be >= 1")
        # Composite models keep `tie_word_embeddings` on the top level; follow the LLM's own setting.
        if not self.tie_word_embeddings and getattr(self.text_config, "tie_word_embeddings", False):
            self.tie_word_embeddings = True

    @property
    def audio_input_kind(self) -> str:
        """`"waveform"` for HuBERT/wav2vec2 (`input_values`), `"mel"` for Whisper (`input_features`)."""
        return "mel" if self.audio_config.model_type in MEL_AUDIO_MODEL_TYPES else "waveform"

    @property
    def audio_hidden_size(self) -> int:
        cfg = self.audio_config
        return cfg.d_model if self.audio_input_kind == "mel" else cfg.hidden_size


__all__ = ["XEmoGPTConfig"]
