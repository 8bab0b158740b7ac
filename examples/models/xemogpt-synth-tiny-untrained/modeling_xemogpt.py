"""XEmoGPT: frozen frame/audio encoders -> Video/Audio Emotional Cue Bridges -> projections -> decoder-only LLM.

Reads top to bottom: the two bridges, the pretrained-model base class, the base model (encoders, bridges,
projections, language model; merges media features into `inputs_embeds` at their placeholder tokens), and the
generation model (base model + LM head). Only torch / transformers / relative imports: this file is the remote
code of a Hub repository.
"""

import os
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, GenerationMixin, PreTrainedModel
from transformers.modeling_utils import slice_logits_to_keep
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.models.clip.modeling_clip import CLIPEncoderLayer, CLIPVisionModel
from transformers.models.hubert.modeling_hubert import HubertEncoderLayer, HubertEncoderLayerStableLayerNorm
from transformers.models.wav2vec2.modeling_wav2vec2 import (
    Wav2Vec2EncoderLayer,
    Wav2Vec2EncoderLayerStableLayerNorm,
)
from transformers.models.whisper.modeling_whisper import WhisperEncoder, WhisperEncoderLayer

from .configuration_xemogpt import XEmoGPTConfig

# The AECB layer class per (audio encoder family, layer variant). Post-norm and stable-layer-norm layers share
# parameter names, so the variant is a config choice, never inferred from a checkpoint.
AECB_LAYER_CLASSES = {
    ("hubert", "post_norm"): HubertEncoderLayer,
    ("hubert", "stable_layer_norm"): HubertEncoderLayerStableLayerNorm,
    ("wav2vec2", "post_norm"): Wav2Vec2EncoderLayer,
    ("wav2vec2", "stable_layer_norm"): Wav2Vec2EncoderLayerStableLayerNorm,
    # Whisper has one (pre-norm) layer type; the variant setting does not apply.
    ("whisper", "post_norm"): WhisperEncoderLayer,
    ("whisper", "stable_layer_norm"): WhisperEncoderLayer,
}

# A folder's unmerged LoRA adapter (a converted published checkpoint), applied by `from_pretrained`.
ADAPTER_FOLDER = "adapter"

# Media inputs that only the prefill step needs; decode steps run on the KV cache.
MEDIA_INPUT_NAMES = (
    "pixel_values_videos",
    "video_features",
    "input_values",
    "input_features",
    "audio_attention_mask",
    "audio_features",
    "audio_features_mask",
)


@dataclass
class XEmoGPTModelOutputWithPast(BaseModelOutputWithPast):
    """Base-model output. `video_hidden_states`: (n_videos, F, H); `audio_hidden_states`: (n_audio_tokens, H)."""

    video_hidden_states: torch.FloatTensor | None = None
    audio_hidden_states: torch.FloatTensor | None = None


@dataclass
class XEmoGPTCausalLMOutputWithPast(CausalLMOutputWithPast):
    """Generation-model output; media hidden states as in [`XEmoGPTModelOutputWithPast`]."""

    video_hidden_states: torch.FloatTensor | None = None
    audio_hidden_states: torch.FloatTensor | None = None


def audio_token_lengths(valid_frames: torch.Tensor, stride: int) -> torch.Tensor:
    """Number of LLM audio tokens for `valid_frames` AECB frames pooled by `stride` (ceil division)."""
    return torch.div(valid_frames + stride - 1, stride, rounding_mode="floor")


def build_audio_tower(config: XEmoGPTConfig) -> nn.Module:
    """The audio encoder: a Whisper-style encoder on log-mel features (`audio_input_kind="mel"`), else the
    waveform encoder `AutoModel` builds for `audio_config` (HuBERT, wav2vec2, ...)."""
    if config.audio_input_kind == "mel":
        return WhisperEncoder(config.audio_config)
    return AutoModel.from_config(config.audio_config)


def build_vision_tower(config: XEmoGPTConfig) -> nn.Module:
    """The frame encoder: `CLIPVisionModel` for a CLIP vision config (published parameter names), else the
    backbone `AutoModel` builds for `vision_config` (SigLIP vision, ResNet, ConvNeXt, ...)."""
    if config.vision_config.model_type == "clip_vision_model":
        return CLIPVisionModel(config.vision_config)
    try:
        return AutoModel.from_config(config.vision_config)
    except ValueError:
        # A backbone without attention (ResNet, ConvNeXt) rejects every attention kernel it is asked for, e.g. the
        # `attn_implementation="sdpa"` TRL's GRPOTrainer loads its reference model with: it has none to choose.
        if config.vision_config._attn_implementation in (None, "eager"):
            raise
        return AutoModel.from_config(config.vision_config, attn_implementation="eager")


class VideoEmotionalCueBridge(nn.Module):
    """VECB: a learned temporal position table added to per-frame vectors, then vision-encoder layers (attending to
    every frame as published, or to a band of neighbours with `vecb_attention_window`).

    Input `frame_features` (n, F, Dv) -> output (n, F, Dv). No pooling: every frame becomes one LLM token.
    """

    def __init__(self, config: XEmoGPTConfig):
        super().__init__()
        layer_config = config.vecb_config
        self.position_embedding = nn.Parameter(torch.zeros(1, config.num_frames, config.vision_hidden_size))
        self.layers = nn.ModuleList([CLIPEncoderLayer(layer_config) for _ in range(config.vecb_num_layers)])
        self.attention_window = config.vecb_attention_window

    def attention_bias(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        """None (full attention), or with `vecb_attention_window` w > 0 an additive (n, 1, F, F) band mask for
        (n, F, Dv) inputs: frame i attends to frames i-w .. i+w only."""
        if not self.attention_window:
            return None
        n, num_frames = hidden_states.shape[:2]
        index = torch.arange(num_frames, device=hidden_states.device)
        outside = (index[:, None] - index[None, :]).abs() > self.attention_window
        bias = torch.zeros(outside.shape, dtype=hidden_states.dtype, device=hidden_states.device)
        return bias.masked_fill(outside, torch.finfo(hidden_states.dtype).min).expand(n, 1, -1, -1)

    def add_positions(self, frame_features: torch.Tensor) -> torch.Tensor:
        """(n, F, Dv) -> (n, F, Dv) with the position table added (F <= num_frames)."""
        num_frames = frame_features.shape[1]
        if num_frames > self.position_embedding.shape[1]:
            raise ValueError(
                f"got {num_frames} frames per clip but the VECB position table has {self.position_embedding.shape[1]}"
            )
        return frame_features + self.position_embedding[:, :num_frames].to(frame_features.dtype)

    def encode(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Run the bridge layers on (n, F, Dv) without adding positions."""
        bias = self.attention_bias(hidden_states)
        for layer in self.layers:
            hidden_states = layer(hidden_states, attention_mask=bias)
        return hidden_states

    def forward(self, frame_features: torch.Tensor) -> torch.Tensor:
        return self.encode(self.add_positions(frame_features))


class AudioEmotionalCueBridge(nn.Module):
    """AECB: audio-encoder layers over every valid audio frame, padding-masked, no extra positions.

    Input `audio_features` (n, T, Da) and `mask` (n, T) bool -> (n, T, Da) with padded frames zeroed.
    """

    def __init__(self, config: XEmoGPTConfig):
        super().__init__()
        audio_config = config.audio_config
        layer_class = AECB_LAYER_CLASSES[(audio_config.model_type, config.aecb_layer_variant)]
        self.layer_variant = config.aecb_layer_variant
        self.audio_config = audio_config
        self.layers = nn.ModuleList([layer_class(audio_config) for _ in range(config.aecb_num_layers)])

    def forward(self, audio_features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask.unsqueeze(-1).to(audio_features.dtype)
        hidden_states = audio_features * keep
        attention_mask = create_bidirectional_mask(
            config=self.audio_config, inputs_embeds=hidden_states, attention_mask=mask.bool()
        )
        for layer in self.layers:
            hidden_states = layer(hidden_states, attention_mask=attention_mask)
        return hidden_states * keep


class XEmoGPTPreTrainedModel(PreTrainedModel):
    config: XEmoGPTConfig
    config_class = XEmoGPTConfig
    base_model_prefix = "model"
    input_modalities = ("video", "audio", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = False
    _skip_keys_device_placement = "cache"
    # Filled per instance with the layer classes the built model contains (`keep_whole_layer_classes`): accelerate's
    # FSDP auto-wrap and `device_map="auto"` look every name up and fail on a class the model does not have.
    _no_split_modules = []

    # bitsandbytes quantization (`from_pretrained(..., quantization_config=BitsAndBytesConfig(...))`) converts every
    # nn.Linear outside its skip list `llm_int8_skip_modules`; left unset, transformers skips only the LM head /
    # tied and last weights, so the frozen encoders, the bridges and the projections would be quantized too. A
    # bitsandbytes config without a skip list therefore gets `quantization_skip_modules()` (saved with the model):
    # the language model is quantized, everything that makes the media tokens stays in the load dtype (norms and
    # embeddings are never Linear, so never quantized). `_keep_in_fp32_modules` is not used for this: it would also
    # upcast these modules to fp32 in every float16 load.
    _quantization_skip_modules = ("vision_tower", "audio_tower", "video_bridge", "audio_bridge", "video_projector",
                                  "audio_projector", "lm_head")
    _quantization_bridge_modules = ("video_bridge", "audio_bridge")

    @classmethod
    def quantization_skip_modules(cls, quantize_bridges: bool = False) -> list[str]:
        """Module-name prefixes bitsandbytes must not quantize: encoders, projections, LM head and (unless
        `quantize_bridges`) the VECB/AECB. Names are prefixed with `model.` on the generation model."""
        prefix = "" if issubclass(cls, XEmoGPTModel) else f"{cls.base_model_prefix}."
        bridges = cls._quantization_bridge_modules if quantize_bridges else ()
        skipped = [name for name in cls._quantization_skip_modules if name not in bridges]
        return [name if name == "lm_head" else prefix + name for name in skipped]

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """`PreTrainedModel.from_pretrained`; a bitsandbytes `quantization_config` whose `llm_int8_skip_modules` is
        unset gets `quantization_skip_modules()` (a copy is changed, not the caller's object)."""
        config = kwargs.get("quantization_config")
        if isinstance(config, dict) and config.get("llm_int8_skip_modules") is None and (
            config.get("quant_method", "bitsandbytes") == "bitsandbytes"
        ):
            kwargs["quantization_config"] = {**config, "llm_int8_skip_modules": cls.quantization_skip_modules()}
        elif getattr(config, "quant_method", None) == "bitsandbytes" and config.llm_int8_skip_modules is None:
            import copy

            kwargs["quantization_config"] = config = copy.deepcopy(config)
            config.llm_int8_skip_modules = cls.quantization_skip_modules()
        model = super().from_pretrained(*args, **kwargs)
        if args and isinstance(args[0], (str, os.PathLike)):
            model._load_folder_adapter(args[0], {k: kwargs[k] for k in ("revision", "token", "cache_dir") if k in kwargs})
        return model

    def _load_folder_adapter(self, name_or_path, hub_kwargs) -> None:
        """Apply the LoRA adapter a folder keeps in `adapter/` (a converted published checkpoint without
        `--merge-lora`), so that no route loads the base weights alone."""
        from transformers.utils import cached_file

        config_file = cached_file(name_or_path, "adapter_config.json", subfolder=ADAPTER_FOLDER,
                                  _raise_exceptions_for_missing_entries=False, **hub_kwargs)
        if config_file is None:
            return
        cached_file(name_or_path, "adapter_model.safetensors", subfolder=ADAPTER_FOLDER, **hub_kwargs)
        try:
            import peft  # noqa: F401
        except ImportError as exc:
            raise ImportError(f"{name_or_path} keeps its LoRA weights as an adapter in {ADAPTER_FOLDER}/, which needs "
                              "`pip install peft` (or convert the checkpoint with LoRA merged)") from exc
        self.load_adapter(os.path.dirname(config_file))

    def keep_whole_layer_classes(self) -> list[str]:
        """Names of the layer classes this model contains that must stay on one device / in one FSDP unit: every
        block of a `layers` list (encoder, bridge and decoder layers; sub-models' `_no_split_modules` can miss a
        variant, e.g. HuBERT's stable-layer-norm layer) and the sub-models' own `_no_split_modules` that exist."""
        present = {type(m).__name__ for m in self.modules()}
        names = set()
        for name, module in self.named_modules():
            if name.rsplit(".", 1)[-1] == "layers" and isinstance(module, nn.ModuleList):
                names.update(type(layer).__name__ for layer in module)
            elif isinstance(module, PreTrainedModel) and not isinstance(module, XEmoGPTPreTrainedModel):
                names.update(module._no_split_modules or [])
        return sorted(name for name in names if name in present)

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, VideoEmotionalCueBridge):
            # The published position table: normal, std 0.02.
            from transformers import initialization as init

            init.normal_(module.position_embedding, mean=0.0, std=0.02)


class XEmoGPTModel(XEmoGPTPreTrainedModel):
    """Encoders, cue bridges, projections and the language model (no LM head).

    `forward` embeds `input_ids`, replaces every `<|video|>` / `<|audio|>` placeholder embedding with the
    matching projected media token (in order, `masked_scatter`), and runs the language model.
    """

    def __init__(self, config: XEmoGPTConfig):
        super().__init__(config)
        self.vision_tower = build_vision_tower(config)
        self.audio_tower = build_audio_tower(config)
        self.video_bridge = VideoEmotionalCueBridge(config)
        self.audio_bridge = AudioEmotionalCueBridge(config)
        text_hidden = config.text_config.hidden_size
        self.video_projector = nn.Linear(config.vision_hidden_size, text_hidden, bias=config.projector_bias)
        self.audio_projector = nn.Linear(config.audio_hidden_size, text_hidden, bias=config.projector_bias)
        self.language_model = AutoModel.from_config(config.text_config)
        self.post_init()
        self._apply_freezing()
        self._no_split_modules = self.keep_whole_layer_classes()

    def _apply_freezing(self):
        if self.config.freeze_vision_tower:
            self.vision_tower.requires_grad_(False)
        if self.config.freeze_audio_tower:
            self.audio_tower.requires_grad_(False)

    def train(self, mode: bool = True):
        """Frozen encoders stay in eval mode (no dropout, layerdrop or SpecAugment) while the rest trains."""
        super().train(mode)
        if self.config.freeze_vision_tower:
            self.vision_tower.eval()
        if self.config.freeze_audio_tower:
            self.audio_tower.eval()
        return self

    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    # ---- frozen encoders -------------------------------------------------------------------------------------

    def encode_video(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """(n, F, 3, H, W) -> per-frame vectors (n, F, Dv): by default (`vision_feature_pooling="cls"`, published) the
        last layer's CLS token before post-layernorm; else the encoder's `pooler_output` or its tokens' mean."""
        if pixel_values_videos.dim() != 5:
            raise ValueError(f"pixel_values_videos must be (n_videos, frames, 3, H, W), got {tuple(pixel_values_videos.shape)}")
        n, f = pixel_values_videos.shape[:2]
        flat = pixel_values_videos.flatten(0, 1).to(self.vision_tower.dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze_vision_tower):
            output = self.vision_tower(pixel_values=flat)
            pooling = self.config.vision_feature_pooling
            if pooling == "cls":
                hidden = output.last_hidden_state[:, 0]
            elif pooling == "pooler_output":
                hidden = output.pooler_output.flatten(1)
            else:
                hidden = output.last_hidden_state
                hidden = hidden.flatten(2).mean(-1) if hidden.dim() == 4 else hidden.mean(1)  # conv maps (n, C, h, w)
        return hidden.reshape(n, f, -1)

    def encode_audio(
        self,
        input_values: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        audio_attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw audio -> (frame vectors (n, T, Da), valid-frame mask (n, T) bool).

        Waveform encoders take `input_values` (n, samples) with a sample-level `audio_attention_mask`; Whisper takes
        `input_features` (n, mels, frames) with a frame-level `audio_attention_mask`.
        """
        grad = torch.is_grad_enabled() and not self.config.freeze_audio_tower
        tower_dtype = next(self.audio_tower.parameters()).dtype
        with torch.set_grad_enabled(grad):
            if self.config.audio_input_kind == "mel":
                if input_features is None:
                    raise ValueError("this model's audio encoder is Whisper-style: pass `input_features` (log-mel)")
                hidden = self.audio_tower(input_features.to(tower_dtype)).last_hidden_state
                if audio_attention_mask is None:
                    mel_lengths = torch.full((hidden.shape[0],), input_features.shape[-1], device=hidden.device)
                else:
                    mel_lengths = audio_attention_mask.sum(-1)
                lengths = torch.div(mel_lengths - 1, 2, rounding_mode="floor") + 1
            else:
                if input_values is None:
                    raise ValueError("this model's audio encoder takes raw waveforms: pass `input_values`")
                if audio_attention_mask is None:
                    audio_attention_mask = torch.ones_like(input_values, dtype=torch.long)
                hidden = self.audio_tower(
                    input_values.to(tower_dtype), attention_mask=audio_attention_mask.long()
                ).last_hidden_state
                lengths = self.audio_tower._get_feat_extract_output_lengths(audio_attention_mask.sum(-1))
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        mask = positions[None, :] < lengths.to(hidden.device)[:, None]
        return hidden, mask

    # ---- bridges + projections --------------------------------------------------------------------------------

    def get_video_features(
        self, pixel_values_videos: torch.Tensor | None = None, video_features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Video tokens for the LLM: (n_videos, F, H_llm). Give raw frames or cached encoder outputs (n, F, Dv)."""
        if video_features is None:
            video_features = self.encode_video(pixel_values_videos)
        bridge_dtype = self.video_projector.weight.dtype
        hidden = self.video_bridge(video_features.to(bridge_dtype))
        if self.config.video_token_order == "shuffled":  # ablation: no frame order reaches the LLM
            order = torch.argsort(torch.rand(hidden.shape[:2], device=hidden.device), dim=1)
            hidden = torch.gather(hidden, 1, order[..., None].expand_as(hidden))
        return self.video_projector(hidden)

    def get_audio_features(
        self,
        input_values: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        audio_attention_mask: torch.Tensor | None = None,
        audio_features: torch.Tensor | None = None,
        audio_features_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio tokens for the LLM: (all valid tokens of all audios in order (N, H_llm), tokens per audio (n,)).

        Give raw audio or cached encoder outputs `audio_features` (n, T, Da) with `audio_features_mask` (n, T).
        """
        if audio_features is None:
            audio_features, mask = self.encode_audio(input_values, input_features, audio_attention_mask)
        elif audio_features_mask is None:
            mask = torch.ones(audio_features.shape[:2], dtype=torch.bool, device=audio_features.device)
        else:
            mask = audio_features_mask.bool()
        bridge_dtype = self.audio_projector.weight.dtype
        hidden = self.audio_bridge(audio_features.to(bridge_dtype), mask)
        stride = self.config.audio_token_stride
        if stride > 1:  # order-keeping average pooling over `stride` valid frames
            n, t, d = hidden.shape
            pad = (-t) % stride
            weights = mask.to(hidden.dtype)
            if pad:
                hidden = nn.functional.pad(hidden, (0, 0, 0, pad))
                weights = nn.functional.pad(weights, (0, pad))
            weights = weights.view(n, -1, stride)
            hidden = (hidden.view(n, -1, stride, d) * weights.unsqueeze(-1)).sum(2)
            hidden = hidden / weights.sum(-1, keepdim=True).clamp(min=1)
            mask = weights.sum(-1) > 0
        projected = self.audio_projector(hidden)
        return projected[mask], mask.sum(-1)

    # ---- merging ----------------------------------------------------------------------------------------------

    def get_placeholder_mask(self, input_ids, inputs_embeds, token_id: int, num_features: int, name: str):
        """Boolean mask (B, L, 1) of the `token_id` placeholders; checks there is one per media token."""
        if input_ids is None:
            target = self.get_input_embeddings()(torch.tensor(token_id, device=inputs_embeds.device))
            mask = (inputs_embeds == target).all(-1)
        else:
            mask = input_ids == token_id
        found = int(mask.sum())
        if found != num_features:
            raise ValueError(
                f"{name} tokens and {name} features do not match: the text has {found} placeholder tokens but the "
                f"media give {num_features} {name} tokens. Build inputs with XEmoGPTProcessor, which expands the "
                "placeholders to the right count."
            )
        return mask.unsqueeze(-1).expand_as(inputs_embeds)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.FloatTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        video_features: torch.FloatTensor | None = None,
        input_values: torch.FloatTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        audio_attention_mask: torch.Tensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        audio_features_mask: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> XEmoGPTModelOutputWithPast:
        """Merged sequence through the LLM: `last_hidden_state` (B, L, H_llm)."""
        if cache is None and "past_key_values" in kwargs:
            cache = kwargs.pop("past_key_values")
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        decoding = cache is not None and hasattr(cache, "get_seq_length") and cache.get_seq_length() > 0

        video_hidden = audio_hidden = None
        if pixel_values_videos is not None or video_features is not None:
            present = input_ids is None or bool((input_ids == self.config.video_token_id).any())
            if present or not decoding:
                video_hidden = self.get_video_features(pixel_values_videos, video_features)
                mask = self.get_placeholder_mask(
                    input_ids, inputs_embeds, self.config.video_token_id, video_hidden.shape[0] * video_hidden.shape[1], "video"
                )
                inputs_embeds = inputs_embeds.masked_scatter(mask, video_hidden.to(inputs_embeds.dtype))
        if input_values is not None or input_features is not None or audio_features is not None:
            present = input_ids is None or bool((input_ids == self.config.audio_token_id).any())
            if present or not decoding:
                audio_hidden, _ = self.get_audio_features(
                    input_values, input_features, audio_attention_mask, audio_features, audio_features_mask
                )
                mask = self.get_placeholder_mask(
                    input_ids, inputs_embeds, self.config.audio_token_id, audio_hidden.shape[0], "audio"
                )
                inputs_embeds = inputs_embeds.masked_scatter(mask, audio_hidden.to(inputs_embeds.dtype))

        outputs = self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            **kwargs,
        )
        return XEmoGPTModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            cache=getattr(outputs, "cache", None),
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            video_hidden_states=video_hidden,
            audio_hidden_states=audio_hidden,
        )


class XEmoGPTForConditionalGeneration(XEmoGPTPreTrainedModel, GenerationMixin):
    """XEmoGPT with a language-modelling head: writes the cue-by-cue explanation of a clip.

    Example:
        >>> model = AutoModel.from_pretrained("path/to/xemogpt")            # or AutoModelForImageTextToText
        >>> processor = AutoProcessor.from_pretrained("path/to/xemogpt")
        >>> inputs = processor.prepare_clip(frames, audio, subtitle="I can't believe it!")
        >>> out = model.generate(**inputs, max_new_tokens=200)
    """

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

    def __init__(self, config: XEmoGPTConfig):
        super().__init__(config)
        self.model = XEmoGPTModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
        self._no_split_modules = self.model._no_split_modules

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    @property
    def language_model(self):
        return self.model.language_model

    def get_video_features(self, pixel_values_videos=None, video_features=None) -> torch.Tensor:
        """See [`XEmoGPTModel.get_video_features`]."""
        return self.model.get_video_features(pixel_values_videos, video_features)

    def get_audio_features(self, *args, **kwargs):
        """See [`XEmoGPTModel.get_audio_features`]."""
        return self.model.get_audio_features(*args, **kwargs)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        video_features: torch.FloatTensor | None = None,
        input_values: torch.FloatTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        audio_attention_mask: torch.Tensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        audio_features_mask: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> XEmoGPTCausalLMOutputWithPast:
        """Logits (B, L, V) and, with `labels` (B, L; -100 = ignored), the next-token loss."""
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            pixel_values_videos=pixel_values_videos,
            video_features=video_features,
            input_values=input_values,
            input_features=input_features,
            audio_attention_mask=audio_attention_mask,
            audio_features=audio_features,
            audio_features_mask=audio_features_mask,
            use_cache=use_cache,
            **kwargs,
        )
        logits = self.lm_head(slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep))

        loss = None
        if labels is not None:
            loss_kwargs = {k: kwargs[k] for k in ("num_items_in_batch", "ignore_index") if k in kwargs}
            loss = self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **loss_kwargs
            )
        return XEmoGPTCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            video_hidden_states=outputs.video_hidden_states,
            audio_hidden_states=outputs.audio_hidden_states,
        )

    def prepare_inputs_for_generation(self, input_ids, cache=None, is_first_iteration=False, **kwargs):
        """Media go to the model on the first (prefill) step only; later steps read the KV cache. GenerationMixin
        drops the media inputs it knows (`MULTIMODAL_INPUTS_TO_DROP_OUTSIDE_PREFILL`); the cached encoder outputs
        and `audio_attention_mask` are this model's own names, so it drops `MEDIA_INPUT_NAMES` itself."""
        model_inputs = super().prepare_inputs_for_generation(
            input_ids, cache=cache, is_first_iteration=is_first_iteration, **kwargs
        )
        if not is_first_iteration and kwargs.get("use_cache", True):
            for name in MEDIA_INPUT_NAMES:
                model_inputs.pop(name, None)
        return model_inputs

    @classmethod
    def from_pretrained_components(cls, vision, audio, text, *, return_processor=False, dtype=None, **config_kwargs):
        """A fresh XEmoGPT from three pretrained checkpoints (local folders or Hub ids).

        The encoders and the LLM (with its LM head) are loaded with their weights; the encoders are frozen; the
        bridges and projections are new. `<|video|>` / `<|audio|>` are added to the tokenizer when missing and the
        embeddings resized. Returns the model, or `(model, processor)` with `return_processor=True`.
        """
        from transformers import AutoConfig, AutoModelForCausalLM, CLIPVisionConfig

        from .processing_xemogpt import XEmoGPTProcessor

        vision_config = AutoConfig.from_pretrained(vision)
        if hasattr(vision_config, "vision_config"):  # a full CLIPModel checkpoint
            vision_config = vision_config.vision_config
        if not isinstance(vision_config, CLIPVisionConfig):
            raise ValueError(f"{vision} is not a CLIP (vision) checkpoint")
        audio_config = AutoConfig.from_pretrained(audio)
        text_model = AutoModelForCausalLM.from_pretrained(text, dtype=dtype)
        processor = XEmoGPTProcessor.from_pretrained_components(vision, audio, text, **config_kwargs)
        tokenizer = processor.tokenizer
        config = cls.config_class(
            vision_config=vision_config.to_dict(),
            audio_config=audio_config.to_dict(),
            text_config=text_model.config.to_dict(),
            video_token_id=tokenizer.convert_tokens_to_ids(processor.video_token),
            audio_token_id=tokenizer.convert_tokens_to_ids(processor.audio_token),
            **config_kwargs,
        )
        model = cls(config)
        vision_model = CLIPVisionModel.from_pretrained(vision, dtype=dtype)
        model.model.vision_tower.load_state_dict(vision_model.state_dict())
        if config.audio_input_kind == "mel":
            audio_model = AutoModel.from_pretrained(audio, dtype=dtype).get_encoder()
        else:
            audio_model = AutoModel.from_pretrained(audio, dtype=dtype)
        model.model.audio_tower.load_state_dict(audio_model.state_dict())
        if len(tokenizer) > text_model.config.vocab_size:
            text_model.resize_token_embeddings(len(tokenizer))
            model.resize_token_embeddings(len(tokenizer))
        model.model.language_model.load_state_dict(text_model.get_decoder().state_dict())
        model.lm_head.load_state_dict(text_model.get_output_embeddings().state_dict())
        if dtype is not None:
            model.to(dtype)
        model.model._apply_freezing()
        return (model, processor) if return_processor else model

    @staticmethod
    def pipeline_class():
        """The class behind `pipeline("video-text-to-text", ...)` (the config's `custom_pipelines`). Imported here so
        that every `save_pretrained` copies `pipeline_xemogpt.py` with this file (relative imports travel)."""
        from .pipeline_xemogpt import XEmoGPTPipeline

        return XEmoGPTPipeline

    def parameter_breakdown(self) -> dict[str, int]:
        """Parameter counts per part: vision encoder, audio encoder, VECB, AECB, projections, LLM (+ LM head)."""
        m = self.model
        count = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
        llm = count(m.language_model)
        if not self.config.tie_word_embeddings:
            llm += count(self.lm_head)
        parts = {
            "vision_encoder": count(m.vision_tower),
            "audio_encoder": count(m.audio_tower),
            "vecb": count(m.video_bridge),
            "aecb": count(m.audio_bridge),
            "projections": count(m.video_projector) + count(m.audio_projector),
            "llm": llm,
        }
        parts["total"] = sum(parts.values())
        return parts


# Every save_pretrained (Trainer checkpoints, push_to_hub) copies this code and writes `auto_map` (see AUTO_MAP).
XEmoGPTForConditionalGeneration.register_for_auto_class("AutoModel")

__all__ = [
    "AudioEmotionalCueBridge",
    "VideoEmotionalCueBridge",
    "XEmoGPTForConditionalGeneration",
    "XEmoGPTModel",
    "XEmoGPTPreTrainedModel",
]
