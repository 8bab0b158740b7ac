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


VISION_FEATURE_POOLING = ("cls", "pooler_output", "mean")

# Remote-code entry points every saved config carries (with `trust_remote_code=True` they resolve without this
# package). `register_for_auto_class` records one Auto class per class; the others live here, and
# `custom_object_save` keeps them when it adds its own entry on every `save_pretrained`.
AUTO_MAP = {
    "AutoConfig": "configuration_xemogpt.XEmoGPTConfig",
    "AutoModel": "modeling_xemogpt.XEmoGPTForConditionalGeneration",
    "AutoModelForImageTextToText": "modeling_xemogpt.XEmoGPTForConditionalGeneration",
    "AutoModelForMultimodalLM": "modeling_xemogpt.XEmoGPTForConditionalGeneration",
    "AutoProcessor": "processing_xemogpt.XEmoGPTProcessor",
}
# `pipeline("video-text-to-text", model=..., trust_remote_code=True)` (see pipeline_xemogpt.py).
PIPELINE_TASK = "video-text-to-text"
CUSTOM_PIPELINES = {PIPELINE_TASK: {"impl": "pipeline_xemogpt.XEmoGPTPipeline", "pt": ["AutoModel"], "type": "multimodal"}}


class XEmoGPTConfig(PreTrainedConfig):
    r"""
    Configuration for [`XEmoGPTForConditionalGeneration`].

    Args:
        vision_config (`dict` or `PreTrainedConfig`, *optional*): the frame encoder (CLIP vision as published; any
            transformers vision backbone with `vision_feature_pooling` set to match, e.g. SigLIP, ResNet, ConvNeXt).
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
        vision_feature_pooling (`"cls"`, `"pooler_output"` or `"mean"`): how a frame becomes one vector: the last
            layer's CLS token before post-layernorm (published, CLIP), the encoder's `pooler_output` (SigLIP's
            attention head, the global pool of conv backbones), or the mean of the last layer's tokens.
        vision_image_size (`int`, *optional*): frame size fed to the encoder; default `vision_config.image_size`
            (needed for encoders whose config has none, such as ResNet / ConvNeXt).
        vecb_num_attention_heads / vecb_intermediate_size (`int`, *optional*): VECB layer shape. By default the VECB
            layers copy the vision encoder's own layer config (published); these are needed when the encoder is
            not a transformer, and override it otherwise.
        vecb_attention_window (`int`): 0 (published): every VECB frame attends to every frame. `w > 0`: frame `i`
            attends only to frames `i-w .. i+w` (a band mask in every VECB layer; `L` layers see `L*w` frames either
            side). Local attention is what lets a small VECB compare neighbouring frames (head motion is a change
            between neighbours; the project README's stage-1 results compare it with full attention).
        video_token_order (`"kept"` or `"shuffled"`): `"kept"` (published): the video tokens reach the LLM in frame
            order. `"shuffled"` is an ablation only: every forward pass puts them in a fresh random order (after the
            VECB), so no frame order reaches the LLM at all; with `vecb_num_layers=0` and a zero position table it is
            a model without any temporal modelling (the LLM's own positions otherwise carry the frame order).
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
    vision_feature_pooling: Literal["cls", "pooler_output", "mean"] = "cls"
    vision_image_size: int | None = None
    vecb_num_attention_heads: int | None = None
    vecb_intermediate_size: int | None = None
    vecb_attention_window: int = 0
    video_token_order: Literal["kept", "shuffled"] = "kept"

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.auto_map = {**AUTO_MAP, **(getattr(self, "auto_map", None) or {})}
        self.custom_pipelines = {**CUSTOM_PIPELINES, **(getattr(self, "custom_pipelines", None) or {})}
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
        if self.vision_feature_pooling not in VISION_FEATURE_POOLING:
            raise ValueError(
                f"vision_feature_pooling must be one of {VISION_FEATURE_POOLING}, got {self.vision_feature_pooling!r}"
            )
        if self.frame_size is None:
            raise ValueError(
                f"vision_config ({self.vision_config.model_type}) has no image_size: set vision_image_size"
            )
        if self.num_frames < 1 or self.audio_token_stride < 1:
            raise ValueError("num_frames and audio_token_stride must be >= 1")
        if not isinstance(self.vecb_attention_window, int) or self.vecb_attention_window < 0:
            raise ValueError(f"vecb_attention_window must be an int >= 0 (0 = full attention), got "
                             f"{self.vecb_attention_window!r}")
        if self.video_token_order not in ("kept", "shuffled"):
            raise ValueError(f"video_token_order must be 'kept' (published) or 'shuffled' (an ablation), got "
                             f"{self.video_token_order!r}")
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

    @property
    def vision_hidden_size(self) -> int:
        """Width of one frame vector: the last stage's width for conv backbones (`hidden_sizes`), else `hidden_size`."""
        cfg = self.vision_config
        sizes = getattr(cfg, "hidden_sizes", None)
        return int(sizes[-1]) if sizes else int(cfg.hidden_size)

    @property
    def frame_size(self) -> int | None:
        """Square frame size the vision encoder takes."""
        return self.vision_image_size or getattr(self.vision_config, "image_size", None)

    @property
    def vecb_config(self) -> PreTrainedConfig:
        """Config of the VECB's CLIP-style encoder layers: the vision encoder's own (published), or — for an encoder
        without one, or with `vecb_num_attention_heads` / `vecb_intermediate_size` set — a CLIP-vision layer config
        of the frame-vector width."""
        cfg = self.vision_config
        is_transformer = all(hasattr(cfg, k) for k in ("num_attention_heads", "intermediate_size", "hidden_act"))
        if is_transformer and self.vecb_num_attention_heads is None and self.vecb_intermediate_size is None:
            return cfg
        from transformers import CLIPVisionConfig

        hidden = self.vision_hidden_size
        heads = self.vecb_num_attention_heads or getattr(cfg, "num_attention_heads", None) or max(1, hidden // 64)
        layer = CLIPVisionConfig(
            hidden_size=hidden, num_attention_heads=heads,
            intermediate_size=self.vecb_intermediate_size or 4 * hidden, attention_dropout=0.0,
        )
        layer._attn_implementation = getattr(cfg, "_attn_implementation", None) or "sdpa"
        return layer


XEmoGPTConfig.register_for_auto_class()

__all__ = ["XEmoGPTConfig"]
