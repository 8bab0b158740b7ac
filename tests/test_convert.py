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
def published(tmp_path_factory, write_tiny_components):
    """Tiny components on disk + a checkpoint in the published layout with LoRA and alignment-only heads."""
    d = tmp_path_factory.mktemp("published")
    reference, processor = tiny_model_and_processor(seed=3)
    config = reference.config
    write_tiny_components(d, config, processor.tokenizer, seed=1)

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


def test_lora_kept_as_an_adapter_is_a_peft_folder_that_from_pretrained_applies(published, tmp_path):
    convert_original(published["ckpt"], tmp_path / "out", merge_lora=False, **components(published))
    adapter = load_file(tmp_path / "out" / "adapter" / "adapter_model.safetensors")
    assert len(adapter) == 12
    # LoRA only on the language model, never on the encoders' attention layers
    assert not any("vision_tower" in k or "audio_tower" in k for k in adapter)
    weights = load_file(tmp_path / "out" / "model.safetensors")
    key = "model.language_model.layers.1.self_attn.v_proj.weight"
    torch.testing.assert_close(weights[key], published["state"][key])  # the base weights stay unmerged on disk
    model = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path / "out")
    layer = model.get_submodule(key.rsplit(".", 1)[0])
    a, b = published["lora"][key.rsplit(".", 1)[0]]
    assert hasattr(layer, "lora_A"), "from_pretrained must apply the folder's adapter"
    x = torch.randn(2, a.shape[1])
    torch.testing.assert_close(layer(x), x @ (published["state"][key] + (b @ a) * (ALPHA / RANK)).T)


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


# ARCHITECTURE.md §6.1, verbatim: the published inference prompt for this subtitle.
SUBTITLE = "Be there or be square. Oh, okay, goodbye."
PUBLISHED_PROMPT = "###Human: The audio content is as follows: <Audio><AudioHere></Audio>. Meanwhile, we uniformly sample raw frames from the video: <Video><VideoHere></Video>. The subtitle of this video is: <Subtitle>Be there or be square. Oh, okay, goodbye.</Subtitle>. Now, please answer my question based on all the provided information. \n                Please describe the speaker's emotional state in the video. \n                **Output Requirements:**  \n                Present the synthesized multimodal information in a well-structured paragraph, such as: 'In the video, ... In the audio, ...'. \n                Conclude the paragraph with an emotion state inference based on all cues. \n                 ###Assistant: "  # noqa: E501


def published_input_ids(tokenizer, num_audio_tokens, num_frames, video_id, audio_id):
    """The published `inference.py` layout: [pad as BOS] + text before <AudioHere> + audio tokens + text up to
    <VideoHere> + video tokens + the rest, each text piece tokenized on its own."""
    before, rest = PUBLISHED_PROMPT.split("<AudioHere>")
    middle, after = rest.split("<VideoHere>")
    tok = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    return [tokenizer.pad_token_id, *tok(before), *[audio_id] * num_audio_tokens, *tok(middle),
            *[video_id] * num_frames, *tok(after)]


def published_logits(published, inputs, dtype, in_checkpoint):
    """The published model's maths on `inputs`: the tensors the checkpoint holds read in its `dtype` (the rest from
    the float32 components), LoRA as W x + B A x."""
    reference, _ = tiny_model_and_processor(seed=3)
    state = {k: v.to(dtype).float() if k in in_checkpoint else v for k, v in published["state"].items()}
    reference.load_state_dict(state)
    for module, (a, b) in published["lora"].items():
        layer = reference.get_submodule(module)
        weight = layer.weight.detach().clone()
        a, b = a.to(dtype).float(), b.to(dtype).float()
        layer.forward = lambda x, w=weight, a=a, b=b: x @ w.T + (x @ a.T @ b.T) * (ALPHA / RANK)
    with torch.no_grad():
        return reference(**inputs).logits


@pytest.fixture(scope="module")
def matching_components(published, tmp_path_factory):
    """The component checkpoints the published model was built from: the vision, audio and text weights of the
    checkpoint's frozen parts (a trainable-only release + these = the full model)."""
    import shutil

    from transformers import AutoModelForCausalLM, CLIPVisionModel, HubertModel

    d, state = tmp_path_factory.mktemp("components"), published["state"]
    config = tiny_model_and_processor(seed=3)[0].config
    part = lambda prefix, new="": {new + k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}  # noqa: E731
    for name, model, weights in (
        ("vision", CLIPVisionModel(config.vision_config), part("model.vision_tower.")),
        ("audio", HubertModel(config.audio_config), part("model.audio_tower.")),
        ("text", AutoModelForCausalLM.from_config(config.text_config),
         {**part("model.language_model.", "model."), "lm_head.weight": state["lm_head.weight"]}),
    ):
        model.load_state_dict(weights)
        model.save_pretrained(d / name)
        for file in (published["dir"] / name).iterdir():  # processors / tokenizer
            if not (d / name / file.name).exists():
                shutil.copy(file, d / name / file.name)
    return dict(vision=d / "vision", audio=d / "audio", text=d / "text", lora_alpha=ALPHA)


@pytest.mark.parametrize("kept", ["full", "trainable"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("merge", [True, False], ids=["merged", "adapter"])
def test_converted_checkpoint_gives_the_published_prompt_and_logits_on_every_route(
        published, matching_components, tmp_path, kept, dtype, merge, capsys):
    from transformers import AutoModel, AutoProcessor, pipeline

    from processing.cli import main
    from processing.inference.explain import Explainer
    from tests.media_fixtures import write_test_video

    original = {k: v.to(dtype) for k, v in published["original"].items()}
    if kept == "trainable":  # what a release often holds: bridges, projections and LoRA only
        original = {k: v for k, v in original.items() if k.startswith((
            "visual_encoder.visual_alignment_layer", "visual_encoder.position_embedding", "visual_llm_project",
            "audio_encoder.audio_alignment_layer", "audio_llm_project")) or ".lora_" in k}
    torch.save({"state_dict": original}, tmp_path / "ckpt.pth")
    out = tmp_path / "out"
    report = convert_original(tmp_path / "ckpt.pth", out, merge_lora=merge, **matching_components)
    assert (report.lora_rank, report.lora_alpha, report.merged_lora) == (RANK, ALPHA, merge)
    assert json.loads((out / "conversion_report.json").read_text())["lora_scale"] == ALPHA / RANK

    clip = write_test_video(tmp_path / "clip.mp4", seconds=1.0, fps=10, size=(40, 40))
    conversation = [{"role": "user", "content": [{"type": "video", "path": str(clip)},
                                                 {"type": "text", "text": SUBTITLE}]}]
    # route 1: AutoModel + AutoProcessor, chat template
    model = AutoModel.from_pretrained(out).eval()
    processor = AutoProcessor.from_pretrained(out)
    inputs = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    n_audio = int((inputs["input_ids"] == processor.audio_token_id).sum())
    assert inputs["input_ids"][0].tolist() == published_input_ids(
        processor.tokenizer, n_audio, processor.num_frames, processor.video_token_id, processor.audio_token_id)
    with torch.no_grad():
        logits = model(**inputs).logits
    # route 2: the Explainer behind `xemogpt explain` (its own decoding and prompt building)
    explainer = Explainer.load(out)
    explained, _, _ = explainer.prepare(clip, subtitle=SUBTITLE)
    assert torch.equal(explained["input_ids"], inputs["input_ids"])
    with torch.no_grad():
        assert torch.equal(explainer.model(**explained).logits, logits)
    # route 3: the pipeline
    pipe = pipeline("video-text-to-text", model=str(out), trust_remote_code=True)
    with torch.no_grad():
        assert torch.equal(pipe.model(**inputs).logits, logits)
    piped = pipe(str(clip), subtitle=SUBTITLE, max_new_tokens=4)[0]["generated_text"].strip()
    # route 4: the CLI prints what the Explainer (and the pipeline) generate
    assert main(["explain", str(clip), "--subtitle", SUBTITLE, "--model", str(out), "--json",
                 "--max-new-tokens", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["explanation"] == piped == explainer.explain(
        clip, subtitle=SUBTITLE, max_new_tokens=4).explanation
    # and the logits are the published model's (merged in float32: no rounding through the checkpoint's dtype)
    expected = published_logits(published, inputs, dtype, set(report.mapped.values()))
    # merged: float32 rounding of W + BA·s only (the bf16 round trip this replaced was off by ~1e-2)
    torch.testing.assert_close(logits, expected, atol=1e-4 if merge else 1e-6, rtol=0)
