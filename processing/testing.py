"""Tiny, fast, fully local XEmoGPT builds for tests, examples and benchmarks (random weights).

`tiny_config()` keeps every part of the real architecture (CLIP vision, HuBERT, Qwen3, both bridges) at toy sizes.
"""

from __future__ import annotations

TINY_TEXTS = [
    "In the video, the person smiles and raises the eyebrows. In the audio, the voice is high-pitched and loud.",
    "In the video, the person frowns; the head shakes. In the audio, the voice trembles and is soft.",
    "Overall, the person seems happy. Overall, the person seems sad, angry, surprised, fearful or neutral.",
    "Subtitle: \"I can't believe this happened!\" Explain the person's emotion cue by cue.",
    "Video: Audio: the face and body show, what the voice sounds like, and the emotion these cues add up to.",
]


def tiny_tokenizer(vocab_size: int = 320):
    from .tokenizers import build_bpe_tokenizer

    return build_bpe_tokenizer(TINY_TEXTS * 4, vocab_size=vocab_size)


def tiny_config(audio: str = "hubert", vocab_size: int = 320, vision: str = "clip", **overrides):
    """A toy XEmoGPTConfig: 32-wide encoders and LLM, 4 frames of 32 px, a 2-conv audio front end with HuBERT's 320-sample hop (50 audio tokens/s).
    `vision="resnet"`: a tiny ResNet frame encoder (pooled output, VECB layers of its own shape) instead of CLIP."""
    from modeling_xemogpt import XEmoGPTConfig

    if vision == "resnet":
        vision_config = dict(model_type="resnet", embedding_size=8, hidden_sizes=[16, 32], depths=[1, 1],
                             layer_type="basic", downsample_in_first_stage=False)
        for key, value in dict(vision_feature_pooling="pooler_output", vision_image_size=32,
                               vecb_num_attention_heads=4, vecb_intermediate_size=64).items():
            overrides.setdefault(key, value)
    else:
        vision_config = dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                             num_attention_heads=4, image_size=32, patch_size=16)
    if audio == "whisper":
        audio_config = dict(model_type="whisper", d_model=32, encoder_layers=1, encoder_attention_heads=4,
                            encoder_ffn_dim=64, num_mel_bins=16, max_source_positions=100, decoder_layers=1,
                            decoder_attention_heads=4, decoder_ffn_dim=64, vocab_size=64)
        overrides.setdefault("max_audio_seconds", 2.0)
    else:
        audio_config = dict(model_type=audio, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                            num_attention_heads=4, conv_dim=[32, 32], conv_kernel=[20, 16], conv_stride=[20, 16],
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, feat_extract_norm="layer",
                            conv_bias=True, do_stable_layer_norm=True, layerdrop=0.0, mask_time_prob=0.0,
                            hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0)
    text = dict(model_type="qwen3", vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=8, tie_word_embeddings=True,
                max_position_embeddings=4096, eos_token_id=2, pad_token_id=0, bos_token_id=None)
    settings = dict(num_frames=4, video_token_id=3, audio_token_id=4, max_audio_seconds=4.0)
    settings.update(overrides)
    return XEmoGPTConfig(vision_config=vision_config, audio_config=audio_config, text_config=text, **settings)


def tiny_model_and_processor(seed: int = 0, audio: str = "hubert", vision: str = "clip", **overrides):
    """A random tiny XEmoGPTForConditionalGeneration (eval mode) and its processor."""
    import torch

    from modeling_xemogpt import XEmoGPTForConditionalGeneration, XEmoGPTProcessor

    from .tokenizers import media_token_ids, set_generation_tokens

    tokenizer = tiny_tokenizer()
    config = tiny_config(audio=audio, vocab_size=len(tokenizer), vision=vision, **overrides)
    for key, value in media_token_ids(tokenizer).items():
        setattr(config, key, value)
    torch.manual_seed(seed)
    model = set_generation_tokens(XEmoGPTForConditionalGeneration(config).eval(), tokenizer)
    processor = XEmoGPTProcessor.for_config(config, tokenizer)
    return model, processor


def random_clip(num_frames: int = 4, seconds: float = 1.0, size: int = 40, seed: int = 0, sampling_rate: int = 16000):
    """Random frames (F, size, size, 3) uint8 and a mono waveform of `seconds`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 255, size=(num_frames, size, size, 3), dtype=np.uint8)
    audio = (0.1 * rng.standard_normal(int(seconds * sampling_rate))).astype(np.float32)
    return frames, audio
