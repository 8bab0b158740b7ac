"""Stage 3 and preference tuning: collators, trainable parameters, LoRA / QLoRA, TRL SFT and DPO, recipes, the
`xemogpt train` command and a two-process run. Tiny models, 1-2 optimizer steps."""

import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import torch

from modeling_xemogpt import XEmoGPTForConditionalGeneration, XEmoGPTProcessor
from processing.errors import XEmoGPTError
from processing.testing import tiny_model_and_processor
from processing.training.collators import XEmoGPTPreferenceCollator, XEmoGPTSFTCollator
from tests.clean_env import free_port
from tests.media_fixtures import write_test_audio, write_test_video

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "examples" / "recipes"
ANSWERS = [
    "In the video, the person smiles. In the audio, the voice is loud. Overall, the person seems happy.",
    "In the video, the person frowns. In the audio, the voice trembles. Overall, the person seems sad.",
    "In the audio, the voice is soft and slow. Overall, the person seems sad.",
    "The subtitle is a question. Overall, the person seems neutral.",
]
CPU = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False, "report_to": "none", "save_strategy": "no",
       "logging_steps": 1, "per_device_train_batch_size": 2, "max_length": 256}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    return tiny_model_and_processor(seed=0, max_audio_seconds=1.0)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """Four EmoCue rows: video with its own audio track, video without audio, a separate audio file only, text only."""
    folder = tmp_path_factory.mktemp("media")
    with_track = write_test_video(folder / "a.mp4", seconds=1.0, fps=8, size=(32, 32), bframes=0)
    silent = write_test_video(folder / "b.mp4", seconds=1.0, fps=8, size=(32, 32), bframes=0, audio=False)
    wav = write_test_audio(folder / "c.wav", seconds=0.8)
    media = [(str(with_track), None), (str(silent), None), (None, str(wav)), (None, None)]
    return [
        {"id": f"r{i}", "video": video, "audio": audio, "subtitle": f"line {i}", "explanation": answer,
         "rejected": answer.replace("seems", "seems angry, not"), "emotion": answer.rsplit(" ", 1)[-1].strip("."),
         "cues": {"visual": [], "auditory": [], "emotional": []}}
        for i, ((video, audio), answer) in enumerate(zip(media, ANSWERS))
    ]


@pytest.fixture(scope="module")
def feature_cache(tiny, rows):
    """id -> cached encoder outputs, built with the feature-cache module's own encoders."""
    from processing.training.feature_cache import encode_audio_rows, encode_video_rows

    model, processor = tiny
    collator = XEmoGPTSFTCollator(processor)
    cache = {}
    for row in rows:
        media = collator.media(row)
        entry = {}
        if "frames" in media:
            entry["video_features"] = encode_video_rows(model, processor, [media["frames"]])[0].numpy()
        if "audio" in media:
            feats = encode_audio_rows(model, processor, [media["audio"]])[0].numpy()
            entry["audio_features"], entry["audio_features_mask"] = feats, torch.ones(len(feats), dtype=torch.bool)
        cache[row["id"]] = entry
    return cache


@pytest.fixture(scope="module")
def base_dir(tiny, save_model_folder):
    return save_model_folder(*tiny, "base")


def answer_ids(processor, text):
    return processor.tokenizer(text + processor.answer_suffix(), add_special_tokens=False)["input_ids"]


# ---- collators ------------------------------------------------------------------------------------------------


def test_sft_collator_labels_only_the_answer_and_handles_any_missing_modality(tiny, rows):
    model, processor = tiny
    batch = XEmoGPTSFTCollator(processor)(rows)
    assert batch["pixel_values_videos"].shape[0] == 2  # rows 0 and 1 have a video
    assert batch["input_values"].shape[0] == 2  # row 0's own track and row 2's wav; row 1's video has none
    video_id, audio_id = model.config.video_token_id, model.config.audio_token_id
    for i, row in enumerate(rows):
        labelled = batch["labels"][i][batch["labels"][i] != -100].tolist()
        assert labelled == answer_ids(processor, row["explanation"])
        ids = batch["input_ids"][i]
        assert int((ids == video_id).sum()) == (processor.num_frames if i in (0, 1) else 0)
        assert ((ids == audio_id).sum() > 0) == (i in (0, 2))
        padding = batch["attention_mask"][i] == 0
        assert (batch["labels"][i][padding] == -100).all()
    assert torch.isfinite(model(**batch).loss)


def test_cached_features_give_the_same_batch_and_loss_as_raw_media(tiny, rows, feature_cache):
    model, processor = tiny
    raw = XEmoGPTSFTCollator(processor)(rows)
    cached = XEmoGPTSFTCollator(processor, feature_cache=feature_cache)(rows)
    assert "pixel_values_videos" not in cached and "input_values" not in cached
    assert cached["video_features"].shape[0] == 2 and cached["audio_features"].shape[0] == 2
    assert torch.equal(raw["input_ids"], cached["input_ids"]) and torch.equal(raw["labels"], cached["labels"])
    with torch.no_grad():
        torch.testing.assert_close(model(**raw).loss, model(**cached).loss, rtol=1e-4, atol=1e-4)


def test_sft_loss_on_cpu_from_full_logits_equals_trls_fused_lm_head(rows, feature_cache, base_dir, tmp_path):
    from trl import SFTConfig, SFTTrainer

    from processing.training.sft import build_sft_trainer

    model = XEmoGPTForConditionalGeneration.from_pretrained(base_dir)
    trainer = build_sft_trainer(model, XEmoGPTProcessor.from_pretrained(base_dir),
                                SFTConfig(output_dir=str(tmp_path), **CPU), datasets.Dataset.from_list(rows),
                                feature_cache=feature_cache)
    batch = trainer.data_collator(rows)
    model.train()
    with torch.no_grad():
        ours = trainer.compute_loss(model, dict(batch))
        fused = SFTTrainer.compute_loss(trainer, model, dict(batch))
    torch.testing.assert_close(ours, fused, rtol=1e-4, atol=1e-5)
    assert trainer._metrics["train"]["mean_token_accuracy"]  # the token metrics are still logged


def test_preference_collator_repeats_prompt_and_media_for_chosen_and_rejected(tiny, rows):
    _, processor = tiny
    pairs = [{**row, "chosen": row["explanation"]} for row in rows[:2]]
    batch = XEmoGPTPreferenceCollator(processor)(pairs)
    assert batch["input_ids"].shape[0] == 4 and "labels" not in batch
    assert batch["pixel_values_videos"].shape[0] == 4 and batch["input_values"].shape[0] == 2
    assert torch.equal(batch["pixel_values_videos"][:2], batch["pixel_values_videos"][2:])
    for i, text in enumerate([p["chosen"] for p in pairs] + [p["rejected"] for p in pairs]):
        completion = batch["input_ids"][i][batch["completion_mask"][i] == 1].tolist()
        assert completion == answer_ids(processor, text)
        prompt_len = int((batch["completion_mask"][i] == 0).logical_and(batch["attention_mask"][i] == 1).sum())
        assert torch.equal(batch["input_ids"][i, :prompt_len], batch["input_ids"][i % 2, :prompt_len])


# ---- what trains ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keep, expected", [([1], ("video",)), ([2], ("audio",)), ([0], ("video", "audio"))])
def test_bridges_train_according_to_the_data_modalities(rows, keep, expected):
    from processing.training.setup import dataset_modalities, set_trainable_parameters

    model, _ = tiny_model_and_processor(seed=0, max_audio_seconds=1.0)
    data = datasets.Dataset.from_list([rows[i] for i in keep])
    modalities = dataset_modalities(data)
    assert modalities == expected
    set_trainable_parameters(model, modalities)
    trains = lambda module: all(p.requires_grad for p in module.parameters())  # noqa: E731
    assert trains(model.model.video_bridge) == ("video" in expected) == trains(model.model.video_projector)
    assert trains(model.model.audio_bridge) == ("audio" in expected) == trains(model.model.audio_projector)
    assert trains(model.model.language_model)
    assert not any(p.requires_grad for p in model.model.vision_tower.parameters())
    assert not any(p.requires_grad for p in model.model.audio_tower.parameters())


def test_lora_targets_only_the_language_model_and_saves_the_bridges():
    from peft import get_peft_model
    from trl import ModelConfig

    from processing.training.setup import language_model_targets, lora_config

    model, _ = tiny_model_and_processor(seed=0, max_audio_seconds=1.0)
    config = lora_config(model, ModelConfig(use_peft=True, lora_r=4, lora_alpha=8), ("video",))
    peft_model = get_peft_model(model, config)
    adapted = {n.rsplit(".lora_A", 1)[0] for n, _ in peft_model.named_parameters() if ".lora_A." in n}
    layers = model.config.text_config.num_hidden_layers
    assert len(adapted) == 3 * layers  # q, k, v of every decoder layer, nothing in the CLIP / HuBERT attention
    assert all(".model.language_model." in n for n in adapted)
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad and ".lora_" not in n}
    assert trainable and all("video_bridge" in n or "video_projector" in n for n in trainable)
    with pytest.raises(XEmoGPTError, match="outside the language model"):
        language_model_targets(model, r".*\.(q_proj|k_proj)")


def test_bridge_learning_rate_zero_keeps_the_aligned_bridges_frozen_and_trains_the_projections(
        rows, feature_cache, base_dir, tmp_path):
    from trl import ModelConfig, SFTConfig

    from processing.training.sft import build_sft_trainer
    from processing.training.setup import XEmoGPTArguments, configure_training

    xargs = XEmoGPTArguments(bridge_learning_rate=0.0)
    model = XEmoGPTForConditionalGeneration.from_pretrained(base_dir)
    assert configure_training(model, ModelConfig(), xargs, ("video", "audio")) is None
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if "_bridge." in n}
    projections = {n: p.detach().clone() for n, p in model.named_parameters() if "_projector." in n}
    assert frozen and not any(p.requires_grad for n, p in model.named_parameters() if n in frozen)
    args = SFTConfig(output_dir=str(tmp_path), max_steps=2, learning_rate=5e-2, **CPU)
    trainer = build_sft_trainer(model, XEmoGPTProcessor.from_pretrained(base_dir), args,
                                datasets.Dataset.from_list(rows), xargs=xargs, feature_cache=feature_cache)
    trainer.train()
    after = dict(model.named_parameters())
    assert all(torch.equal(after[n], value) for n, value in frozen.items())
    assert any(not torch.equal(after[n], value) for n, value in projections.items())
    # under LoRA the adapter folder then saves only the projections
    lora = configure_training(XEmoGPTForConditionalGeneration.from_pretrained(base_dir),
                              ModelConfig(use_peft=True, lora_r=4, lora_alpha=8), xargs, ("video", "audio"))
    assert lora.modules_to_save == ["video_projector", "audio_projector"]


def _lr_of_each_parameter(trainer):
    optimizer = trainer.create_optimizer()
    return {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\(\)`")
@pytest.mark.parametrize("kind, use_peft", [("sft", False), ("sft", True), ("dpo", False)])
def test_bridge_learning_rate_is_a_param_group_of_the_sft_and_dpo_optimizers(rows, base_dir, tmp_path, kind,
                                                                             use_peft):
    from trl import DPOConfig, ModelConfig, SFTConfig

    from processing.training.dpo import build_dpo_trainer, preference_pairs
    from processing.training.optim import bridge_parameters
    from processing.training.sft import build_sft_trainer
    from processing.training.setup import XEmoGPTArguments, configure_training

    def trainer_for(xargs):
        model = XEmoGPTForConditionalGeneration.from_pretrained(base_dir)
        processor = XEmoGPTProcessor.from_pretrained(base_dir)
        peft = configure_training(model, ModelConfig(use_peft=use_peft, lora_r=4, lora_alpha=8), xargs,
                                  ("video", "audio"))
        data = datasets.Dataset.from_list(rows[:2])
        if kind == "sft":
            return build_sft_trainer(model, processor, SFTConfig(output_dir=str(tmp_path), learning_rate=1e-3, **CPU),
                                     data, xargs=xargs, peft_config=peft)
        return build_dpo_trainer(model, processor, DPOConfig(output_dir=str(tmp_path), learning_rate=1e-3, **CPU),
                                 preference_pairs(data), xargs=xargs, peft_config=peft)

    trainer = trainer_for(XEmoGPTArguments(bridge_learning_rate=1e-5))
    lrs = _lr_of_each_parameter(trainer)
    bridges = {id(p) for p in bridge_parameters(trainer.model)}
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    assert bridges and len(lrs) == len(trainable)  # every trainable parameter is in exactly one group
    assert {lrs[i] for i in bridges} == {1e-5}
    assert {lr for i, lr in lrs.items() if i not in bridges} == {1e-3}
    if use_peft:  # PEFT's trainable copies of the bridges (modules_to_save) are the ones that get it
        named = {id(p): n for n, p in trainer.model.named_parameters()}
        assert all(".modules_to_save." in named[i] for i in bridges)
    trainer.create_scheduler(num_training_steps=10, optimizer=trainer.optimizer)
    trainer.lr_scheduler.step()
    ratios = [g["lr"] / g["initial_lr"] for g in trainer.optimizer.param_groups if g["params"]]
    assert ratios == pytest.approx([ratios[0]] * len(ratios)) and ratios[0] < 1  # the schedule scales every group
    assert set(_lr_of_each_parameter(trainer_for(XEmoGPTArguments())).values()) == {1e-3}  # unset: one rate


# ---- SFT / QLoRA / DPO with TRL ---------------------------------------------------------------------------------


def test_sft_lora_adapter_loads_onto_the_base_model_for_generation(tiny, rows, feature_cache, base_dir, tmp_path):
    from peft import PeftModel
    from trl import ModelConfig, SFTConfig

    from processing.training.sft import build_sft_trainer
    from processing.training.setup import XEmoGPTArguments, configure_training

    model = XEmoGPTForConditionalGeneration.from_pretrained(base_dir)
    processor = XEmoGPTProcessor.from_pretrained(base_dir)
    peft_config = configure_training(model, ModelConfig(use_peft=True, lora_r=4, lora_alpha=8), XEmoGPTArguments(),
                                     ("video", "audio"))
    args = SFTConfig(output_dir=str(tmp_path), max_steps=2, learning_rate=5e-2, **CPU)
    trainer = build_sft_trainer(model, processor, args, datasets.Dataset.from_list(rows), peft_config=peft_config,
                                feature_cache=feature_cache)
    trainer.train()
    trainer.save_model(str(tmp_path))
    assert (tmp_path / "adapter_config.json").is_file() and (tmp_path / "processor_config.json").is_file()

    batch = XEmoGPTSFTCollator(processor, feature_cache=feature_cache)(rows[:2])
    trained = trainer.model.eval()
    loaded = PeftModel.from_pretrained(XEmoGPTForConditionalGeneration.from_pretrained(base_dir), tmp_path).eval()
    base = XEmoGPTForConditionalGeneration.from_pretrained(base_dir).eval()
    with torch.no_grad():
        logits = loaded(**batch).logits
        torch.testing.assert_close(logits, trained(**batch).logits)
        assert not torch.allclose(logits, base(**batch).logits)  # the adapter (and the saved bridges) changed it
    prompt = XEmoGPTProcessor.from_pretrained(tmp_path).prepare_clip(subtitle="hello")
    out = loaded.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]


def test_qlora_step_runs_on_cpu_with_only_the_language_model_in_4bit(rows, feature_cache, base_dir, tmp_path):
    from trl import ModelConfig, SFTConfig

    from processing.training.sft import build_sft_trainer
    from processing.training.setup import XEmoGPTArguments, configure_training, load_model_and_processor

    model_args = ModelConfig(model_name_or_path=str(base_dir), use_peft=True, lora_r=4, lora_alpha=8, load_in_4bit=True,
                             dtype="bfloat16")
    model, processor = load_model_and_processor(model_args, XEmoGPTArguments())
    kinds = {(n.split(".")[1], type(m).__name__) for n, m in model.named_modules() if n.endswith("q_proj")}
    assert ("language_model", "Linear4bit") in kinds
    assert all(kind == "Linear" for part, kind in kinds if part != "language_model")  # encoders, VECB, AECB
    peft_config = configure_training(model, model_args, XEmoGPTArguments(), ("video", "audio"))
    args = SFTConfig(output_dir=str(tmp_path), max_steps=1, **CPU)
    trainer = build_sft_trainer(model, processor, args, datasets.Dataset.from_list(rows[:2]), peft_config=peft_config,
                                feature_cache=feature_cache)
    result = trainer.train()
    assert result.global_step == 1 and torch.isfinite(torch.tensor(result.training_loss))


@pytest.mark.parametrize("use_peft", [True, False])
def test_dpo_trains_against_the_disabled_adapter_or_a_frozen_copy(rows, feature_cache, base_dir, tmp_path, use_peft):
    from trl import DPOConfig, ModelConfig

    from processing.training.dpo import build_dpo_trainer, preference_pairs, preference_scores
    from processing.training.setup import XEmoGPTArguments, configure_training

    model = XEmoGPTForConditionalGeneration.from_pretrained(base_dir)
    processor = XEmoGPTProcessor.from_pretrained(base_dir)
    peft_config = configure_training(model, ModelConfig(use_peft=use_peft, lora_r=4, lora_alpha=8), XEmoGPTArguments(),
                                     ("video", "audio"))
    pairs = preference_pairs(datasets.Dataset.from_list(rows))
    args = DPOConfig(output_dir=str(tmp_path), max_steps=2, learning_rate=5e-3, beta=0.5, **CPU)
    trainer = build_dpo_trainer(model, processor, args, pairs, peft_config=peft_config, feature_cache=feature_cache)
    assert (trainer.ref_model is None) == use_peft
    held_out = list(pairs)
    before = preference_scores(trainer.model, trainer.data_collator, held_out, ref_model=trainer.ref_model, beta=0.5)
    trainer.train()
    after = preference_scores(trainer.model, trainer.data_collator, held_out, ref_model=trainer.ref_model, beta=0.5)
    assert before["reward_margin"] == 0.0 and after["reward_margin"] > 0.0
    logged = trainer.state.log_history[0]
    assert "rewards/margins" in logged and torch.isfinite(torch.tensor(logged["loss"]))


# ---- recipes + command ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["xemogpt-4b/sft/config_lora.yaml", "xemogpt-4b/sft/config_qlora.yaml",
                                    "xemogpt-4b/dpo/config_lora.yaml", "xemogpt-4b/dpo/config_qlora.yaml",
                                    "synth-tiny/sft.yaml", "synth-tiny/dpo.yaml"])
def test_recipes_parse_with_trl(recipe):
    from trl import DPOConfig, SFTConfig

    from processing.training.setup import parse_args, prepare_training_args

    config_class = DPOConfig if "dpo" in recipe else SFTConfig
    script_args, training_args, model_args, xargs = parse_args(
        ["--config", str(RECIPES / recipe), "--use_cpu", "true", "--bf16", "false", "--learning_rate", "3e-4"],
        config_class)
    assert training_args.learning_rate == 3e-4  # the flag wins over the recipe
    prepared = prepare_training_args(training_args)  # what every XEmoGPT trainer gets: raw rows, its own labels
    assert prepared.remove_unused_columns is False and not getattr(prepared, "assistant_only_loss", False)
    assert script_args.dataset_name and model_args.model_name_or_path and xargs.modalities == ["video", "audio"]
    if "xemogpt-4b" in recipe:
        assert model_args.dtype == "bfloat16" and (model_args.load_in_4bit == ("qlora" in recipe))
    if "xemogpt-4b/sft" in recipe:
        assert model_args.use_peft and model_args.lora_r == 512 and model_args.lora_alpha == 512
        assert list(model_args.lora_target_modules) == ["q_proj", "k_proj", "v_proj"]


def test_train_command_hands_alignment_stages_to_align_main(monkeypatch):
    import types

    from processing.cli import main

    calls = []
    fake = types.ModuleType("processing.training.align")
    fake.main = lambda argv, stage: calls.append((argv, stage)) or 0
    monkeypatch.setitem(sys.modules, "processing.training.align", fake)
    assert main(["train", "align-audio", "--config", "x.yaml", "--max_steps", "3"]) == 0
    assert calls == [(["--config", "x.yaml", "--max_steps", "3"], "audio")]


@pytest.fixture(scope="module")
def synth_run(synth_corpus):
    """`xemogpt train sft` from a fresh clone: an EmoCue-Synth folder (conftest's `synth_corpus`, at `<root>/data`),
    no model yet (--model_config builds it at `<root>/base`)."""
    from processing.cli import main

    root = synth_corpus.parent
    argv = ["train", "sft", "--config", str(RECIPES / "synth-tiny" / "sft.yaml"), "--dataset_name", str(root / "data"),
            "--model_name_or_path", str(root / "base"), "--output_dir", str(root / "sft"), "--max_steps", "2",
            "--model_config", str(RECIPES / "synth-tiny" / "model_config.json"), "--cache_features", "true",
            "--per_device_train_batch_size", "2", "--eval_strategy", "no"]
    assert main(argv) == 0
    return root


def test_train_sft_without_the_recipes_eval_split_trains_without_evaluation_and_says_so(synth_run, tmp_path, capsys):
    from processing.cli import main

    argv = ["train", "sft", "--config", str(RECIPES / "synth-tiny" / "sft.yaml"), "--dataset_name",
            str(synth_run / "data"), "--model_name_or_path", str(synth_run / "sft"), "--output_dir", str(tmp_path / "o"),
            "--max_steps", "1", "--per_device_train_batch_size", "2", "--cache_features", "true",
            "--dataset_test_split", "test", "--eval_strategy", "steps", "--eval_steps", "1"]
    assert main(argv) == 0
    assert "has no split 'test': training without evaluation (eval_strategy no)" in capsys.readouterr().err
    assert (tmp_path / "o" / "model.safetensors").is_file()


@pytest.mark.slow
def test_train_sft_then_dpo_from_a_fresh_clone_on_emocue_synth(synth_run):
    from processing.cli import main

    assert (synth_run / "base" / "tokenizer.json").is_file()  # built from model_config.json + the data's texts
    assert list((synth_run / "data" / "features").iterdir())  # frozen-encoder outputs cached once
    argv = ["train", "dpo", "--config", str(RECIPES / "synth-tiny" / "dpo.yaml"), "--dataset_name",
            str(synth_run / "data"), "--model_name_or_path", str(synth_run / "sft"), "--output_dir",
            str(synth_run / "dpo"), "--max_steps", "1", "--warmup_steps", "0", "--per_device_train_batch_size", "2",
            "--eval_strategy", "no", "--cache_features", "true"]
    assert main(argv) == 0
    model = XEmoGPTForConditionalGeneration.from_pretrained(synth_run / "dpo")
    sft = XEmoGPTForConditionalGeneration.from_pretrained(synth_run / "sft")
    assert not torch.equal(model.lm_head.weight, sft.lm_head.weight)


@pytest.mark.slow
def test_accelerate_launch_runs_sft_as_two_ddp_processes_and_the_result_loads(synth_run, tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    # --multi_gpu on a machine without GPUs: torchrun starts the processes, the recipe's use_cpu gives DDP over gloo
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
           "-m", "processing.cli", "train", "sft",
           "--config", str(RECIPES / "synth-tiny" / "sft.yaml"), "--dataset_name", str(synth_run / "data"),
           "--model_name_or_path", str(synth_run / "base"), "--output_dir", str(tmp_path / "ddp"),
           "--max_steps", "2", "--per_device_train_batch_size", "1", "--eval_strategy", "no", "--log_level", "info"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Total train batch size (w. parallel, distributed & accumulation) = 2" in done.stdout + done.stderr
    model = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path / "ddp")
    processor = XEmoGPTProcessor.from_pretrained(tmp_path / "ddp")
    out = model.generate(**processor.prepare_clip(subtitle="hi"), max_new_tokens=3, do_sample=False)
    assert out.shape[1] > 0


@pytest.mark.slow
def test_train_sft_output_loads_in_a_clean_environment_with_remote_code(synth_run, tmp_path):
    """The folder `xemogpt train sft` writes carries its code: a Hub user's environment (no repository) loads it
    with trust_remote_code and explains a clip through the chat template."""
    from tests.clean_env import explain_in_clean_env

    result = explain_in_clean_env(synth_run / "sft", next((synth_run / "data").rglob("*.mp4")), tmp_path)
    assert result["module"].startswith("transformers_modules") and result["new_tokens"] > 0
