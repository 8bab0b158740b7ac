"""Convert the published XEmoGPT checkpoint (a `torch.save`d plain nn.Module state dict) to this format.

Key layout of the original (ARCHITECTURE.md §6) -> ours:

    llm_model.base_model.model.model.*                  -> model.language_model.*
    llm_model.base_model.model.lm_head.*                -> lm_head.*
    ...self_attn.{q,k,v}_proj.base_layer.weight         -> ...self_attn.{q,k,v}_proj.weight   (+ LoRA, see below)
    visual_encoder.clip.vision_model.*                  -> model.vision_tower.*
    visual_encoder.visual_alignment_layer.{i}.*         -> model.video_bridge.layers.{i}.*
    visual_encoder.position_embedding                   -> model.video_bridge.position_embedding
    visual_llm_project.*                                -> model.video_projector.*
    audio_encoder.audio_encoder.*                       -> model.audio_tower.*
    audio_encoder.audio_alignment_layer.{i}.*           -> model.audio_bridge.layers.{i}.*
    audio_llm_project.*                                 -> model.audio_projector.*

Stage-1/2 heads (CLIP text tower and projections, attention pooling, temporal and reconstruction heads, the
audio text projection) are alignment-only: reported, not part of the generation model. LoRA on q/k/v is kept as
a PEFT adapter or merged as W + B·A·alpha/r. Anything else is refused rather than silently dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

LLM_PREFIX = "llm_model.base_model.model."
LORA_RE = re.compile(r"^(?P<module>.+\.(?:q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj))\.lora_(?P<ab>[AB])\.(?P<adapter>[^.]+)\.weight$")
BASE_LAYER_RE = re.compile(r"^(?P<module>.+)\.base_layer\.(?P<param>weight|bias)$")
ALIGNMENT_ONLY_PREFIXES = (
    "visual_encoder.clip.text_model.",
    "visual_encoder.clip.visual_projection.",
    "visual_encoder.clip.text_projection.",
    "visual_encoder.clip.logit_scale",
    "visual_encoder.attention_pooling.",
    "visual_encoder.visual_project.",
    "visual_encoder.text_project.",
    "visual_encoder.temporal_disc_head.",
    "visual_encoder.frame_reconstructor.",
    "audio_encoder.audio_project.",
)
SIMPLE_PREFIXES = (
    ("visual_encoder.clip.vision_model.", "model.vision_tower."),
    ("visual_encoder.visual_alignment_layer.", "model.video_bridge.layers."),
    ("visual_encoder.position_embedding", "model.video_bridge.position_embedding"),
    ("visual_llm_project.", "model.video_projector."),
    ("audio_encoder.audio_encoder.", "model.audio_tower."),
    ("audio_encoder.audio_alignment_layer.", "model.audio_bridge.layers."),
    ("audio_llm_project.", "model.audio_projector."),
)


class ConversionError(ValueError):
    """The checkpoint cannot be converted without losing or inventing weights."""


@dataclass
class ConversionReport:
    mapped: dict[str, str] = field(default_factory=dict)  # original key -> our key
    lora_modules: list[str] = field(default_factory=list)  # our module names that carried LoRA
    alignment_only: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # our keys the checkpoint did not provide
    filled_from_components: list[str] = field(default_factory=list)
    merged_lora: bool = False
    lora_rank: int | None = None
    lora_alpha: float | None = None

    def summary(self) -> dict:
        return {
            "mapped": len(self.mapped),
            "lora_modules": len(self.lora_modules),
            "merged_lora": self.merged_lora,
            "lora_rank": self.lora_rank,
            "lora_alpha": self.lora_alpha,
            "lora_scale": None if self.lora_rank is None else self.lora_alpha / self.lora_rank,
            "alignment_only": len(self.alignment_only),
            "unmapped": self.unmapped,
            "missing_from_checkpoint": len(self.missing),
            "filled_from_components": len(self.filled_from_components),
        }


def load_original_state_dict(path) -> dict[str, torch.Tensor]:
    """Read a legacy checkpoint safely (`weights_only=True`); unwrap `{"state_dict": ...}` / `{"model": ...}`."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle with arbitrary objects is refused by weights_only
            raise ConversionError(f"{path}: not a weights-only checkpoint ({str(exc).splitlines()[0]})") from exc
    for key in ("state_dict", "model", "module"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConversionError(f"{path}: expected a state dict of tensors")
    return state


def map_key(key: str) -> str | None:
    """Our key for an original non-LoRA key, or None when it is not part of the generation model."""
    key = key.removeprefix("module.")
    if key.startswith(LLM_PREFIX):
        rest = key[len(LLM_PREFIX):]
        match = BASE_LAYER_RE.match(rest)
        if match:
            rest = f"{match['module']}.{match['param']}"
        if rest.startswith("model."):
            return "model.language_model." + rest[len("model."):]
        if rest.startswith("lm_head."):
            return rest
        return None
    for old, new in SIMPLE_PREFIXES:
        if key.startswith(old):
            return new + key[len(old):]
    return None


def _hubert_weight_norm_key(key: str, ours: set[str]) -> str:
    """Old HuBERT checkpoints store the positional conv's weight norm as weight_g / weight_v."""
    if key.endswith("conv.weight_g") and key not in ours:
        return key.replace("conv.weight_g", "conv.parametrizations.weight.original0")
    if key.endswith("conv.weight_v") and key not in ours:
        return key.replace("conv.weight_v", "conv.parametrizations.weight.original1")
    return key


def convert_state_dict(original: dict[str, torch.Tensor], our_keys: set[str], *, allow_unmapped: bool = False):
    """Map `original` onto `our_keys`. Returns (state dict, LoRA tensors {our module: (A, B)}, report). LoRA is
    neither merged nor scaled here: that needs the full model (`merge_lora_into`)."""
    report = ConversionReport()
    state: dict[str, torch.Tensor] = {}
    lora: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in original.items():
        bare = key.removeprefix("module.")
        if bare.startswith(LLM_PREFIX) and (match := LORA_RE.match(bare[len(LLM_PREFIX):])):
            module = match["module"]
            ours = "model.language_model." + module[len("model."):] if module.startswith("model.") else module
            lora.setdefault(ours, {})[match["ab"]] = tensor
            continue
        if bare.startswith(ALIGNMENT_ONLY_PREFIXES):
            report.alignment_only.append(key)
            continue
        mapped = map_key(bare)
        if mapped is None:
            report.unmapped.append(key)
            continue
        mapped = _hubert_weight_norm_key(mapped, our_keys)
        if mapped not in our_keys:
            report.unmapped.append(key)
            continue
        state[mapped] = tensor
        report.mapped[key] = mapped
    if report.unmapped and not allow_unmapped:
        shown = ", ".join(report.unmapped[:5])
        raise ConversionError(
            f"{len(report.unmapped)} checkpoint keys have no place in XEmoGPT (e.g. {shown}); refusing to drop them "
            "(pass allow_unmapped=True / --allow-unmapped to convert anyway)"
        )
    incomplete = [m for m, ab in lora.items() if set(ab) != {"A", "B"}]
    if incomplete:
        raise ConversionError(f"LoRA weights incomplete (need lora_A and lora_B) for: {', '.join(incomplete[:5])}")
    report.lora_modules = sorted(lora)
    report.missing = sorted(our_keys - set(state))
    return state, {module: (ab["A"], ab["B"]) for module, ab in lora.items()}, report


def lora_rank(adapters: dict, model) -> int:
    """The LoRA rank, after checking every (A, B) against its module: A (r, in_features), B (out_features, r), one r
    for all. A mismatch is a `ConversionError` naming the module."""
    ranks = set()
    for module, (a, b) in adapters.items():
        try:
            linear = model.get_submodule(module)
        except AttributeError as exc:
            raise ConversionError(f"LoRA for {module}, which the model does not have") from exc
        out_features, in_features = linear.weight.shape
        if a.dim() != 2 or b.dim() != 2 or a.shape[1] != in_features or b.shape[0] != out_features or a.shape[0] != b.shape[1]:
            raise ConversionError(
                f"LoRA for {module}: lora_A {tuple(a.shape)} and lora_B {tuple(b.shape)} do not fit its weight "
                f"({out_features}, {in_features}) as B @ A"
            )
        ranks.add(a.shape[0])
    if len(ranks) > 1:
        raise ConversionError(f"LoRA ranks differ between modules ({sorted(ranks)}); expected one rank")
    return ranks.pop()


@torch.no_grad()
def merge_lora_into(model, adapters: dict, scale: float) -> None:
    """W <- W + (B @ A) * scale for each module, computed in float32 from the weights already in `model` (the base
    weight may come from the checkpoint or from the components) and stored in the weight's own dtype."""
    for module, (a, b) in adapters.items():
        weight = model.get_submodule(module).weight
        merged = weight.float() + (b.float() @ a.float()) * scale
        weight.copy_(merged.to(weight.dtype))


def bridge_settings_from(original: dict[str, torch.Tensor]) -> dict:
    """Frames and bridge depths read off the checkpoint itself (position table rows, layer indices)."""
    settings = {}
    table = original.get("visual_encoder.position_embedding", original.get("module.visual_encoder.position_embedding"))
    if table is not None:
        settings["num_frames"] = int(table.shape[1])
    for prefix, name in (("visual_encoder.visual_alignment_layer.", "vecb_num_layers"),
                         ("audio_encoder.audio_alignment_layer.", "aecb_num_layers")):
        layers = {int(k.removeprefix("module.")[len(prefix):].split(".")[0]) for k in original
                  if k.removeprefix("module.").startswith(prefix)}
        if layers:
            settings[name] = max(layers) + 1
    return settings


def save_peft_adapter(adapters: dict, out_dir, *, lora_alpha: float, dropout: float = 0.05) -> Path:
    """Write LoRA tensors as a PEFT adapter folder loadable with `PeftModel.from_pretrained(model, out_dir)`."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors, targets, rank = {}, set(), None
    for module, (a, b) in adapters.items():
        tensors[f"base_model.model.{module}.lora_A.weight"] = a.contiguous()
        tensors[f"base_model.model.{module}.lora_B.weight"] = b.contiguous()
        targets.add(module.rsplit(".", 1)[-1])
        rank = a.shape[0]
    save_file(tensors, str(out_dir / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": None,
        "r": rank,
        "lora_alpha": lora_alpha,
        "lora_dropout": dropout,
        "bias": "none",
        # only the language model: the encoders' attention layers share these names
        "target_modules": r"model\.language_model\..*\.(" + "|".join(sorted(targets)) + ")",
        "base_model_name_or_path": None,
        "inference_mode": True,
    }
    (out_dir / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out_dir


def convert_original(checkpoint, out_dir, *, vision, audio, text, lora_alpha: float | None = 512.0,
                     merge_lora: bool = True, allow_unmapped: bool = False, prompt_style: str = "original",
                     dtype=None) -> ConversionReport:
    """Convert a published checkpoint into a Hub-ready XEmoGPT folder at `out_dir`.

    `vision`, `audio`, `text` are the component checkpoints (local folders or Hub ids) that define the
    architecture and fill every weight a trainable-only checkpoint leaves out. LoRA (rank read off the checkpoint,
    `lora_alpha` as trained: the checkpoint does not store it) is merged in float32 after the base weights are in
    place (`merge_lora`, default), or kept as a PEFT adapter in `out_dir/adapter`, which `from_pretrained` applies
    on every route. The converted processor builds the published prompt (ARCHITECTURE.md §6.1) by default.
    """
    from .hub import save_pretrained_with_code
    from .modeling_xemogpt import ADAPTER_FOLDER, XEmoGPTForConditionalGeneration

    original = load_original_state_dict(checkpoint)
    model, processor = XEmoGPTForConditionalGeneration.from_pretrained_components(
        vision, audio, text, return_processor=True, prompt_style=prompt_style, dtype=dtype,
        **bridge_settings_from(original),
    )
    ours = model.state_dict()
    state, adapters, report = convert_state_dict(original, set(ours), allow_unmapped=allow_unmapped)
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(ours[key].shape):
            raise ConversionError(f"{key}: checkpoint shape {tuple(tensor.shape)} != model shape {tuple(ours[key].shape)}")
    report.filled_from_components = [k for k in report.missing if not k.startswith(("model.video_bridge", "model.audio_bridge", "model.video_projector", "model.audio_projector"))]
    untrained = sorted(set(report.missing) - set(report.filled_from_components))
    if untrained:
        raise ConversionError(
            f"the checkpoint does not provide {len(untrained)} bridge/projection weights (e.g. {untrained[0]}); "
            "these exist only in a trained XEmoGPT checkpoint"
        )
    model.load_state_dict(state, strict=False)  # copies into the model's dtype: no rounding through the checkpoint's
    if adapters:
        if lora_alpha is None:
            raise ConversionError("the checkpoint carries LoRA weights: give lora_alpha (the paper used 512)")
        report.lora_rank, report.lora_alpha = lora_rank(adapters, model), float(lora_alpha)
        if merge_lora:
            merge_lora_into(model, adapters, lora_alpha / report.lora_rank)
            report.merged_lora = True
    extra = {"conversion_report.json": json.dumps(report.summary(), indent=2) + "\n"}
    keep = adapters and not merge_lora
    save_pretrained_with_code(
        model, processor, out_dir, extra_files=extra,
        before_publish=(lambda tmp: save_peft_adapter(adapters, tmp / ADAPTER_FOLDER, lora_alpha=lora_alpha)) if keep else None,
    )
    return report
