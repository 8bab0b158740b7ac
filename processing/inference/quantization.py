"""bitsandbytes quantization of XEmoGPT: the language model in 4-bit (NF4/FP4, optional double quantization) or
8-bit, everything that turns media into LLM tokens kept in the load dtype.

    from transformers import AutoModel, BitsAndBytesConfig
    model = AutoModel.from_pretrained(path, quantization_config=BitsAndBytesConfig(load_in_4bit=True),
                                      dtype=torch.bfloat16)

What is skipped is decided by the model class (`XEmoGPTPreTrainedModel.quantization_skip_modules`): a
bitsandbytes config without `llm_int8_skip_modules` gets the frozen vision and audio encoders, the two cue bridges,
the two projections and the LM head (tied to the embeddings in Qwen3) as its skip list; norms and embeddings are
not Linear layers and are never quantized. The list is written into the saved `config.json`, so a quantized folder
reloads with the same split. Pass `quantize_bridges=True` (or your own `llm_int8_skip_modules`) to quantize the
VECB/AECB too.

dtype for the modules that stay unquantized (measured on this project's CPU machine, see ENVIRONMENT.md): 8-bit ->
float16 (fp32 activations make bitsandbytes' int8 CPU path ~10x slower and warn on every matmul); 4-bit -> bfloat16,
which is also the 4-bit compute dtype.
"""

from __future__ import annotations

from pathlib import Path

import torch

from processing.errors import XEmoGPTError

PARTS = {  # parameter-name prefix (in XEmoGPTForConditionalGeneration) -> part name of parameter_breakdown()
    "model.vision_tower.": "vision_encoder",
    "model.audio_tower.": "audio_encoder",
    "model.video_bridge.": "vecb",
    "model.audio_bridge.": "aecb",
    "model.video_projector.": "projections",
    "model.audio_projector.": "projections",
    "model.language_model.": "llm",
    "lm_head.": "llm",
}


def quantization_config_from_flags(load_in_4bit: bool = False, load_in_8bit: bool = False,
                                   quantize_bridges: bool = False, *, quant_type: str = "nf4",
                                   double_quant: bool = True, compute_dtype: torch.dtype = torch.bfloat16):
    """The `BitsAndBytesConfig` behind `--load-in-4bit` / `--load-in-8bit`, or None when neither is set.

    4-bit: `quant_type` ("nf4" or "fp4"), double quantization of the scales, `compute_dtype` matmuls. The skip list
    is XEmoGPT's default (encoders, projections, LM head and, unless `quantize_bridges`, the VECB/AECB stay unquantized).
    """
    if load_in_4bit and load_in_8bit:
        raise XEmoGPTError("choose one of --load-in-4bit and --load-in-8bit, not both")
    if not (load_in_4bit or load_in_8bit):
        if quantize_bridges:
            raise XEmoGPTError("--quantize-bridges needs --load-in-4bit or --load-in-8bit")
        return None
    if quant_type not in ("nf4", "fp4"):
        raise XEmoGPTError(f"4-bit quant type must be 'nf4' or 'fp4', got {quant_type!r}")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise XEmoGPTError("quantized loading needs bitsandbytes: pip install 'bitsandbytes>=0.45'") from None
    from transformers import BitsAndBytesConfig

    from modeling_xemogpt import XEmoGPTForConditionalGeneration

    skip = XEmoGPTForConditionalGeneration.quantization_skip_modules(quantize_bridges=quantize_bridges)
    if load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type, bnb_4bit_use_double_quant=double_quant,
                              bnb_4bit_compute_dtype=compute_dtype, llm_int8_skip_modules=skip)


def recommended_dtype(load_in_4bit: bool = False, load_in_8bit: bool = False) -> torch.dtype | None:
    """dtype for the unquantized modules: bfloat16 with 4-bit, float16 with 8-bit, None (the checkpoint's) otherwise."""
    if load_in_4bit:
        return torch.bfloat16
    if load_in_8bit:
        return torch.float16
    return None


def load_quantized(path, load_in_4bit: bool = False, load_in_8bit: bool = False, *, quantize_bridges: bool = False,
                   dtype: torch.dtype | None = None, **kwargs):
    """`AutoModel.from_pretrained(path)` with the flags' quantization config and recommended dtype."""
    import modeling_xemogpt  # noqa: F401  (registers the Auto* classes)
    from transformers import AutoModel

    config = quantization_config_from_flags(load_in_4bit, load_in_8bit, quantize_bridges)
    if config is not None:
        kwargs["quantization_config"] = config
    dtype = dtype or recommended_dtype(load_in_4bit, load_in_8bit)
    if dtype is not None:
        kwargs["dtype"] = dtype
    model = AutoModel.from_pretrained(str(path), **kwargs)
    unpack_odd_4bit_layers(model)
    return model


def unpack_odd_4bit_layers(model) -> list[str]:
    """Keep 4-bit layers whose widths bitsandbytes' packed CPU kernel cannot take on its generic path.

    On CPUs with AVX512-BF16, `Linear4bit` repacks its weight at the first inference forward; that needs the input
    width to be a multiple of the block size (64) and the output width a multiple of 32, and fails with a reshape
    error otherwise (tiny test models, odd widths). Those layers are switched to the generic dequantize-and-matmul
    path. Returns their names (empty for real models, whose widths are multiples of 64).
    """
    try:
        import bitsandbytes as bnb
    except ImportError:
        return []
    odd = []
    for name, module in model.named_modules():
        if isinstance(module, bnb.nn.Linear4bit) and getattr(module, "support_avx512bf16_for_cpu", False):
            blocksize = getattr(getattr(module.weight, "quant_state", None), "blocksize", 64)
            if module.in_features % blocksize or module.out_features % 32:
                module.support_avx512bf16_for_cpu = False
                odd.append(name)
    return odd


def save_quantized(path, out_dir, load_in_4bit: bool = False, load_in_8bit: bool = False, *,
                   quantize_bridges: bool = False) -> Path:
    """Quantize the model folder `path` and save it (weights, processor, remote code) to `out_dir`, atomically.

    The saved folder reloads quantized with a plain `AutoModel.from_pretrained(out_dir)`.
    """
    from transformers import AutoProcessor

    from modeling_xemogpt.hub import save_pretrained_with_code

    if not (load_in_4bit or load_in_8bit):
        raise XEmoGPTError("save_quantized needs load_in_4bit or load_in_8bit")
    model = load_quantized(path, load_in_4bit, load_in_8bit, quantize_bridges=quantize_bridges)
    try:
        processor = AutoProcessor.from_pretrained(str(path))
    except (OSError, ValueError):
        processor = None
    return save_pretrained_with_code(model, processor, out_dir)


def quantized_modules(model) -> list[str]:
    """Names of the modules bitsandbytes replaced (Linear4bit / Linear8bitLt)."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return []
    kinds = (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt)
    return [name for name, module in model.named_modules() if isinstance(module, kinds)]


def part_of(name: str) -> str:
    """The part ("vision_encoder", "llm", ...) a parameter or module of the generation model belongs to."""
    for prefix, part in PARTS.items():
        if name.startswith(prefix) or name + "." == prefix:
            return part
    return "other"


def memory_by_part(model) -> dict[str, int]:
    """Bytes of parameters and buffers per part (as stored: 4-bit weights count their packed bytes), plus "total".

    The 4-bit quantization statistics (absmax, code tables) live in the weights' `quant_state` and are added to
    their module's part.
    """
    sizes: dict[str, int] = {}

    def add(name, nbytes):
        part = part_of(name)
        sizes[part] = sizes.get(part, 0) + int(nbytes)

    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        add(name, tensor.numel() * tensor.element_size())
        state = getattr(tensor, "quant_state", None)
        if state is not None:
            for value in _state_tensors(state):
                add(name, value.numel() * value.element_size())
    sizes["total"] = sum(sizes.values())
    return sizes


def _state_tensors(state):
    for value in vars(state).values():
        if isinstance(value, torch.Tensor):
            yield value
        elif hasattr(value, "absmax"):  # the nested state of double quantization
            yield from _state_tensors(value)


__all__ = [
    "load_quantized",
    "memory_by_part",
    "part_of",
    "quantization_config_from_flags",
    "quantized_modules",
    "recommended_dtype",
    "save_quantized",
    "unpack_odd_4bit_layers",
]
