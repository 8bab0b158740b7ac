"""GRPO with verifiable cue rewards: the reward functions on hand-written completions, one GRPO step through
`xemogpt train grpo` (the recipe), the media reaching the log-probability forwards, the wall-clock budget."""

from pathlib import Path

import pytest
import torch

from processing.errors import XEmoGPTError
from processing.training import rewards
from processing.training.rewards import (cue_reward, emotion_reward, format_reward, hallucination_reward,
                                         sections)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECIPE = ROOT / "examples" / "recipes" / "synth-tiny" / "grpo.yaml"
BUNDLED = ROOT / "examples" / "models" / "xemogpt-synth-tiny"

REFERENCE = ("In the video, the person frowns, and the eyes are wide open. The head stays still. In the audio, the "
             "voice is low-pitched and the voice trembles. Overall, the face looks sad, the voice sounds sad; the "
             "person feels sad.")
CUES = {"visual": ["The person frowns.", "The eyes are wide open.", "The head stays still."],
        "auditory": ["The voice is low-pitched.", "The voice trembles."],
        "emotional": ["The face looks sad.", "The voice sounds sad.", "The person feels sad."]}
COMPLETIONS = {
    "right": REFERENCE,
    "paraphrased": ("In the video, the corners of the mouth turn down and the individual stares with wide eyes; the "
                    "head stays still. In the audio, the speaker's voice is deep, and the voice quivers. Overall, the "
                    "person is most likely sorrowful."),
    "wrong emotion": REFERENCE.replace("the person feels sad", "the person feels happy"),
    "hallucinating": REFERENCE.replace("The head stays still.", "The head stays still. Tears run down the cheeks, "
                                       "and the person shakes the head.").replace(
                                           "the voice trembles.", "the voice trembles. There is a loud scream."),
    "malformed": "the the the, and and of of",
}


def columns(n, **kind):
    """Reward keyword columns for n completions: the record form (explanation, cues, emotion) or `chosen`."""
    if kind.get("chosen"):
        return {"chosen": [[{"role": "assistant", "content": [{"type": "text", "text": REFERENCE}]}]] * n}
    return {"explanation": [REFERENCE] * n, "cues": [CUES] * n, "emotion": ["sad"] * n}


@pytest.fixture(scope="module")
def scored():
    names = list(COMPLETIONS)
    completions = [[{"role": "assistant", "content": COMPLETIONS[name]}] for name in names]  # TRL's conversational form
    return {fn.__name__: dict(zip(names, fn(completions, **columns(len(names)))))
            for fn in (emotion_reward, cue_reward, hallucination_reward, format_reward)}


def test_emotion_reward_reads_the_stated_emotion_with_synonyms(scored):
    assert scored["emotion_reward"] == {"right": 1.0, "paraphrased": 1.0, "wrong emotion": 0.0, "hallucinating": 1.0,
                                        "malformed": 0.0}


def test_cue_reward_is_emocue360_f1_and_highest_for_the_reference(scored):
    cue = scored["cue_reward"]
    assert cue["right"] == pytest.approx(1.0)
    assert cue["paraphrased"] > 0.9  # the rule extractor reads paraphrases as the canonical cues
    assert cue["hallucinating"] < cue["right"]
    assert cue["malformed"] == 0.0


def test_hallucination_reward_counts_invented_cues(scored):
    halluc = scored["hallucination_reward"]
    assert halluc["right"] == 0.0 and halluc["paraphrased"] == 0.0 and halluc["wrong emotion"] == 0.0
    assert halluc["hallucinating"] == -3.0  # tears, head shaking, a scream


def test_format_reward_wants_the_references_sections_in_order(scored):
    assert scored["format_reward"]["right"] == 1.0
    assert scored["format_reward"]["malformed"] == 0.0
    swapped = "In the audio, the voice trembles. In the video, the person frowns. Overall, the person feels sad."
    assert format_reward([swapped], **columns(1)) == [pytest.approx(2 / 3)]
    assert sections(swapped) == ["audio", "video", "overall"]


def test_the_rewards_rank_a_correct_completion_above_a_hallucinating_and_a_wrong_one(scored):
    weights = {"emotion_reward": 1.0, "cue_reward": 1.0, "hallucination_reward": 0.25, "format_reward": 0.5}
    total = {name: sum(w * scored[f][name] for f, w in weights.items()) for name in COMPLETIONS}
    assert total["right"] > total["hallucinating"] > total["malformed"]
    assert total["right"] > total["wrong emotion"]
    assert total["paraphrased"] > total["hallucinating"]


def test_rewards_read_the_preference_views_chosen_column_as_the_reference():
    completions = [COMPLETIONS["right"], COMPLETIONS["hallucinating"], COMPLETIONS["wrong emotion"]]
    assert emotion_reward(completions, **columns(3, chosen=True)) == [1.0, 1.0, 0.0]
    assert hallucination_reward(completions, **columns(3, chosen=True)) == [0.0, -3.0, 0.0]
    assert cue_reward(completions, **columns(3, chosen=True))[0] == pytest.approx(1.0)


def test_cue_and_hallucination_rewards_share_one_emocue360_pass(monkeypatch):
    calls = []
    real = rewards.EmoCue360.score
    monkeypatch.setattr(rewards.EmoCue360, "score", lambda self, *a: calls.append(1) or real(self, *a))
    monkeypatch.setattr(rewards, "_last", None)
    completions = [COMPLETIONS["paraphrased"], COMPLETIONS["malformed"]]
    cue_reward(completions, **columns(2))
    hallucination_reward(completions, **columns(2))
    assert len(calls) == 1


def test_reward_functions_by_name_and_bad_names():
    from processing.training.grpo import reward_functions

    assert reward_functions(None) == list(rewards.DEFAULT_REWARDS)
    assert reward_functions(["cue_reward", "processing.training.rewards.format_reward"]) == [cue_reward, format_reward]
    with pytest.raises(XEmoGPTError, match="unknown reward function 'accuracy'"):
        reward_functions(["accuracy"])
    with pytest.raises(XEmoGPTError, match="not found"):
        reward_functions(["processing.training.rewards.nope"])


def test_time_budget_stops_training_after_the_step_that_crosses_it(monkeypatch):
    from transformers import TrainerControl

    from processing.training import optim

    clock = iter([100.0, 130.0, 161.0])
    monkeypatch.setattr(optim.time, "monotonic", lambda: next(clock))
    callback = optim.TimeBudgetCallback(60)
    control = TrainerControl()
    callback.on_train_begin(None, None, control)
    assert not callback.on_step_end(None, None, control).should_training_stop  # 30 s in
    assert callback.on_step_end(None, None, control).should_training_stop  # 61 s in
    with pytest.raises(XEmoGPTError, match="must be > 0"):
        optim.add_time_budget(object(), 0)


# ---- training ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from processing.data.synth.corpus import generate_corpus

    data = tmp_path_factory.mktemp("grpo") / "data"
    generate_corpus(data, 4, split_fractions={"train": 1.0}, size=32, num_workers=1)
    return data


def flags(data, out, *extra):
    return ["--config", str(RECIPE), "--model_name_or_path", str(BUNDLED), "--dataset_name", str(data),
            "--output_dir", str(out), "--max_steps", "1", "--per_device_train_batch_size", "4", "--num_generations",
            "4", "--max_completion_length", "48", "--temperature", "1.5", "--learning_rate", "1e-3",
            "--logging_steps", "1", "--disable_tqdm", "true", *extra]


def test_one_grpo_step_through_xemogpt_train_changes_the_weights_and_logs_each_reward(synth, tmp_path, capsys):
    import json

    from transformers import AutoModel

    from processing.cli import main

    torch.manual_seed(0)
    assert main(["train", "grpo", *flags(synth, tmp_path / "out")]) == 0
    trained = AutoModel.from_pretrained(tmp_path / "out", trust_remote_code=True)
    start = AutoModel.from_pretrained(BUNDLED, trust_remote_code=True)
    changed = [n for (n, p), (_, q) in zip(trained.named_parameters(), start.named_parameters()) if not torch.equal(p, q)]
    assert changed and any("language_model" in n for n in changed)
    assert not any("vision_tower" in n or "audio_tower" in n for n in changed)  # frozen encoders stay
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text()) if (
        tmp_path / "out" / "trainer_state.json").exists() else None
    logged = capsys.readouterr().out + capsys.readouterr().err
    for key in ("rewards/emotion_reward/mean", "rewards/cue_reward/mean", "rewards/hallucination_reward/mean",
                "rewards/format_reward/mean", "'kl'", "completions/mean_length"):
        assert key in logged or (state and any(key.strip("'") in e for e in state["log_history"]))


def test_the_log_probability_forwards_see_the_clip(synth, tmp_path):
    """The trainer's chunked log-probs of a completion equal the model's own forward with the clip, and differ
    from the same forward without it (what stock GRPOTrainer computes for video prompts)."""
    from processing.training.grpo import GRPOScriptArguments, trainer_from_args
    from processing.training.setup import parse_args
    from trl import GRPOConfig

    trainer = trainer_from_args(*parse_args(flags(synth, tmp_path / "o"), GRPOConfig, script_class=GRPOScriptArguments))
    prompt = trainer.train_dataset[0]["prompt"]
    prompt_ids, _, fields = trainer._tokenize_prompts([prompt, prompt])
    completion = trainer.processing_class.tokenizer(" In the video, the person frowns.", add_special_tokens=False)
    ids = torch.tensor([prompt_ids[0] + completion["input_ids"]] * 2)
    mask = torch.ones_like(ids)
    n = len(completion["input_ids"])
    model = trainer.model.eval()
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(model, ids, mask, n, batch_size=1)
        media = {k: torch.as_tensor(v) for k, v in fields.items() if k not in ("input_ids", "attention_mask")}
        logits = model(input_ids=ids, attention_mask=mask, **media).logits[:, -n - 1:-1]
        # GRPO scores completions at the sampling temperature
        direct = torch.log_softmax(logits.float() / trainer.temperature, -1).gather(-1, ids[:, -n:, None]).squeeze(-1)
        trainer._media = {}
        blind, _, _ = trainer._get_per_token_logps_and_entropies(model, ids, mask, n, batch_size=2)
    assert {"pixel_values_videos", "input_features"} <= set(media)
    torch.testing.assert_close(logps, direct, atol=1e-4, rtol=1e-4)
    assert (logps - blind).abs().max() > 1e-3


def test_grpo_refuses_cached_features_and_unknown_rewards(synth, tmp_path):
    from processing.cli import main

    with pytest.raises(XEmoGPTError, match="--cache_features is not supported"):
        from processing.training.grpo import main as grpo_main
        grpo_main(flags(synth, tmp_path / "a", "--cache_features", "true"))
    assert main(["train", "grpo", *flags(synth, tmp_path / "b", "--reward_funcs", "accuracy")]) == 2
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("recipe", ["synth-tiny/grpo.yaml", "xemogpt-4b/grpo/config_lora.yaml"])
def test_grpo_recipes_parse_with_trl_and_name_our_rewards(recipe):
    from trl import GRPOConfig

    from processing.training.grpo import GRPOScriptArguments, reward_functions
    from processing.training.setup import parse_args

    script_args, training_args, model_args, xargs = parse_args(
        ["--config", str(ROOT / "examples" / "recipes" / recipe), "--use_cpu", "true", "--bf16", "false"],
        GRPOConfig, script_class=GRPOScriptArguments)
    assert reward_functions(script_args.reward_funcs) == list(rewards.DEFAULT_REWARDS)
    assert len(training_args.reward_weights) == 4 and training_args.beta > 0 and not training_args.use_vllm
    assert training_args.per_device_train_batch_size % training_args.num_generations == 0
    assert model_args.model_name_or_path and script_args.dataset_name
