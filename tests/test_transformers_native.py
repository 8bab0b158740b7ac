"""The model and processor on transformers' own mechanisms: ProcessorMixin's multimodal call and chat template,
register_for_auto_class on every save, the Auto classes, the pipeline task, and accelerate's FSDP auto-wrap."""

import filecmp
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from modeling_xemogpt import XEmoGPTConfig, XEmoGPTForConditionalGeneration
from modeling_xemogpt.hub import remote_code_files
from processing.inference.explain import DEFAULT_MODEL
from processing.testing import random_clip, tiny_model_and_processor
from tests.media_fixtures import write_test_video


@pytest.fixture(scope="module")
def tiny():
    return tiny_model_and_processor(seed=3)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    return write_test_video(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=1.0, fps=10, size=(40, 40))


def chat(video=None, audio=None, subtitle="I can't believe it!"):
    content = []
    if video is not None:
        content.append({"type": "video", **({"path": str(video)} if isinstance(video, (str, Path)) else {"video": video})})
    if audio is not None:
        content.append({"type": "audio", "audio": audio})
    return [{"role": "user", "content": [*content, {"type": "text", "text": subtitle}]}]


def assert_same_inputs(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_chat_template_with_content_items_builds_the_same_inputs_as_prepare_clip(tiny):
    _, processor = tiny
    frames, audio = random_clip(num_frames=processor.num_frames)
    expected = processor.prepare_clip(frames, audio, subtitle="I can't believe it!")
    got = processor.apply_chat_template(chat(frames, audio), add_generation_prompt=True, tokenize=True,
                                        return_dict=True, return_tensors="pt")
    assert_same_inputs(got, expected)


def test_a_video_path_brings_its_own_audio_track_in_chat_and_in_a_direct_call(tiny, clip_file):
    from processing.media import load_clip

    _, processor = tiny
    clip = load_clip(clip_file, num_frames=processor.num_frames, max_audio_seconds=processor.max_audio_seconds)
    expected = processor.prepare_clip(clip.frames, clip.audio, subtitle="I can't believe it!")
    from_chat = processor.apply_chat_template(chat(clip_file), add_generation_prompt=True, tokenize=True,
                                              return_dict=True, return_tensors="pt")
    assert_same_inputs(from_chat, expected)
    prompt = processor.build_prompt("I can't believe it!")
    assert_same_inputs(processor(text=prompt, videos=[str(clip_file)], return_tensors="pt"), expected)


def test_videos_of_any_length_are_sampled_uniformly_to_num_frames(tiny):
    _, processor = tiny
    frames = np.stack([np.full((20, 20, 3), i, dtype=np.uint8) for i in range(40)])  # frame i is all i
    picked = processor.video_processor.sample(frames)[0][:, 0, 0, 0]
    assert picked.tolist() == [5, 15, 25, 35]  # the frames at the centres of 4 equal segments
    prompt = processor.build_prompt("x", has_audio=False)
    assert processor(text=prompt, videos=[frames], return_tensors="pt")["pixel_values_videos"].shape[:2] == (1, processor.num_frames)
    short = processor.video_processor.sample(frames[:2])[0][:, 0, 0, 0]
    assert short.tolist() == [0, 0, 1, 1]  # fewer frames than needed: they repeat, in order


def test_a_video_without_audio_track_gets_no_audio_marker(tiny, tmp_path):
    _, processor = tiny
    silent = write_test_video(tmp_path / "silent.mp4", seconds=1.0, fps=10, size=(32, 32), audio=False)
    inputs = processor.apply_chat_template(chat(silent), add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    assert "input_values" not in inputs and int((inputs["input_ids"] == processor.audio_token_id).sum()) == 0
    assert int((inputs["input_ids"] == processor.video_token_id).sum()) == processor.num_frames


def test_wrong_keywords_and_images_are_refused_with_a_clear_message(tiny):
    _, processor = tiny
    _, audio = random_clip()
    with pytest.raises(ValueError, match="audios.*deprecated.*audio"):
        processor(text=["<|audio|>"], audios=[audio])
    with pytest.raises(ValueError, match="videos, not images"):
        processor.apply_chat_template([{"role": "user", "content": [{"type": "image", "path": "x.png"}]}],
                                      tokenize=True, return_dict=True)


def test_plain_save_pretrained_writes_auto_map_and_the_remote_code(tiny, tmp_path):
    model, processor = tiny
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModel"] == auto_map["AutoModelForImageTextToText"] == auto_map["AutoModelForMultimodalLM"] \
        == "modeling_xemogpt.XEmoGPTForConditionalGeneration"
    assert json.loads((tmp_path / "processor_config.json").read_text())["auto_map"]["AutoProcessor"] \
        == "processing_xemogpt.XEmoGPTProcessor"
    assert json.loads((tmp_path / "config.json").read_text())["custom_pipelines"]["video-text-to-text"]["impl"] \
        == "pipeline_xemogpt.XEmoGPTPipeline"
    for path in remote_code_files():
        assert filecmp.cmp(path, tmp_path / path.name, shallow=False), path.name


@pytest.mark.parametrize("folder", [DEFAULT_MODEL, DEFAULT_MODEL.with_name("xemogpt-synth-tiny-untrained")],
                         ids=["bundled", "untrained"])
def test_the_bundled_model_folders_carry_the_current_remote_code(folder):
    stale = [p.name for p in remote_code_files() if not filecmp.cmp(p, folder / p.name, shallow=False)]
    assert not stale, f"run `python -m modeling_xemogpt.hub {folder}` to refresh {stale}"


def test_auto_classes_and_pipeline_task_resolve_to_the_generation_model(tmp_path):
    from transformers import AutoModel, AutoModelForImageTextToText, AutoModelForMultimodalLM, pipeline

    for auto in (AutoModel, AutoModelForImageTextToText, AutoModelForMultimodalLM):
        assert type(auto.from_pretrained(DEFAULT_MODEL)) is XEmoGPTForConditionalGeneration
    pipe = pipeline("video-text-to-text", model=str(DEFAULT_MODEL), trust_remote_code=True)
    assert type(pipe).__name__ == "XEmoGPTPipeline" and type(pipe.model) is XEmoGPTForConditionalGeneration


def wrapped_layers(model):
    from accelerate.utils import FullyShardedDataParallelPlugin

    plugin = FullyShardedDataParallelPlugin(auto_wrap_policy="transformer_based_wrap")
    plugin.set_auto_wrap_policy(model)
    classes = plugin.auto_wrap_policy.keywords["transformer_layer_cls"]
    counts = {}
    for module in model.modules():
        if type(module) in classes:
            counts[type(module).__name__] = counts.get(type(module).__name__, 0) + 1
    return counts


def test_fsdp_auto_wrap_policy_builds_for_the_published_configuration_on_meta():
    with torch.device("meta"):
        model = XEmoGPTForConditionalGeneration(XEmoGPTConfig())
    counts = wrapped_layers(model)
    # CLIP ViT-L/14 (24) + VECB (2); HuBERT-large pre-norm (24) + AECB post-norm (2); Qwen3-4B (36)
    assert counts["CLIPEncoderLayer"] == 26 and counts["Qwen3DecoderLayer"] == 36
    assert counts["HubertEncoderLayerStableLayerNorm"] == 24 and counts["HubertEncoderLayer"] == 2


def test_fsdp_auto_wrap_policy_builds_for_the_bundled_model():
    model = XEmoGPTForConditionalGeneration.from_pretrained(DEFAULT_MODEL)
    counts = wrapped_layers(model)
    assert counts.get("Qwen3DecoderLayer", 0) == model.config.text_config.num_hidden_layers
    assert counts.get("CLIPEncoderLayer", 0) == model.config.vecb_num_layers  # its frame encoder is a ResNet
    assert set(model._no_split_modules) <= {type(m).__name__ for m in model.modules()}


FSDP_WORKER = """
import sys, torch, torch.distributed as dist
from torch.distributed.fsdp import fully_shard
from modeling_xemogpt import XEmoGPTForConditionalGeneration, XEmoGPTProcessor
dist.init_process_group("gloo")
model = XEmoGPTForConditionalGeneration.from_pretrained(sys.argv[1])
processor = XEmoGPTProcessor.from_pretrained(sys.argv[1])
units = [m for m in model.modules() if type(m).__name__ in set(model._no_split_modules)]
for unit in units:
    fully_shard(unit)
fully_shard(model)
inputs = processor.prepare_clip(subtitle="hello")
loss = model(**inputs, labels=inputs["input_ids"].clone()).loss
loss.backward()
record = [len(units), round(float(loss.detach()), 5), *model.lm_head.weight.to_local().shape]
with open(f"rank{dist.get_rank()}.txt", "w") as file:  # one file per rank: their stdout would interleave
    file.write(" ".join(map(str, record)))
# Teardown as `xemogpt train` ends (processing/training/optim.py end_training): every collective finished on both
# ranks and the sharded model (its pending gloo work) freed before the process group goes; left to interpreter exit,
# gloo's worker threads can be destroyed while joinable ("terminate called without an active exception").
dist.barrier()
del model, loss, inputs
import gc
gc.collect()
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_fsdp2_shards_the_bundled_model_over_two_cpu_processes_with_gloo(tmp_path):
    """accelerate runs FSDP only on accelerators (on CPU it falls back to DDP), so this uses torch's FSDP2
    `fully_shard` on the model's `_no_split_modules` units directly, as accelerate's auto-wrap would."""
    import os
    import subprocess
    import sys

    script = tmp_path / "fsdp_worker.py"
    script.write_text(FSDP_WORKER)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    from tests.clean_env import free_port

    done = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", str(free_port()), str(script),
                           str(DEFAULT_MODEL)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [(tmp_path / f"rank{rank}.txt").read_text().split() for rank in (0, 1)]
    vocab, hidden = XEmoGPTForConditionalGeneration.from_pretrained(DEFAULT_MODEL).lm_head.weight.shape
    assert ranks[0][:2] == ranks[1][:2]  # same units, same loss
    assert ranks[0][2:] == [str(vocab // 2), str(hidden)]  # each process holds half of the LM head
