"""Memory and load time of XEmoGPT in fp32 / bf16 / 8-bit / 4-bit (bitsandbytes) on CPU, measured on a model with a
>= 100M-parameter language model, and the published model's footprint per precision computed from its parameters.

* `measured`: a random XEmoGPT (small CLIP-style and HuBERT-style encoders; Qwen3 1024 wide x 12 layers, vocabulary
  16,384 so that the embedding holds ~10 % of the LLM's parameters, as in Qwen3-4B) is saved once (fp32 safetensors)
  to a temp folder; each precision loads it in a fresh process: `model.get_memory_footprint()`, bytes per part
  (`processing.inference.quantization.memory_by_part`, 4-bit statistics included), the RSS growth of the first load once every
  weight was read (`rss_delta_bytes`; fp32 is memory-mapped) and again after freed heap pages went back to the OS
  (`rss_delta_after_trim_bytes`: what the model keeps), and the median load time over `--loads` loads.
  4-bit is NF4 with double quantization and bf16 compute; 8-bit keeps the rest in float16 (the settings of
  `--load-in-4bit` / `--load-in-8bit`); only the language model is quantized. `nf4_saved`: that 4-bit model saved
  (`save_pretrained`, as `save_quantized` does) and reloaded: quantize once, then start fast.
* `published`: `XEmoGPTConfig()` (CLIP ViT-L/14, chinese-hubert-large, Qwen3-4B) built on the meta device; bytes per
  part and precision from the parameter counts, with the quantized layout of bitsandbytes (8-bit: int8 weights + one
  fp32 scale per output row; NF4 + double quant: 4 bits per weight, one 8-bit scale per 64 weights, one fp32 scale
  per 256 of those, plus a 256-entry code table). `formula_check` applies the same formula to the measured model.

The LAST stdout line is one JSON object with `machine`, `settings`, `measured`, `published`, `ratios`.

    python benchmarks/bench_memory.py [--loads 2]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from common import AUDIO, VISION  # noqa: E402  (benchmarks/common.py)

TEXT = dict(model_type="qwen3", vocab_size=16384, hidden_size=1024, intermediate_size=3072, num_hidden_layers=12,
            num_attention_heads=16, num_key_value_heads=8, head_dim=64, tie_word_embeddings=True,
            max_position_embeddings=4096)
PRECISIONS = ("fp32", "bf16", "int8", "nf4")
BLOCK, NESTED_BLOCK = 64, 256  # bitsandbytes 4-bit block size; double quantization groups 256 block scales


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc keeps them otherwise, so the RSS of a
    quantized load would still show the fp32 weights it read and converted)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def touch(model) -> None:
    """Read every weight once: fp32 loads map the safetensors file and only pages that are read count in the RSS."""
    with torch.inference_mode():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.view(-1)[:: max(1, 4096 // tensor.element_size())].float().sum()


def load(path: str, precision: str):
    from processing.inference.quantization import load_quantized

    if precision == "fp32":
        return load_quantized(path, dtype=torch.float32)
    if precision in ("bf16", "nf4_saved"):  # nf4_saved: a folder saved 4-bit, its config says so
        return load_quantized(path, dtype=torch.bfloat16)
    return load_quantized(path, load_in_8bit=precision == "int8", load_in_4bit=precision == "nf4")


def worker(path: str, precision: str, loads: int, save_to: str | None = None) -> dict:
    """One precision in this (fresh) process: footprint, bytes per part, RSS growth of the first load, load times.
    `save_to`: save the first loaded (quantized) model there."""
    import bitsandbytes  # noqa: F401  (imported before the baseline RSS: libraries are not the model)
    import transformers.integrations.bitsandbytes  # noqa: F401

    import modeling_xemogpt  # noqa: F401
    from processing.inference.quantization import memory_by_part, quantized_modules

    release_freed_memory()
    before = rss_bytes()
    times = []
    for index in range(loads):
        start = time.perf_counter()
        model = load(path, precision)
        times.append(time.perf_counter() - start)
        if index == 0:
            touch(model)
            gc.collect()
            rss_delta = rss_bytes() - before
            release_freed_memory()
            result = {"footprint_bytes": model.get_memory_footprint(), "bytes_by_part": memory_by_part(model),
                      "rss_delta_bytes": rss_delta, "rss_delta_after_trim_bytes": rss_bytes() - before,
                      "quantized_linear_layers": len(quantized_modules(model))}
            with torch.inference_mode():  # the loaded model runs
                ids = torch.tensor([[5, 6, 7, 8]])
                result["logits_finite"] = bool(torch.isfinite(model(input_ids=ids).logits.float()).all())
            if save_to:
                model.save_pretrained(save_to)
        del model
        gc.collect()
    return {**result, "load_s": round(statistics.median(times), 3), "load_s_all": [round(t, 3) for t in times]}


def build_and_save(folder: Path) -> dict:
    from modeling_xemogpt import XEmoGPTConfig, XEmoGPTForConditionalGeneration

    config = XEmoGPTConfig(vision_config=VISION, audio_config=AUDIO, text_config=TEXT, video_token_id=16000,
                           audio_token_id=16001)
    torch.manual_seed(0)
    model = XEmoGPTForConditionalGeneration(config)
    model.save_pretrained(folder)
    return model.parameter_breakdown()


# ---- the published model, computed ----------------------------------------------------------------------------------


def quantized_linear_bytes(out_features: int, in_features: int, bias: bool, precision: str) -> float:
    """Bytes of one Linear as bitsandbytes stores it (bias kept in the compute dtype)."""
    weights = out_features * in_features
    bias_bytes = 2 * out_features if bias else 0
    if precision == "int8":
        return weights + 4 * out_features + bias_bytes  # int8 weights + one fp32 row scale (SCB)
    blocks = -(-weights // BLOCK)
    nested = -(-blocks // NESTED_BLOCK)
    return weights / 2 + blocks + 4 * nested + 4 * 256 + 4 + bias_bytes  # nf4 + uint8 scales + fp32 + code + offset


def computed_bytes_by_part(model, precision: str) -> dict[str, int]:
    """Bytes per part of `model` (meta device is fine) in `precision`, using XEmoGPT's default skip list."""
    from transformers.quantizers.quantizers_utils import should_convert_module

    from processing.inference.quantization import part_of

    skip = model.quantization_skip_modules()
    plain = {"fp32": 4, "bf16": 2, "int8": 2, "nf4": 2}[precision]  # 8-bit: the rest in float16; 4-bit: bfloat16
    sizes: dict[str, float] = {}
    counted = set()
    for name, module in model.named_modules():
        if precision in ("int8", "nf4") and type(module) is torch.nn.Linear and should_convert_module(name, skip):
            part = part_of(name + ".weight")
            sizes[part] = sizes.get(part, 0) + quantized_linear_bytes(
                module.out_features, module.in_features, module.bias is not None, precision)
            counted.update(f"{name}.{p}" for p, _ in module.named_parameters())
    for name, param in model.named_parameters():
        if name not in counted:
            part = part_of(name)
            sizes[part] = sizes.get(part, 0) + param.numel() * plain
    sizes = {k: int(v) for k, v in sizes.items()}
    sizes["total"] = sum(sizes.values())
    return sizes


def published_footprint() -> dict:
    from modeling_xemogpt import XEmoGPTConfig, XEmoGPTForConditionalGeneration

    with torch.device("meta"):
        model = XEmoGPTForConditionalGeneration(XEmoGPTConfig())
    parts = model.parameter_breakdown()
    gib = {p: {k: round(v / 2**30, 3) for k, v in computed_bytes_by_part(model, p).items()} for p in PRECISIONS}
    return {"parameters": parts, "gib_by_precision": gib,
            "llm_nf4_vs_bf16": round(gib["nf4"]["llm"] / gib["bf16"]["llm"], 3),
            "llm_int8_vs_bf16": round(gib["int8"]["llm"] / gib["bf16"]["llm"], 3),
            "total_nf4_vs_bf16": round(gib["nf4"]["total"] / gib["bf16"]["total"], 3)}


def machine() -> dict:
    import bitsandbytes
    import transformers

    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()), "torch": torch.__version__,
            "transformers": transformers.__version__, "bitsandbytes": bitsandbytes.__version__, "device": "cpu"}


def run_worker(folder: Path, precision: str, loads: int, save_to: Path | None = None) -> dict:
    command = [sys.executable, __file__, "--worker", precision, str(folder), "--loads", str(loads)]
    out = subprocess.run(command + (["--save-to", str(save_to)] if save_to else []), capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise RuntimeError(f"{precision} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=2, help="loads per precision for the load-time median")
    parser.add_argument("--worker", nargs=2, metavar=("PRECISION", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--save-to", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[1], args.worker[0], args.loads, args.save_to)))
        return
    start = time.perf_counter()
    info = machine()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "xemogpt-medium"
        parts = build_and_save(folder)
        saved = Path(tmp) / "xemogpt-medium-nf4"
        measured = {p: run_worker(folder, p, args.loads, saved if p == "nf4" else None) for p in PRECISIONS}
        measured["nf4_saved"] = run_worker(saved, "nf4_saved", args.loads)
        saved_bytes = sum(f.stat().st_size for f in saved.glob("*.safetensors"))
        fp32_bytes = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
        from modeling_xemogpt import XEmoGPTConfig, XEmoGPTForConditionalGeneration

        with torch.device("meta"):
            meta = XEmoGPTForConditionalGeneration(XEmoGPTConfig(vision_config=VISION, audio_config=AUDIO,
                                                                 text_config=TEXT, video_token_id=16000,
                                                                 audio_token_id=16001))
        formula = {p: computed_bytes_by_part(meta, p)["llm"] for p in PRECISIONS}
    llm = {p: measured[p]["bytes_by_part"]["llm"] for p in PRECISIONS}
    published = published_footprint()
    print(json.dumps({
        "machine": info,
        "settings": {"loads": args.loads, "vision": VISION, "audio": AUDIO, "text": TEXT, "parameters": parts,
                     "nf4": "NF4, double quantization, bf16 compute, rest bf16", "int8": "LLM.int8, rest float16",
                     "quantized": "language-model Linear layers (default skip list: encoders, bridges, projections, lm_head)"},
        "measured": measured,
        "checkpoint_bytes": {"fp32": fp32_bytes, "nf4_saved": saved_bytes},
        "formula_check": {"llm_bytes_computed": formula, "llm_bytes_measured": llm,
                          "max_relative_error": round(max(abs(formula[p] - llm[p]) / llm[p] for p in PRECISIONS), 4)},
        "published": published,
        "wall_s": round(time.perf_counter() - start, 1),
        "ratios": {
            "llm_nf4_vs_bf16": round(llm["nf4"] / llm["bf16"], 3),
            "llm_int8_vs_bf16": round(llm["int8"] / llm["bf16"], 3),
            "footprint_nf4_vs_bf16": round(measured["nf4"]["footprint_bytes"] / measured["bf16"]["footprint_bytes"], 3),
            "footprint_bf16_vs_fp32": round(measured["bf16"]["footprint_bytes"] / measured["fp32"]["footprint_bytes"], 3),
            "rss_after_trim_nf4_vs_bf16": round(measured["nf4"]["rss_delta_after_trim_bytes"]
                                                / measured["bf16"]["rss_delta_after_trim_bytes"], 3),
            "load_time_nf4_vs_bf16": round(measured["nf4"]["load_s"] / measured["bf16"]["load_s"], 2),
            "load_time_int8_vs_bf16": round(measured["int8"]["load_s"] / measured["bf16"]["load_s"], 2),
            "load_time_nf4_saved_vs_bf16": round(measured["nf4_saved"]["load_s"] / measured["bf16"]["load_s"], 2),
            "footprint_nf4_saved_vs_nf4": round(measured["nf4_saved"]["footprint_bytes"]
                                                / measured["nf4"]["footprint_bytes"], 3),
            "published_llm_nf4_vs_bf16": published["llm_nf4_vs_bf16"],
        },
    }))


if __name__ == "__main__":
    main()
