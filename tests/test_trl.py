"""TRL's own CLI and collators on EmoCue folders: the `messages` / `preference` views, `trl sft` then `trl dpo` from
the synth-tiny recipes (plain and LoRA), the same batches and loss as XEmoGPT's collators, the same loss curve as
`xemogpt train sft` on the same recipe, and the views in a clean environment.

Not here: TRL's script in two processes. It trained and saved in every run, but TRL's scripts end without
destroying the process group, and one run of `trl sft --num_processes 2` hung after saving, at interpreter shutdown
(a gloo teardown; docs/TRL.md). Two-process training of XEmoGPT is tested through `xemogpt train sft`
(test_sft_dpo.py), which ends its process group itself."""

import json
import os
import re
import sys
from pathlib import Path

import pytest
import torch
from datasets import load_dataset

from modeling_xemogpt import XEmoGPTForConditionalGeneration
from processing.testing import tiny_model_and_processor
from processing.training.collators import XEmoGPTSFTCollator
from tests.clean_env import explain_in_clean_env, result_json, run_clean, run_group

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "recipes" / "synth-tiny" / "sft.yaml"
DPO_RECIPE = ROOT / "examples" / "recipes" / "synth-tiny" / "dpo.yaml"
UNTRAINED = ROOT / "examples" / "models" / "xemogpt-synth-tiny-untrained"
BIN = Path(sys.executable).parent
torchcodec = pytest.importorskip("torchcodec.decoders", reason="torchcodec needs FFmpeg's libraries (make ffmpeg)")


@pytest.fixture(scope="module")
def data(synth_corpus):
    """A fresh `xemogpt synth` folder: default records + TRL views (conftest's 6-clip `synth_corpus`)."""
    return synth_corpus


def trl(*args, cwd=ROOT, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}
    env.pop("PYTHONPATH", None)  # the model comes as remote code from its folder, not from this checkout
    return run_group([str(BIN / "trl"), *args], timeout, cwd=cwd, env=env)


def test_views_hold_the_clip_as_video_and_audio_items_and_the_explanation(data):
    records = load_dataset(str(data), split="train")
    messages = load_dataset(str(data), "messages", split="train")
    preference = load_dataset(str(data), "preference", split="train")
    assert messages["id"] == records["id"] and messages[0]["images"] == []
    user, assistant = messages[0]["messages"]
    assert [item["type"] for item in user["content"]] == ["video", "audio", "text"]
    assert hasattr(user["content"][0]["video"], "get_frames_played_at")  # decoded by datasets (torchcodec)
    assert user["content"][2]["text"] == records[0]["subtitle"]
    assert assistant["content"][0]["text"] == records[0]["explanation"]
    assert preference[0]["rejected"][0]["content"][0]["text"] == records[0]["rejected"]


def test_trls_collator_builds_the_batch_and_loss_of_xemogpts_sft_collator(data):
    """Same tokens, same answer-only mask, same media, same loss: TRL's multimodal collator on the `messages` view
    (assistant_only_loss) and XEmoGPT's own collator on the records."""
    from processing.data.emocue import load_emocue
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    model, processor = tiny_model_and_processor(seed=0)
    ours = XEmoGPTSFTCollator(processor)(list(load_emocue(str(data), split="train"))[:3])
    theirs = DataCollatorForVisionLanguageModeling(processor=processor, assistant_only_loss=True)(
        [dict(row) for row in load_dataset(str(data), "messages", split="train").select(range(3))])
    for key in ("input_ids", "labels", "pixel_values_videos", "input_values", "audio_attention_mask"):
        torch.testing.assert_close(theirs[key], ours[key], rtol=0, atol=0, msg=key)
    with torch.no_grad():
        assert model(**theirs).loss.item() == model(**ours).loss.item()


def test_stock_trl_sft_and_dpo_with_lora_write_adapters_that_peft_loads(data, tmp_path):
    from peft import PeftModel

    out = tmp_path / "lora"
    done = trl("sft", "--config", str(RECIPE), "--dataset_name", str(data), "--output_dir", str(out),
               "--max_steps", "2", "--per_device_train_batch_size", "2", "--eval_strategy", "no", "--use_peft",
               "--lora_r", "8", "--lora_alpha", "16",
               # one value is a regular expression for PEFT: the language model's q/k/v, not the encoders'
               "--lora_target_modules", r"model\.language_model\..*\.(q_proj|k_proj|v_proj)")
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads((out / "adapter_config.json").read_text())
    assert (ROOT / config["base_model_name_or_path"]).resolve() == UNTRAINED.resolve()
    model = PeftModel.from_pretrained(XEmoGPTForConditionalGeneration.from_pretrained(UNTRAINED), out)
    lora = [name for name, _ in model.named_parameters() if "lora_A" in name]
    assert lora and all(".language_model." in name for name in lora)
    # DPO with a LoRA adapter on the same base (TRL's reference: the base with the adapter disabled)
    dpo = tmp_path / "dpo-lora"
    done = trl("dpo", "--config", str(DPO_RECIPE), "--dataset_name", str(data), "--model_name_or_path",
               str(UNTRAINED), "--output_dir", str(dpo), "--max_steps", "2", "--per_device_train_batch_size", "2",
               "--eval_strategy", "no", "--use_peft", "--lora_r", "8", "--lora_alpha", "16",
               "--lora_target_modules", r"model\.language_model\..*\.(q_proj|k_proj|v_proj)")
    assert done.returncode == 0, done.stderr[-3000:]
    model = PeftModel.from_pretrained(XEmoGPTForConditionalGeneration.from_pretrained(UNTRAINED), dpo)
    assert [name for name, _ in model.named_parameters() if "lora_A" in name] == lora


def test_trls_preference_collator_builds_the_batch_of_xemogpts_preference_collator(data):
    """`trl dpo`'s collator renders each prompt to text and hands the processor text only; the prompt's video and
    audio come back through the processor (`apply_chat_template` keeps the media of what it rendered): same tokens,
    same completion mask, same media as XEmoGPT's collator on the same pairs."""
    from processing.data.emocue import load_emocue
    from processing.training.collators import XEmoGPTPreferenceCollator
    from processing.training.dpo import preference_pairs
    from trl.trainer.dpo_trainer import DataCollatorForVisionPreference

    model, processor = tiny_model_and_processor(seed=0)
    pairs = preference_pairs(load_emocue(str(data), split="train"))
    ours = XEmoGPTPreferenceCollator(processor)([pairs[i] for i in range(3)])
    theirs = DataCollatorForVisionPreference(processor=processor)(
        [dict(row) for row in load_dataset(str(data), "preference", split="train").select(range(3))])

    def kept(batch, mask):
        return [ids[m.bool()].tolist() for ids, m in zip(batch["input_ids"], batch[mask])]

    assert kept(theirs, "attention_mask") == kept(ours, "attention_mask")
    assert kept(theirs, "completion_mask") == kept(ours, "completion_mask")
    for key in ("pixel_values_videos", "input_values", "audio_attention_mask"):
        torch.testing.assert_close(theirs[key], ours[key], rtol=0, atol=0, msg=key)
    # a prompt with markers that was not rendered by the processor still fails loudly
    with pytest.raises(ValueError, match="markers but 0 video inputs"):
        processor(text=["<|video|> not rendered here"])


def test_stock_trl_sft_then_trl_dpo_from_the_recipes_and_the_result_loads_in_a_clean_environment(data, tmp_path):
    sft, dpo = tmp_path / "A", tmp_path / "B"
    done = trl("sft", "--config", str(RECIPE), "--dataset_name", str(data), "--output_dir", str(sft),
               "--max_steps", "4", "--per_device_train_batch_size", "2", "--eval_strategy", "no")
    assert done.returncode == 0, done.stderr[-3000:]
    done = trl("dpo", "--config", str(DPO_RECIPE), "--dataset_name", str(data), "--model_name_or_path", str(sft),
               "--output_dir", str(dpo), "--max_steps", "4", "--per_device_train_batch_size", "2",
               "--eval_strategy", "no", "--warmup_steps", "0", "--learning_rate", "1e-3")
    assert done.returncode == 0, done.stderr[-3000:]
    from processing.inference.explain import is_untrained

    assert is_untrained(UNTRAINED) and not is_untrained(sft) and not is_untrained(dpo)  # TRL wrote its own cards
    weights = [XEmoGPTForConditionalGeneration.from_pretrained(path).state_dict()["lm_head.weight"]
               for path in (UNTRAINED, sft, dpo)]
    assert not torch.equal(weights[0], weights[1]) and not torch.equal(weights[1], weights[2])
    result = explain_in_clean_env(dpo, next((data / "media").glob("*.mp4")), tmp_path)
    assert result["module"].startswith("transformers_modules") and result["new_tokens"] > 0


def logged_losses(output: str) -> list[str]:
    return re.findall(r"'loss': '([0-9.]+)'", output)


def test_trl_sft_and_xemogpt_train_sft_follow_the_same_loss_curve_on_the_same_recipe(data, tmp_path):
    """`xemogpt train sft` is a convenience over the same training: on the same recipe, rows, seed and steps it logs
    the same losses as `trl sft` (TRL's collator on the `messages` view, XEmoGPT's on the records)."""
    common = ["--config", str(RECIPE), "--dataset_name", str(data), "--max_steps", "6",
              "--per_device_train_batch_size", "2", "--eval_strategy", "no", "--logging_steps", "1"]
    theirs = trl("sft", *common, "--output_dir", str(tmp_path / "trl"))
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    ours = run_group([sys.executable, "-m", "processing.cli", "train", "sft", *common,
                      "--output_dir", str(tmp_path / "ours")], 300, cwd=ROOT, env=env)
    assert ours.returncode == 0, ours.stderr[-3000:]
    curve = logged_losses(theirs.stdout + theirs.stderr)
    assert len(curve) == 6 and float(curve[-1]) < float(curve[0])
    assert logged_losses(ours.stdout + ours.stderr) == curve


def test_the_records_and_views_load_and_decode_in_a_clean_environment_with_the_dataset_cards_packages(data, tmp_path):
    card = (data / "README.md").read_text()
    assert "pip install datasets torch torchcodec" in card and "config_name: messages" in card
    script = f"""
        import json
        from datasets import load_dataset
        ds = load_dataset({str(data)!r}, "messages", split="train")
        user = ds[0]["messages"][0]["content"]
        frames = user[0]["video"].get_frames_played_at(seconds=[0.1]).data
        audio = user[1]["audio"].get_all_samples()
        records = load_dataset({str(data)!r}, split="train")  # the default config: the records, media inside
        record_frames = records[0]["video"].get_frames_played_at(seconds=[0.1]).data
        record_audio = records[0]["audio"].get_all_samples()
        print(json.dumps({{"features": str(ds.features["messages"]), "frames": list(frames.shape),
                          "audio": list(audio.data.shape), "rate": audio.sample_rate,
                          "record_features": [str(records.features[c]) for c in ("video", "audio")],
                          "record_frames": list(record_frames.shape), "record_rate": record_audio.sample_rate,
                          "emotion": records[0]["emotion"]}}))
    """
    result = result_json(run_clean(script, tmp_path, packages=["datasets", "torch", "torchcodec"]))
    assert "Video(" in result["features"] and "Audio(" in result["features"]
    assert result["frames"][0] == 1 and result["audio"][1] > 0 and result["rate"] == 16000
    assert result["record_features"][0].startswith("Video(") and result["record_features"][1].startswith("Audio(")
    assert result["record_frames"][0] == 1 and result["record_rate"] == 16000 and result["emotion"]
