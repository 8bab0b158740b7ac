"""Bridge alignment, training stages 1 and 2: the VECB learns from short video captions, the AECB from audio captions.

[`XEmoGPTForCueAlignment`] holds the same frozen encoders and cue bridges as [`XEmoGPTForConditionalGeneration`],
under the same parameter names (`model.vision_tower`, `model.video_bridge`, `model.audio_tower`,
`model.audio_bridge`), without the language model, plus the heads of one stage:

* stage `"video"` (1): attention pooling (one learned query, softmax over time) of the VECB outputs, and three tasks:
  video-text contrastive (symmetric InfoNCE against frozen caption embeddings, both sides projected to
  `shared_embed_dim`), temporal order discrimination (a binary head: were the frames shuffled? The frames are
  shuffled *before* the position table is added; the published code shuffled after, which leaves the pooled clip
  vector unchanged, see `shuffle_after_positions`; the order head reads the attention-pooled vector, or with
  `temporal_pooling="max"` the maximum over time of the VECB outputs), and masked frame modelling (`mask_ratio` of
  the frame vectors zeroed, a Linear head reconstructs them, MSE on the masked frames);
* stage `"audio"` (2): audio-text contrastive, the audio vector being the masked mean of the AECB outputs.

Caption embeddings come from a frozen text encoder run once per dataset (the CLIP text tower, or any sentence
encoder), so no text encoder lives in this model. With `with_encoders=False` (training on cached encoder outputs)
the frozen encoders are not built either and the model holds only what trains.
[`load_aligned_bridges`] copies trained bridges into a generation model.
"""

import math
import os
from dataclasses import dataclass, fields
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F
from transformers.utils import ModelOutput

from .configuration_xemogpt import XEmoGPTConfig
from .modeling_xemogpt import (
    AudioEmotionalCueBridge,
    VideoEmotionalCueBridge,
    XEmoGPTModel,
    XEmoGPTPreTrainedModel,
    build_audio_tower,
    build_vision_tower,
)

BRIDGES_FILE = "bridges.safetensors"
STAGE_BRIDGE = {"video": "video_bridge", "audio": "audio_bridge"}


class XEmoGPTAlignmentConfig(XEmoGPTConfig):
    r"""
    [`XEmoGPTConfig`] plus the settings of one bridge-alignment stage (loss weights and temperature are not
    published; these are our choices, exposed in the recipes).

    Args:
        alignment_stage (`"video"` or `"audio"`): stage 1 (VECB) or stage 2 (AECB).
        text_embed_dim (`int`): width of the frozen caption embeddings (CLIP ViT-L/14 text: 768, MiniLM-L6: 384).
        shared_embed_dim (`int`): width both sides are projected to for the contrastive loss (768 published).
        temperature (`float`): initial softmax temperature of the contrastive logits.
        learnable_temperature (`bool`): learn the temperature (as a log logit scale, capped at 100) or keep it fixed.
        contrastive_weight / temporal_weight / reconstruction_weight (`float`): loss weights (the last two: video
            stage only; 0 switches a task off).
        mask_ratio (`float`): share of frame vectors zeroed for masked frame modelling (at least one per clip).
        temporal_pooling (`"attention"` or `"max"`): what the order head reads: the attention-pooled clip vector (the
            paper's one pooling for every head) or the per-channel maximum over time. A shuffle shows as one jump
            somewhere between two frames; an average over time dilutes it, the maximum keeps it
            (the project README's stage-1 results compare the two).
        shuffle_after_positions (`bool`): reproduce the published bug: shuffle the frames after the position table
            is added. The bridge layers are then permutation-equivariant and the pooling invariant, so the shuffled
            clip gives the same pooled vector and the order task cannot beat chance. For ablations only.
        with_encoders (`bool`): build the frozen encoders inside the model (training from raw media); False when
            training on cached encoder outputs.
    """

    model_type = "xemogpt_alignment"

    alignment_stage: Literal["video", "audio"] = "video"
    text_embed_dim: int = 768
    shared_embed_dim: int = 768
    temperature: float = 0.07
    learnable_temperature: bool = True
    contrastive_weight: float = 1.0
    temporal_weight: float = 1.0
    reconstruction_weight: float = 1.0
    mask_ratio: float = 0.5
    temporal_pooling: Literal["attention", "max"] = "attention"
    shuffle_after_positions: bool = False
    with_encoders: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.alignment_stage not in STAGE_BRIDGE:
            raise ValueError(f"alignment_stage must be 'video' or 'audio', got {self.alignment_stage!r}")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.temporal_pooling not in ("attention", "max"):
            raise ValueError(f"temporal_pooling must be 'attention' or 'max', got {self.temporal_pooling!r}")

    @classmethod
    def from_xemogpt_config(cls, config: XEmoGPTConfig, **alignment) -> "XEmoGPTAlignmentConfig":
        """The alignment config of a generation model's config (`alignment`: the stage settings above)."""
        data = config.to_dict()
        data.pop("model_type", None)
        data.pop("auto_map", None)
        return cls(**{**data, **alignment})

    def to_xemogpt_config(self) -> XEmoGPTConfig:
        """The generation model's part of this config (encoders, bridges, LLM), without the stage settings."""
        own = {f.name for f in fields(XEmoGPTAlignmentConfig)} - {f.name for f in fields(XEmoGPTConfig)}
        data = {k: v for k, v in self.to_dict().items() if k not in own and k not in ("model_type", "architectures")}
        return XEmoGPTConfig(**data)


@dataclass
class XEmoGPTAlignmentOutput(ModelOutput):
    """Alignment-model output.

    loss: the weighted sum of the task losses; contrastive_loss / temporal_loss / reconstruction_loss: each task's loss.
    media_embeds (n, S) and text_embeds (n, S): L2-normalised clip (or audio) and caption vectors.
    logits_per_media (n, n): scaled similarities (rows: media, columns: captions).
    temporal_logits (2n, 2) and temporal_labels (2n,): the order head on the n clips as given (label 0) followed by
    the same clips shuffled (label 1).
    """

    loss: torch.FloatTensor | None = None
    contrastive_loss: torch.FloatTensor | None = None
    temporal_loss: torch.FloatTensor | None = None
    reconstruction_loss: torch.FloatTensor | None = None
    media_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    logits_per_media: torch.FloatTensor | None = None
    temporal_logits: torch.FloatTensor | None = None
    temporal_labels: torch.LongTensor | None = None


class AttentionPooling(nn.Module):
    """One learned query vector scores every time step; softmax over time; weighted sum. (n, T, D) -> (n, D)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, hidden_states: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        scores = hidden_states @ self.query.to(hidden_states.dtype)
        if mask is not None:
            scores = scores.masked_fill(~mask.bool(), torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)
        return (weights.unsqueeze(-1) * hidden_states).sum(dim=1)


def masked_mean(hidden_states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the valid time steps: (n, T, D), (n, T) bool -> (n, D) (zeros for a row without valid steps)."""
    weights = mask.to(hidden_states.dtype).unsqueeze(-1)
    return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def symmetric_info_nce(logits: torch.Tensor) -> torch.Tensor:
    """CLIP loss on (n, n) logits (rows: media, columns: captions): the mean of the media->text and text->media
    cross-entropies with the diagonal as targets.

    Clips that share a caption text need no special targets: identical texts have identical (frozen) embeddings, so
    their columns are equal and both the loss and its gradient are the same as with targets spread over the group.
    """
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def random_permutations(n: int, length: int, device=None, generator=None) -> torch.Tensor:
    """(n, length) random permutations of range(length), none of them the identity (when length > 1)."""
    perms = torch.rand(n, length, generator=generator).argsort(-1)
    if length > 1:
        identity = torch.arange(length)
        for i in range(n):
            while torch.equal(perms[i], identity):
                perms[i] = torch.rand(length, generator=generator).argsort()
    return perms.to(device)


def permute_frames(frames: torch.Tensor, permutations: torch.Tensor) -> torch.Tensor:
    """(n, F, D) with each clip's frames reordered by its permutation (n, F)."""
    index = permutations.to(frames.device).unsqueeze(-1).expand(-1, -1, frames.shape[-1])
    return frames.gather(1, index)


class XEmoGPTCueAlignmentModel(nn.Module):
    """The stage's bridge, and (with `with_encoders`) its frozen encoder, under the generation model's names.

    Stage "video": `vision_tower` (optional) and `video_bridge`; stage "audio": `audio_tower` (optional) and
    `audio_bridge`. `encode_video` / `encode_audio` are [`XEmoGPTModel`]'s.
    """

    encode_video = XEmoGPTModel.encode_video
    encode_audio = XEmoGPTModel.encode_audio

    def __init__(self, config: XEmoGPTAlignmentConfig):
        super().__init__()
        self.config = config
        if config.alignment_stage == "video":
            if config.with_encoders:
                self.vision_tower = build_vision_tower(config)
            self.video_bridge = VideoEmotionalCueBridge(config)
        else:
            if config.with_encoders:
                self.audio_tower = build_audio_tower(config)
            self.audio_bridge = AudioEmotionalCueBridge(config)

    def frozen_encoders(self) -> list[nn.Module]:
        return [getattr(self, name) for name in ("vision_tower", "audio_tower") if hasattr(self, name)]


class XEmoGPTForCueAlignment(XEmoGPTPreTrainedModel):
    """Trains one cue bridge (VECB or AECB) against caption embeddings; only bridge-side parameters train.

    Example:
        >>> config = XEmoGPTAlignmentConfig.from_xemogpt_config(model.config, alignment_stage="video",
        ...                                                     text_embed_dim=384)
        >>> aligner = XEmoGPTForCueAlignment(config)
        >>> out = aligner(video_features=feats, caption_embeds=captions)     # (n, F, Dv), (n, 384)
        >>> out.loss.backward()
        >>> load_aligned_bridges(model, aligner)                             # into XEmoGPTForConditionalGeneration
    """

    config: XEmoGPTAlignmentConfig
    config_class = XEmoGPTAlignmentConfig
    accepts_loss_kwargs = False
    _tied_weights_keys = None

    def __init__(self, config: XEmoGPTAlignmentConfig):
        super().__init__(config)
        # Without the encoders nothing else sets the bridges' attention implementation: use the model's. With them, the
        # encoders set their own (a preset "sdpa" would be refused by one without attention, e.g. the demo's ResNet).
        for sub_config in (config.vision_config, config.audio_config):
            if sub_config._attn_implementation is None and not config.with_encoders:
                sub_config._attn_implementation = config._attn_implementation
        self.model = XEmoGPTCueAlignmentModel(config)
        if config.alignment_stage == "video":
            hidden = config.vision_hidden_size
            self.attention_pooling = AttentionPooling(hidden)
            self.temporal_head = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 2))
            self.frame_reconstructor = nn.Linear(hidden, hidden)
        else:
            hidden = config.audio_hidden_size
        self.media_projection = nn.Linear(hidden, config.shared_embed_dim)
        self.text_projection = nn.Linear(config.text_embed_dim, config.shared_embed_dim)
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(1.0 / config.temperature)), requires_grad=config.learnable_temperature
        )
        self.post_init()
        self.freeze_encoders()

    def _init_weights(self, module):
        super()._init_weights(module)
        from transformers import initialization as init

        if isinstance(module, AttentionPooling):
            init.normal_(module.query, mean=0.0, std=self.config.initializer_range)
        elif isinstance(module, XEmoGPTForCueAlignment):
            init.constant_(module.logit_scale, math.log(1.0 / self.config.temperature))

    def freeze_encoders(self):
        """Frozen encoders get no gradient (and stay in eval mode, see `train`)."""
        for encoder in self.model.frozen_encoders():
            encoder.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        for encoder in self.model.frozen_encoders():
            encoder.eval()
        return self

    @property
    def stage(self) -> str:
        return self.config.alignment_stage

    @property
    def bridge(self) -> nn.Module:
        return getattr(self.model, STAGE_BRIDGE[self.stage])

    # ---- inputs -------------------------------------------------------------------------------------------------

    def _frames(self, video_features, pixel_values_videos) -> torch.Tensor:
        if video_features is None:
            if pixel_values_videos is None:
                raise ValueError("the video stage needs `video_features` (n, F, Dv) or `pixel_values_videos`")
            if not hasattr(self.model, "vision_tower"):
                raise ValueError("this alignment model has no vision encoder (with_encoders=False): pass "
                                 "`video_features`")
            video_features = self.model.encode_video(pixel_values_videos)
        return video_features.to(self.media_projection.weight.dtype)

    def _audio(self, audio_features, audio_features_mask, input_values, input_features, audio_attention_mask):
        if audio_features is None:
            if not hasattr(self.model, "audio_tower"):
                raise ValueError("this alignment model has no audio encoder (with_encoders=False): pass "
                                 "`audio_features`")
            audio_features, mask = self.model.encode_audio(input_values, input_features, audio_attention_mask)
        elif audio_features_mask is None:
            mask = torch.ones(audio_features.shape[:2], dtype=torch.bool, device=audio_features.device)
        else:
            mask = audio_features_mask.bool()
        return audio_features.to(self.media_projection.weight.dtype), mask

    # ---- embeddings ---------------------------------------------------------------------------------------------

    def clip_states(self, frame_features: torch.Tensor, permutations: torch.Tensor | None = None) -> torch.Tensor:
        """VECB outputs (n, F, Dv) of frame vectors (n, F, Dv), optionally reordered by `permutations` (n, F): before
        the position table is added, or after it with `shuffle_after_positions` (the published bug)."""
        bridge = self.model.video_bridge
        if permutations is None:
            hidden = bridge.add_positions(frame_features)
        elif self.config.shuffle_after_positions:
            hidden = permute_frames(bridge.add_positions(frame_features), permutations)
        else:
            hidden = bridge.add_positions(permute_frames(frame_features, permutations))
        return bridge.encode(hidden)

    def pool_clip(self, frame_features: torch.Tensor, permutations: torch.Tensor | None = None) -> torch.Tensor:
        """Attention-pooled VECB output (n, Dv) (see `clip_states`): the clip vector of the contrastive task."""
        return self.attention_pooling(self.clip_states(frame_features, permutations))

    def order_features(self, states: torch.Tensor) -> torch.Tensor:
        """What the order head reads from VECB outputs (n, F, Dv): see `temporal_pooling`."""
        if self.config.temporal_pooling == "max":
            return states.amax(dim=1)
        return self.attention_pooling(states)

    def pool_audio(self, audio_features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean of the AECB outputs: (n, T, Da), (n, T) -> (n, Da)."""
        return masked_mean(self.model.audio_bridge(audio_features, mask), mask)

    def embed_text(self, caption_embeds: torch.Tensor) -> torch.Tensor:
        """Frozen caption embeddings (n, text_embed_dim) -> normalised shared-space vectors (n, S)."""
        return F.normalize(self.text_projection(caption_embeds.to(self.text_projection.weight.dtype)), dim=-1)

    def embed_media(self, **inputs) -> torch.Tensor:
        """Normalised shared-space clip (video stage) or audio (audio stage) vectors (n, S) from the stage's inputs."""
        if self.stage == "video":
            pooled = self.pool_clip(self._frames(inputs.get("video_features"), inputs.get("pixel_values_videos")))
        else:
            features, mask = self._audio(
                inputs.get("audio_features"), inputs.get("audio_features_mask"), inputs.get("input_values"),
                inputs.get("input_features"), inputs.get("audio_attention_mask"),
            )
            pooled = self.pool_audio(features, mask)
        return F.normalize(self.media_projection(pooled), dim=-1)

    def order_logits(self, video_features: torch.Tensor, permutations: torch.Tensor | None = None) -> torch.Tensor:
        """Temporal head logits (n, 2) (index 1 = "shuffled") for clips in their order or reordered."""
        return self.temporal_head(self.order_features(self.clip_states(video_features, permutations)))

    # ---- forward ------------------------------------------------------------------------------------------------

    def forward(
        self,
        caption_embeds: torch.FloatTensor | None = None,
        video_features: torch.FloatTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        audio_features_mask: torch.Tensor | None = None,
        input_values: torch.FloatTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        audio_attention_mask: torch.Tensor | None = None,
        return_loss: bool = True,
        **kwargs,
    ) -> XEmoGPTAlignmentOutput:
        """The stage's losses on a batch.

        Args:
            caption_embeds (n, text_embed_dim): frozen caption embeddings of the batch's clips.
            video_features (n, F, Dv) or pixel_values_videos (n, F, 3, H, W): stage "video".
            audio_features (n, T, Da) + audio_features_mask (n, T), or raw audio (`input_values` +
                `audio_attention_mask`, or `input_features`): stage "audio".
        """
        cfg = self.config
        out = XEmoGPTAlignmentOutput()
        if cfg.alignment_stage == "video":
            frames = self._frames(video_features, pixel_values_videos)
            states = self.clip_states(frames)
            pooled = self.attention_pooling(states)
        else:
            features, mask = self._audio(audio_features, audio_features_mask, input_values, input_features,
                                         audio_attention_mask)
            pooled = self.pool_audio(features, mask)
        out.media_embeds = F.normalize(self.media_projection(pooled), dim=-1)
        losses = []
        if caption_embeds is not None:
            out.text_embeds = self.embed_text(caption_embeds)
            scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
            out.logits_per_media = scale * out.media_embeds @ out.text_embeds.T
            if return_loss:
                out.contrastive_loss = symmetric_info_nce(out.logits_per_media)
                losses.append(cfg.contrastive_weight * out.contrastive_loss)
        if cfg.alignment_stage == "video" and return_loss:
            if cfg.temporal_weight > 0 and frames.shape[1] > 1:
                permutations = random_permutations(frames.shape[0], frames.shape[1], frames.device)
                shuffled = self.order_features(self.clip_states(frames, permutations))
                out.temporal_logits = self.temporal_head(torch.cat([self.order_features(states), shuffled]))
                n = frames.shape[0]
                out.temporal_labels = torch.cat([torch.zeros(n), torch.ones(n)]).long().to(frames.device)
                out.temporal_loss = F.cross_entropy(out.temporal_logits, out.temporal_labels)
                losses.append(cfg.temporal_weight * out.temporal_loss)
            if cfg.reconstruction_weight > 0:
                out.reconstruction_loss = self.masked_frame_loss(frames)
                losses.append(cfg.reconstruction_weight * out.reconstruction_loss)
        if losses:
            out.loss = torch.stack(losses).sum()
        return out

    def masked_frame_loss(self, frames: torch.Tensor) -> torch.Tensor:
        """Zero `mask_ratio` of the frame vectors (at least one per clip, never all), run the VECB, reconstruct the
        zeroed frames with `frame_reconstructor`; MSE over the masked frames."""
        n, num_frames, _ = frames.shape
        scores = torch.rand(n, num_frames).to(frames.device)
        num_masked = min(max(1, round(self.config.mask_ratio * num_frames)), max(1, num_frames - 1))
        masked = torch.zeros(n, num_frames, dtype=torch.bool, device=frames.device)
        masked.scatter_(1, scores.argsort(-1)[:, :num_masked], True)
        hidden = self.model.video_bridge(frames * (~masked).unsqueeze(-1).to(frames.dtype))
        reconstructed = self.frame_reconstructor(hidden)
        return F.mse_loss(reconstructed[masked], frames[masked])

    # ---- export -------------------------------------------------------------------------------------------------

    def bridge_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained bridge's tensors, named as in `XEmoGPTForConditionalGeneration` (`model.video_bridge.*`)."""
        prefix = f"model.{STAGE_BRIDGE[self.stage]}."
        return {prefix + k: v.detach().cpu().contiguous() for k, v in self.bridge.state_dict().items()}

    def export_bridges(self, save_directory) -> str:
        """Write `bridges.safetensors` (bridge tensors under generation-model names + the settings they depend on)."""
        from safetensors.torch import save_file

        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, BRIDGES_FILE)
        save_file(self.bridge_state_dict(), path, metadata=bridge_metadata(self.config, self.stage))
        return path


def bridge_metadata(config: XEmoGPTConfig, stage: str) -> dict[str, str]:
    """What a bridge checkpoint must agree on with the model it is loaded into (beyond tensor shapes).

    The AECB layer variant matters most: post-norm and stable-layer-norm layers share parameter names."""
    meta = {"format": "pt", "stage": stage}
    if stage == "video":
        meta.update(vision_model_type=config.vision_config.model_type, hidden_act=str(config.vecb_config.hidden_act),
                    vecb_attention_window=str(config.vecb_attention_window))
    else:
        meta.update(audio_model_type=config.audio_config.model_type, aecb_layer_variant=config.aecb_layer_variant)
    return meta


def load_aligned_bridges(model, source) -> list[str]:
    """Copy aligned bridge weights into an [`XEmoGPTForConditionalGeneration`] (or [`XEmoGPTModel`]).

    `source`: an [`XEmoGPTForCueAlignment`], or a folder / file holding `bridges.safetensors` (as written by
    `export_bridges`). Refuses (ValueError) a bridge whose names, shapes, encoder family or AECB layer variant do not
    match `model`. Returns the names of the tensors copied.
    """
    if isinstance(source, XEmoGPTForCueAlignment):
        tensors, meta = source.bridge_state_dict(), bridge_metadata(source.config, source.stage)
    else:
        from safetensors import safe_open

        path = os.fspath(source)
        if os.path.isdir(path):
            path = os.path.join(path, BRIDGES_FILE)
        if not os.path.isfile(path):
            raise ValueError(f"{path}: no aligned bridges here (expected {BRIDGES_FILE} from an alignment run)")
        with safe_open(path, framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    config = model.config
    stage = meta.get("stage")
    if stage not in STAGE_BRIDGE:
        raise ValueError(f"{source}: not an aligned-bridge checkpoint (metadata has no stage)")
    wanted = bridge_metadata(config, stage)
    for key in set(wanted) - {"format"}:
        if key in meta and meta[key] != wanted[key]:
            raise ValueError(
                f"the aligned {stage} bridge was trained with {key}={meta[key]!r} but the model has {wanted[key]!r}"
            )
    strip = not hasattr(model, "model")  # an XEmoGPTModel names its parts without the "model." prefix
    tensors = {(key.removeprefix("model.") if strip else key): value for key, value in tensors.items()}
    bridge_prefix = ("" if strip else "model.") + STAGE_BRIDGE[stage] + "."
    own = model.state_dict()
    expected = {key for key in own if key.startswith(bridge_prefix)}
    if expected != set(tensors):
        odd = sorted(set(tensors) ^ expected)[:3]
        raise ValueError(f"the aligned {stage} bridge does not fit this model (names differ: {odd}; another number "
                         "of layers?)")
    for name, value in tensors.items():
        if own[name].shape != value.shape:
            raise ValueError(
                f"{name}: the aligned bridge has shape {tuple(value.shape)} but the model has {tuple(own[name].shape)}"
            )
    with torch.no_grad():
        for name, value in tensors.items():
            own[name].copy_(value.to(own[name].dtype))
    return sorted(tensors)


__all__ = [
    "AttentionPooling",
    "XEmoGPTAlignmentConfig",
    "XEmoGPTAlignmentOutput",
    "XEmoGPTCueAlignmentModel",
    "XEmoGPTForCueAlignment",
    "load_aligned_bridges",
]
