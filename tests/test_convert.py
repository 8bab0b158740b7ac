"""Converting the published checkpoint layout (ARCHITECTURE.md §6) into an XEmoGPT folder."""

import json

import pytest
import torch
from safetensors.torch import load_file

from modeling_xemogpt import XEmoGPTForConditionalGeneration
from modeling_xemogpt.convert_original import ConversionError, convert_original
from processing.testing import tiny_model_and_processor

ALPHA = 16.0
RANK = 4


def to_original(key: str) -> str:
    """Our key -> the published key (the inverse of the converter's map, written independently)."""
    if key.startswith("model.language_model."):
        rest = key[len("model.language_model."):]
        if any(f"self_attn.{p}_proj.weight" in rest for p in "qkv"):
            rest = rest.replace(".weight", ".base_layer.weight")
        return "llm_model.base_model.model.model." + rest
    if key == "lm_head.weight":
        return "llm_model.base_model.model.lm_head.weight"
    table = {
        "model.vision_tower.": "visual_encoder.clip.vision_model.",
        "model.video_bridge.layers.": "visual_encoder.visual_alignment_layer.",
        "model.video_bridge.position_embedding": "visual_encoder.position_embedding",
        "model.video_projector.": "visual_llm_project.",
        "model.audio_tower.": "audio_encoder.audio_encoder.",
        "model.audio_bridge.layers.": "audio_encoder.audio_alignment_layer.",
        "model.audio_projector.": "audio_llm_project.",
    }
    for ours, theirs in table.items():
        if key.startswith(ours):
            return theirs + key[len(ours):]
    raise KeyError(key)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Tiny components on disk + a checkpoint in the published layout with LoRA and alignment-only heads."""
    from transformers import AutoModelForCausalLM, CLIPVisionModel, HubertModel, Wav2Vec2FeatureExtractor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    d = tmp_path_factory.mktemp("published")
    reference, processor = tiny_model_and_processor(seed=3)
    config = reference.config
    torch.manual_seed(1)
    vision = CLIPVisionModel(config.vision_config)
    vision.save_pretrained(d / "vision")
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(d / "vision")
    audio = HubertModel(config.audio_config)
    audio.save_pretrained(d / "audio")
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(d / "audio")
    text = AutoModelForCausalLM.from_config(config.text_config)
    text.save_pretrained(d / "text")
    processor.tokenizer.save_pretrained(d / "text")

    # the "trained" weights: every tensor random, so a misplaced one is detected
    state = {k: torch.randn_like(v) for k, v in reference.state_dict().items()}
    if config.tie_word_embeddings:  # one tensor in the model, two names in a state dict
        state["lm_head.weight"] = state["model.language_model.embed_tokens.weight"]
    original = {to_original(k): v for k, v in state.items() if not (k == "lm_head.weight" and config.tie_word_embeddings)}
    original["llm_model.base_model.model.lm_head.weight"] = state["model.language_model.embed_tokens.weight"]
    lora = {}
    for i in range(config.text_config.num_hidden_layers):
        for p in "qkv":
            module = f"llm_model.base_model.model.model.layers.{i}.self_attn.{p}_proj"
            out_features, in_features = original[f"{module}.base_layer.weight"].shape
            a, b = torch.randn(RANK, in_features), torch.randn(out_features, RANK)
            original[f"{module}.lora_A.default.weight"] = a
            original[f"{module}.lora_B.default.weight"] = b
            lora[f"model.language_model.layers.{i}.self_attn.{p}_proj"] = (a, b)
    hidden = config.vision_config.hidden_size
    original["visual_encoder.clip.text_model.embeddings.token_embedding.weight"] = torch.randn(10, hidden)
    original["visual_encoder.clip.logit_scale"] = torch.tensor(2.6)
    original["visual_encoder.attention_pooling.attn_vector"] = torch.randn(hidden)
    original["visual_encoder.temporal_disc_head.0.weight"] = torch.randn(8, hidden)
    original["visual_encoder.frame_reconstructor.weight"] = torch.randn(hidden, hidden)
    original["audio_encoder.audio_project.weight"] = torch.randn(8, 32)
    ckpt = d / "xemogpt.pth"
    torch.save({"state_dict": original}, ckpt)
    return {"dir": d, "ckpt": ckpt, "state": state, "lora": lora, "original": original}


def components(published):
    d = published["dir"]
    return dict(vision=d / "vision", audio=d / "audio", text=d / "text", lora_alpha=ALPHA)


def test_merged_conversion_puts_every_tensor_in_place_and_merges_lora(published, tmp_path):
    report = convert_original(published["ckpt"], tmp_path / "out", merge_lora=True, **components(published))
    converted = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path / "out").state_dict()
    for key, expected in published["state"].items():
        module = key.rsplit(".", 1)[0]
        if module in published["lora"]:
            a, b = published["lora"][module]
            expected = expected + (b @ a) * (ALPHA / RANK)
        torch.testing.assert_close(converted[key], expected, msg=key)
    assert report.merged_lora and len(report.lora_modules) == 6
    assert len(report.alignment_only) == 6 and report.unmapped == []
    assert json.loads((tmp_path / "out" / "conversion_report.json").read_text())["mapped"] == len(report.mapped)


def test_lora_can_be_kept_as_a_peft_adapter_that_loads(published, tmp_path):
    from peft import PeftModel

    convert_original(published["ckpt"], tmp_path / "out", merge_lora=False, **components(published))
    base = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path / "out")
    for key, expected in published["state"].items():  # base weights unmerged
        torch.testing.assert_close(base.state_dict()[key], expected, msg=key)
    adapter = load_file(tmp_path / "out" / "adapter" / "adapter_model.safetensors")
    assert len(adapter) == 12
    peft_model = PeftModel.from_pretrained(base, tmp_path / "out" / "adapter")
    merged = peft_model.merge_and_unload().state_dict()
    key = "model.language_model.layers.1.self_attn.v_proj.weight"
    a, b = published["lora"][key.rsplit(".", 1)[0]]
    torch.testing.assert_close(merged[key], published["state"][key] + (b @ a) * (ALPHA / RANK))
    # LoRA only on the language model, never on the encoders' attention layers
    assert not any("vision_tower" in k or "audio_tower" in k for k in adapter)


def test_converted_model_uses_the_published_prompt_style(published, tmp_path):
    from transformers import AutoProcessor

    convert_original(published["ckpt"], tmp_path / "out", merge_lora=True, **components(published))
    processor = AutoProcessor.from_pretrained(tmp_path / "out")
    assert processor.prompt_style == "original"
    assert processor.build_prompt("hi").startswith(processor.tokenizer.pad_token + "###Human:")


def test_unknown_keys_are_refused_not_dropped(published, tmp_path):
    bad = dict(published["original"])
    bad["visual_encoder.mystery_head.weight"] = torch.randn(3)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ConversionError, match="mystery_head"):
        convert_original(tmp_path / "bad.pth", tmp_path / "out", **components(published))
    assert not (tmp_path / "out").exists()


def test_trainable_only_checkpoint_is_completed_from_the_components(published, tmp_path):
    trainable = {k: v for k, v in published["original"].items()
                 if k.startswith(("visual_encoder.visual_alignment_layer", "visual_encoder.position_embedding",
                                  "visual_llm_project", "audio_encoder.audio_alignment_layer", "audio_llm_project"))}
    torch.save({"state_dict": trainable}, tmp_path / "trainable.pth")
    report = convert_original(tmp_path / "trainable.pth", tmp_path / "out", **components(published))
    assert report.filled_from_components and not report.lora_modules
    converted = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path / "out").state_dict()
    key = "model.video_bridge.position_embedding"
    torch.testing.assert_close(converted[key], published["state"][key])


class NotATensor:
    pass


def test_pickled_objects_are_refused(tmp_path, published):
    torch.save({"state_dict": {"x": NotATensor()}}, tmp_path / "evil.pth")
    with pytest.raises(ConversionError, match="weights-only"):
        convert_original(tmp_path / "evil.pth", tmp_path / "out", **components(published))
