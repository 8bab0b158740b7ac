"""XEmoGPT as a transformers model: forward, generate, mixed batches, save/load, Auto* classes, remote code."""

import json
import numpy as np
import pytest
import torch

from modeling_xemogpt import (
    XEmoGPTConfig,
    XEmoGPTForConditionalGeneration,
    XEmoGPTProcessor,
)
from modeling_xemogpt.hub import save_pretrained_with_code
from processing.testing import random_clip, tiny_config, tiny_model_and_processor
from tests.remote_code import assert_loads_without_our_packages


@pytest.fixture(scope="module")
def tiny():
    return tiny_model_and_processor(seed=0)


def _clips():
    f1, a1 = random_clip(seconds=1.0, seed=1)
    f2, a2 = random_clip(seconds=2.3, seed=2)
    f3, _ = random_clip(seconds=0.5, seed=3)
    _, a4 = random_clip(seconds=0.7, seed=4)
    return [
        {"frames": f1, "audio": a1, "subtitle": "I am fine."},
        {"frames": f2, "audio": a2, "subtitle": "What a day!"},
        {"frames": f3, "audio": None, "subtitle": "video only"},
        {"frames": None, "audio": a4, "subtitle": "audio only"},
        {"frames": None, "audio": None, "subtitle": "text only"},
    ]


def test_forward_returns_logits_and_a_finite_loss(tiny):
    model, processor = tiny
    frames, audio = random_clip()
    inputs = processor.prepare_clip(frames, audio, subtitle="hello")
    out = model(**inputs, labels=inputs["input_ids"])
    assert out.logits.shape == (*inputs["input_ids"].shape, model.config.text_config.vocab_size)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert model.model.video_bridge.position_embedding.grad is not None
    assert model.model.audio_projector.weight.grad is not None
    # frozen encoders get no gradient
    assert all(p.grad is None for p in model.model.vision_tower.parameters())
    assert all(p.grad is None for p in model.model.audio_tower.parameters())
    model.zero_grad(set_to_none=True)


def test_greedy_generate_is_identical_with_and_without_cache(tiny):
    model, processor = tiny
    frames, audio = random_clip(seed=5)
    inputs = processor.prepare_clip(frames, audio, subtitle="hi")
    cached = model.generate(**inputs, max_new_tokens=12, do_sample=False, use_cache=True)
    uncached = model.generate(**inputs, max_new_tokens=12, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)


def test_mixed_batch_gives_the_same_outputs_as_one_by_one(tiny):
    model, processor = tiny
    clips = _clips()
    batch = processor.prepare_clips(clips)
    with torch.no_grad():
        batched_logits = model(**batch).logits[:, -1]
        batched_gen = model.generate(**batch, max_new_tokens=6, do_sample=False)
    prompt_len = batch["input_ids"].shape[1]
    for i, clip in enumerate(clips):
        single = processor.prepare_clip(clip["frames"], clip["audio"], clip["subtitle"])
        with torch.no_grad():
            logits = model(**single).logits[:, -1]
            gen = model.generate(**single, max_new_tokens=6, do_sample=False)
        torch.testing.assert_close(batched_logits[i], logits[0], atol=1e-4, rtol=1e-4)
        assert batched_gen[i, prompt_len:].tolist() == gen[0, single["input_ids"].shape[1]:].tolist()


def test_cached_encoder_features_give_the_same_logits_as_raw_media(tiny):
    model, processor = tiny
    frames, audio = random_clip(seed=7)
    inputs = processor.prepare_clip(frames, audio, subtitle="x")
    with torch.no_grad():
        raw = model(**inputs).logits
        video_features = model.model.encode_video(inputs["pixel_values_videos"])
        audio_features, audio_mask = model.model.encode_audio(
            input_values=inputs["input_values"], audio_attention_mask=inputs["audio_attention_mask"]
        )
        cached = model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], video_features=video_features,
            audio_features=audio_features, audio_features_mask=audio_mask,
        ).logits
    torch.testing.assert_close(raw, cached)


def test_placeholder_count_mismatch_is_a_clear_error(tiny):
    model, processor = tiny
    frames, audio = random_clip()
    inputs = processor.prepare_clip(frames, audio)
    ids = inputs["input_ids"].clone()
    ids[ids == model.config.video_token_id] = processor.tokenizer.pad_token_id
    with pytest.raises(ValueError, match="video tokens and video features do not match"):
        model(input_ids=ids, pixel_values_videos=inputs["pixel_values_videos"])


@pytest.mark.parametrize("seconds", [0.5, 1.0, 3.7, 12.0, 30.0, 60.0])
@pytest.mark.parametrize("audio", ["hubert", "wav2vec2"])
def test_processor_audio_token_count_matches_the_model(seconds, audio):
    model, processor = tiny_model_and_processor(audio=audio, max_audio_seconds=12.0)
    wave = np.zeros(int(seconds * 16000), dtype=np.float32)
    inputs = processor(text=["<|audio|>"], audio=[wave], return_tensors="pt")
    with torch.no_grad():
        tokens, counts = model.get_audio_features(
            input_values=inputs["input_values"], audio_attention_mask=inputs["audio_attention_mask"]
        )
    assert counts.tolist() == [processor.num_audio_tokens(len(wave))]
    assert int((inputs["input_ids"] == model.config.audio_token_id).sum()) == tokens.shape[0]


@pytest.mark.parametrize("seconds", [0.5, 1.3, 2.0, 5.0])
def test_whisper_style_audio_encoder_counts_match(seconds):
    model, processor = tiny_model_and_processor(audio="whisper")
    frames, _ = random_clip()
    wave = np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32) * 0.1
    inputs = processor.prepare_clip(frames, wave, subtitle="s")
    with torch.no_grad():
        out = model(**inputs)
    assert out.audio_hidden_states.shape[0] == processor.num_audio_tokens(len(wave))


def test_audio_token_stride_pools_in_order_and_counts_match():
    model, processor = tiny_model_and_processor(audio_token_stride=5)
    for seconds in (0.3, 1.0, 2.17):
        wave = np.ones(int(seconds * 16000), dtype=np.float32)
        inputs = processor(text=["<|audio|>"], audio=[wave], return_tensors="pt")
        with torch.no_grad():
            tokens, counts = model.get_audio_features(
                input_values=inputs["input_values"], audio_attention_mask=inputs["audio_attention_mask"]
            )
        assert counts.item() == processor.num_audio_tokens(len(wave)) == tokens.shape[0]


def test_save_and_load_round_trip_gives_identical_logits(tiny, tmp_path):
    model, processor = tiny
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path).eval()
    loaded_processor = XEmoGPTProcessor.from_pretrained(tmp_path)
    frames, audio = random_clip(seed=9)
    a = processor.prepare_clip(frames, audio, subtitle="s")
    b = loaded_processor.prepare_clip(frames, audio, subtitle="s")
    assert torch.equal(a["input_ids"], b["input_ids"])
    with torch.no_grad():
        torch.testing.assert_close(model(**a).logits, loaded(**b).logits, atol=0, rtol=0)


def test_auto_classes_load_the_generation_model_and_processor(tiny, tmp_path):
    from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor

    model, processor = tiny
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), XEmoGPTConfig)
    assert isinstance(AutoModel.from_pretrained(tmp_path), XEmoGPTForConditionalGeneration)
    assert isinstance(AutoModelForImageTextToText.from_pretrained(tmp_path), XEmoGPTForConditionalGeneration)
    assert isinstance(AutoProcessor.from_pretrained(tmp_path), XEmoGPTProcessor)


def test_saved_folder_loads_with_remote_code_where_our_packages_cannot_be_imported(tiny, tmp_path):
    model, processor = tiny
    folder = save_pretrained_with_code(model, processor, tmp_path / "export")
    config = json.loads((folder / "config.json").read_text())
    assert set(config["auto_map"]) >= {"AutoConfig", "AutoModel", "AutoModelForImageTextToText", "AutoProcessor"}
    frames, audio = random_clip(seed=11)
    with torch.no_grad():
        expected = model(**processor.prepare_clip(frames, audio, subtitle="s")).logits
    assert_loads_without_our_packages(folder, tmp_path, frames, audio, expected)


def test_aecb_layer_variant_defaults_to_the_published_post_norm_and_is_switchable():
    from transformers.models.hubert.modeling_hubert import HubertEncoderLayer, HubertEncoderLayerStableLayerNorm

    assert XEmoGPTConfig().aecb_layer_variant == "post_norm"
    post, _ = tiny_model_and_processor()
    pre, _ = tiny_model_and_processor(aecb_layer_variant="stable_layer_norm")
    assert type(post.model.audio_bridge.layers[0]) is HubertEncoderLayer
    assert type(pre.model.audio_bridge.layers[0]) is HubertEncoderLayerStableLayerNorm
    # identical parameter names: a checkpoint loads into either variant silently ...
    assert list(post.model.audio_bridge.state_dict()) == list(pre.model.audio_bridge.state_dict())
    pre.model.audio_bridge.load_state_dict(post.model.audio_bridge.state_dict())
    # ... and computes something else, which is why the variant is explicit in the config
    x = torch.randn(2, 7, 32)
    mask = torch.ones(2, 7, dtype=torch.bool)
    with torch.no_grad():
        assert not torch.allclose(post.model.audio_bridge(x, mask), pre.model.audio_bridge(x, mask))
    with pytest.raises(ValueError, match="aecb_layer_variant"):
        tiny_config(aecb_layer_variant="pre")


def test_aecb_zeroes_padded_frames_and_ignores_them():
    model, _ = tiny_model_and_processor()
    bridge = model.model.audio_bridge
    x = torch.randn(1, 9, 32)
    mask = torch.tensor([[True] * 6 + [False] * 3])
    garbage = x.clone()
    garbage[:, 6:] = 100.0
    with torch.no_grad():
        a, b = bridge(x, mask), bridge(garbage, mask)
    assert torch.all(a[:, 6:] == 0)
    torch.testing.assert_close(a, b)


def test_vecb_is_order_aware_through_its_position_table():
    model, _ = tiny_model_and_processor()
    bridge = model.model.video_bridge
    frames = torch.randn(1, 4, 32)
    reversed_frames = frames.flip(1)
    with torch.no_grad():
        out = bridge(frames)
        out_rev = bridge(reversed_frames)
    # without positions the layers are permutation-equivariant; with them, reordering changes the tokens
    assert not torch.allclose(out.flip(1), out_rev, atol=1e-5)
    with torch.no_grad():
        plain = bridge.encode(frames)
        plain_rev = bridge.encode(reversed_frames)
    torch.testing.assert_close(plain.flip(1), plain_rev, atol=1e-5, rtol=1e-5)


def test_sdpa_and_eager_attention_agree(tiny, tmp_path):
    model, processor = tiny
    model.save_pretrained(tmp_path)
    eager = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path, attn_implementation="eager").eval()
    sdpa = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path, attn_implementation="sdpa").eval()
    assert sdpa.config.text_config._attn_implementation == "sdpa"
    assert eager.config.vision_config._attn_implementation == "eager"
    frames, audio = random_clip(seed=3)
    inputs = processor.prepare_clip(frames, audio)
    with torch.no_grad():
        torch.testing.assert_close(eager(**inputs).logits, sdpa(**inputs).logits, atol=1e-4, rtol=1e-4)


def test_gradient_checkpointing_trains_with_the_same_loss():
    model, processor = tiny_model_and_processor(seed=1)
    frames, audio = random_clip(seed=1)
    inputs = processor.prepare_clip(frames, audio)
    model.train()
    torch.manual_seed(0)
    loss = model(**inputs, labels=inputs["input_ids"]).loss
    model.activation_checkpointing_enable()
    assert model.model.video_bridge.layers[0].gradient_checkpointing
    torch.manual_seed(0)
    loss_ckpt = model(**inputs, labels=inputs["input_ids"]).loss
    loss_ckpt.backward()
    torch.testing.assert_close(loss, loss_ckpt)
    assert model.model.video_bridge.position_embedding.grad is not None
    # the frozen encoders stay in eval mode while the rest trains
    assert not model.model.vision_tower.training and not model.model.audio_tower.training
    assert model.model.video_bridge.training


def test_sampling_beams_and_streaming_generate(tiny):
    from threading import Thread

    from transformers import TextIteratorStreamer

    model, processor = tiny
    frames, audio = random_clip(seed=2)
    inputs = processor.prepare_clip(frames, audio)
    prompt_len = inputs["input_ids"].shape[1]
    torch.manual_seed(0)
    sampled = model.generate(**inputs, max_new_tokens=5, do_sample=True, temperature=0.3, top_p=0.9)
    beams = model.generate(**inputs, max_new_tokens=5, num_beams=3, do_sample=False)
    assert sampled.shape[1] <= prompt_len + 5 and beams.shape[1] <= prompt_len + 5
    streamer = TextIteratorStreamer(processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
    thread = Thread(target=model.generate, kwargs=dict(**inputs, max_new_tokens=6, do_sample=False, streamer=streamer))
    thread.start()
    streamed = "".join(streamer)
    thread.join()
    greedy = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert streamed == processor.tokenizer.decode(greedy[0, prompt_len:], skip_special_tokens=True)


def test_timestamps_can_be_interleaved_before_each_video_token():
    model, processor = tiny_model_and_processor(interleave_timestamps=True)
    frames, audio = random_clip()
    inputs = processor.prepare_clip(frames, audio, timestamps=[0.1, 0.4, 0.7, 1.0])
    text = processor.tokenizer.decode(inputs["input_ids"][0])
    assert "<0.1s><|video|><0.4s><|video|>" in text
    with torch.no_grad():
        assert torch.isfinite(model(**inputs).logits).all()


def test_original_prompt_style_places_audio_before_video_and_starts_with_pad():
    _, processor = tiny_model_and_processor()
    prompt = processor.build_prompt("I see.", style="original")
    assert prompt.startswith(processor.tokenizer.pad_token + "###Human:")
    assert prompt.index("<|audio|>") < prompt.index("<|video|>")
    assert "<Subtitle>I see.</Subtitle>" in prompt and prompt.endswith("###Assistant: ")


def test_sub_configs_accept_objects_or_dicts_with_a_model_type():
    from transformers import LlamaConfig

    llama = XEmoGPTConfig(text_config=LlamaConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, vocab_size=100))
    qwen2 = XEmoGPTConfig(text_config={"model_type": "qwen2", "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64, "vocab_size": 100})
    assert llama.get_text_config().model_type == "llama" and qwen2.text_config.model_type == "qwen2"
    assert XEmoGPTConfig.from_dict(qwen2.to_dict()).text_config.model_type == "qwen2"


def test_published_size_on_the_meta_device_has_the_paper_parameter_breakdown():
    config = XEmoGPTConfig()
    assert (config.vision_config.hidden_size, config.vision_config.patch_size, config.vision_config.image_size) == (1024, 14, 224)
    assert config.audio_config.do_stable_layer_norm and config.audio_config.num_hidden_layers == 24
    text = config.text_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_key_value_heads, text.vocab_size) == (2560, 36, 8, 151936)
    with torch.device("meta"):
        model = XEmoGPTForConditionalGeneration(config)
    parts = model.parameter_breakdown()
    assert abs(parts["total"] / 1e9 - 4.70) < 0.01
    assert abs(parts["llm"] / 1e9 - 4.02) < 0.01
    assert abs(parts["vision_encoder"] / 1e9 - 0.30) < 0.01
    assert abs(parts["audio_encoder"] / 1e9 - 0.32) < 0.01
    assert 24e6 < parts["vecb"] < 26e6 and 24e6 < parts["aecb"] < 26e6
    print(json.dumps(parts))


def test_from_pretrained_components_loads_encoder_and_llm_weights(tmp_path, write_tiny_components):
    """Three component checkpoints (saved here as tiny local folders) -> a fresh XEmoGPT with their weights."""
    from processing.testing import tiny_tokenizer

    vision, audio, text = write_tiny_components(tmp_path, tiny_config(), tiny_tokenizer(), seed=0)

    model, processor = XEmoGPTForConditionalGeneration.from_pretrained_components(
        tmp_path / "vision", tmp_path / "audio", tmp_path / "text", return_processor=True, num_frames=4,
        max_audio_seconds=4.0,
    )
    torch.testing.assert_close(model.model.vision_tower.embeddings.patch_embedding.weight,
                               vision.embeddings.patch_embedding.weight)
    torch.testing.assert_close(model.model.audio_tower.encoder.layers[0].attention.q_proj.weight,
                               audio.encoder.layers[0].attention.q_proj.weight)
    torch.testing.assert_close(model.model.language_model.layers[1].mlp.up_proj.weight, text.model.layers[1].mlp.up_proj.weight)
    assert not any(p.requires_grad for p in model.model.vision_tower.parameters())
    assert not any(p.requires_grad for p in model.model.audio_tower.parameters())
    assert model.config.video_token_id == processor.tokenizer.convert_tokens_to_ids("<|video|>")
    frames, wave = random_clip(seed=0)
    with torch.no_grad():
        out = model(**processor.prepare_clip(frames, wave, subtitle="s"))
    assert torch.isfinite(out.logits).all()


def test_a_conv_vision_backbone_with_pooled_frame_vectors_trains_saves_and_loads_as_remote_code(tmp_path):
    """Any transformers vision backbone can be the frame encoder: a ResNet's pooled output becomes the frame vector
    and the VECB gets CLIP layers of that width (the bundled demo model uses this: EMOCUE_SYNTH.md)."""
    model, processor = tiny_model_and_processor(seed=0, vision="resnet")
    config = model.config
    assert type(model.model.vision_tower).__name__ == "ResNetModel"
    assert config.vision_hidden_size == 32 and config.frame_size == 32
    layer = model.model.video_bridge.layers[0]
    assert layer.self_attn.num_heads == 4 and layer.mlp.fc1.out_features == 64
    frames, audio = random_clip(seed=3)
    inputs = processor.prepare_clip(frames, audio, subtitle="hello")
    assert inputs["pixel_values_videos"].shape[-2:] == (32, 32)
    pixels = inputs["pixel_values_videos"]
    with torch.no_grad():
        vectors = model.model.encode_video(pixels)
        pooled = model.model.vision_tower(pixel_values=pixels[0]).pooler_output.flatten(1)
    torch.testing.assert_close(vectors[0], pooled)
    out = model(**inputs, labels=inputs["input_ids"])
    out.loss.backward()
    assert model.model.video_bridge.layers[0].self_attn.q_proj.weight.grad is not None
    assert all(p.grad is None for p in model.model.vision_tower.parameters())
    folder = save_pretrained_with_code(model, processor, tmp_path / "export")
    with torch.no_grad():
        expected = model(**inputs).logits
    loaded = XEmoGPTForConditionalGeneration.from_pretrained(folder).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, expected, atol=0, rtol=0)
    assert_loads_without_our_packages(folder, tmp_path, frames, audio, expected, subtitle="hello")


@pytest.mark.parametrize("bad", [dict(vision_feature_pooling="max"), dict(vision_image_size=None)])
def test_vision_settings_that_cannot_work_are_refused(bad):
    with pytest.raises(ValueError, match="vision_feature_pooling|image_size"):
        tiny_config(vision="resnet", **bad)


def test_shuffled_video_token_order_ablation_hides_the_frame_order_from_the_llm():
    model, _ = tiny_model_and_processor()
    model.eval()
    features = torch.randn(2, model.config.num_frames, model.config.vision_hidden_size)
    with torch.no_grad():
        kept = model.model.get_video_features(video_features=features)
        assert torch.equal(kept, model.model.get_video_features(video_features=features))  # published: frame order
        model.config.video_token_order = "shuffled"
        torch.manual_seed(0)
        shuffled = model.model.get_video_features(video_features=features)
    assert not torch.equal(shuffled, kept)
    for clip in range(2):  # the same tokens, each clip in its own order
        rows = sorted(map(tuple, shuffled[clip].tolist()))
        assert rows == sorted(map(tuple, kept[clip].tolist()))
    with pytest.raises(ValueError, match="video_token_order"):
        tiny_config(video_token_order="reversed")
