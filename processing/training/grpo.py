"""Reinforcement learning with verifiable cue rewards: TRL's `GRPOTrainer` on EmoCue prompts.

    xemogpt train grpo --config examples/recipes/synth-tiny/grpo.yaml [--max_steps 20 --num_generations 4 ...]

Each prompt is the user turn `xemogpt explain` builds for a record (its video, its audio, its subtitle); a group of
`num_generations` explanations is sampled per prompt and scored by the rewards of `processing.training.rewards`
(emotion, EmoCue-360 cue F1, invented cues, format; `reward_funcs` / `reward_weights` in the recipe), and the policy
moves toward the better ones of each group (GRPO), with a KL term to the starting model when `beta` > 0.

Why a subclass, not TRL's `trl grpo` script as it ships (TRL 1.16, `trl/trainer/grpo_trainer.py`): generation sees
the clip (`_tokenize_prompts` calls `processor.apply_chat_template(tokenize=True)`, which decodes our `video` /
`audio` items, and `_generate_single_turn` passes every tensor it returns to `generate`), but the log-probability
forwards do not. `_generate_and_score_completions` builds their multimodal inputs only from image columns
(`forward_kwargs` = `processing_class(images=..., text=...)` when a row has `image(s)`), keeps only image keys
(`pixel_values`, `image_grid_thw`, ...) in its output, and `_get_per_token_logps_and_entropies` takes only those
names. The policy would be scored on prompts whose media markers have no media. `XEmoGPTGRPOTrainer` carries the media
tensors of the generation batch (`pixel_values_videos`, `input_features` / `input_values` + `audio_attention_mask`)
through the batch dict, split and shuffled with the rows by TRL, and into each log-probability forward (the old and
reference log-probs, the loss). Everything else — sampling, rewards, advantages, the clipped objective, KL, logging,
PEFT, accelerate — is TRL's. Generation is `model.generate` (no vLLM on CPU); the published-size recipe names the
vLLM settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from trl import GRPOTrainer, ScriptArguments

from processing.errors import XEmoGPTError
from .optim import BridgeLearningRateMixin, add_time_budget
from .setup import XEmoGPTArguments, parse_args, prepare_training, train_and_save

MEDIA_INPUTS = ("pixel_values_videos", "video_features", "input_values", "input_features", "audio_attention_mask",
                "audio_features", "audio_features_mask")


@dataclass
class GRPOScriptArguments(ScriptArguments):
    """`trl grpo`'s script arguments: reward functions by name (those of `processing.training.rewards`) or dotted
    import path; the default is all four XEmoGPT rewards."""

    reward_funcs: list[str] | None = field(default=None, metadata={
        "help": "reward functions: emotion_reward, cue_reward, hallucination_reward, format_reward (from "
                "processing.training.rewards) or any dotted import path; default: those four"})


class XEmoGPTGRPOTrainer(BridgeLearningRateMixin, GRPOTrainer):
    """`trl.GRPOTrainer` whose log-probability forwards see the clip the completions were generated from.

    The media tensors the processor made for the generation batch (`_tokenize_prompts`) go into the batch dict that
    TRL shuffles and splits into steps (`_generate_and_score_completions`), and from the batch of a step into each
    forward (`compute_loss` → `_get_per_token_logps_and_entropies`). All are indexed by row: one clip per prompt."""

    def __init__(self, model, *args, **kwargs):
        self._media: dict[str, torch.Tensor] = {}  # the media rows of the batch being generated or scored
        # TRL suppresses `model.config.image_token_id` in sampling (a sampled media marker would have no media); ours
        # are the video and audio markers. It is set only while TRL builds its generation config.
        config = model.config
        media_tokens = [t for t in (config.video_token_id, config.audio_token_id) if t is not None]
        config.image_token_id = media_tokens[0]
        try:
            super().__init__(model, *args, **kwargs)
        finally:
            del config.image_token_id
        if getattr(self, "generation_kwargs", None) is not None:  # the transformers-generate path (not vLLM)
            self.generation_kwargs["suppress_tokens"] = media_tokens
            self.generation_config.suppress_tokens = media_tokens

    def _tokenize_prompts(self, prompts: list):
        prompt_ids, images, fields = super()._tokenize_prompts(prompts)
        self._media = {key: torch.as_tensor(value) for key, value in fields.items() if key in MEDIA_INPUTS}
        return prompt_ids, images, fields

    def _generate_and_score_completions(self, inputs):
        self._media = {}
        output = super()._generate_and_score_completions(inputs)
        device = output["prompt_ids"].device
        output.update({key: value.to(device) for key, value in self._media.items()})
        return output

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._media = {key: inputs[key] for key in MEDIA_INPUTS if key in inputs}
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **image_inputs):
        """TRL's chunked log-prob forward (completion tokens only, through the fused LM head), with each chunk's
        media rows (`self._media`, row-aligned with `input_ids`)."""
        if any(value is not None for value in image_inputs.values()):
            raise XEmoGPTError("XEmoGPT GRPO takes video / audio prompts, not image columns")
        batch_size = batch_size or input_ids.size(0)
        logps, entropies, aux_losses = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            inputs = {"input_ids": input_ids[start:end], "attention_mask": attention_mask[start:end]}
            inputs.update({key: value[start:end].to(input_ids.device) for key, value in self._media.items()})
            if compute_aux_loss:
                inputs["output_router_logits"] = True
            labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
            labels[:, :-logits_to_keep] = -100
            with self.accelerator.autocast():
                outputs = model(**inputs, labels=labels, fused_lm_head=True)
            logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                entropies.append(outputs.entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                aux_losses.append(outputs.aux_loss)
        return (torch.cat(logps), torch.cat(entropies) if compute_entropy else None,
                torch.stack(aux_losses).mean() if compute_aux_loss else None)


def prompt_turn(record, modalities: Sequence[str] = ("video", "audio")) -> list[dict]:
    """The conversation `xemogpt explain` sends for an EmoCue record: its video, its own audio file (else the
    processor takes the video's track), its subtitle."""
    content = []
    if record.get("video") and "video" in modalities:
        content.append({"type": "video", "path": str(record["video"])})
    if record.get("audio") and "audio" in modalities:
        content.append({"type": "audio", "path": str(record["audio"])})
    content.append({"type": "text", "text": record.get("subtitle") or ""})
    return [{"role": "user", "content": content}]


def grpo_rows(dataset, xargs: XEmoGPTArguments | None = None):
    """GRPO rows from EmoCue records: `prompt` (the user turn) and the reference columns the rewards read
    (`explanation`, `emotion`, `cues`)."""
    modalities = tuple((xargs or XEmoGPTArguments()).modalities)
    keep = ["id", "explanation", "emotion", "cues"]
    return dataset.map(lambda record: {"prompt": prompt_turn(record, modalities)},
                       remove_columns=[c for c in dataset.column_names if c not in keep])


def reward_functions(names: Sequence[str] | None) -> list[Callable]:
    """Reward callables from names: those of `processing.training.rewards`, or dotted import paths."""
    from . import rewards

    if not names:
        return list(rewards.DEFAULT_REWARDS)
    functions = []
    for name in names:
        if hasattr(rewards, name) and callable(getattr(rewards, name)):
            functions.append(getattr(rewards, name))
        elif "." in name:
            module, attribute = name.rsplit(".", 1)
            try:
                functions.append(getattr(importlib.import_module(module), attribute))
            except (ImportError, AttributeError) as exc:
                raise XEmoGPTError(f"reward function {name!r} not found: {exc}") from exc
        else:
            raise XEmoGPTError(f"unknown reward function {name!r}: one of emotion_reward, cue_reward, "
                               "hallucination_reward, format_reward, or a dotted import path")
    return functions


def build_grpo_trainer(model, processor, args, train_dataset, eval_dataset=None, *, reward_funcs=None,
                       peft_config=None, xargs=None, callbacks=None) -> XEmoGPTGRPOTrainer:
    """An `XEmoGPTGRPOTrainer` on GRPO rows (`grpo_rows`); the reference model for the KL term is TRL's (the policy
    reloaded from its folder, or the adapter disabled under LoRA)."""
    trainer = XEmoGPTGRPOTrainer(model=model, reward_funcs=list(reward_funcs or reward_functions(None)), args=args,
                                 train_dataset=train_dataset, eval_dataset=eval_dataset, processing_class=processor,
                                 peft_config=peft_config, callbacks=callbacks)
    trainer.bridge_learning_rate = xargs.bridge_learning_rate if xargs is not None else None
    return trainer


def trainer_from_args(script_args, training_args, model_args, xargs: XEmoGPTArguments) -> XEmoGPTGRPOTrainer:
    """The GRPO trainer a recipe describes: prompts from the train / eval records, the recipe's rewards."""
    if xargs.cache_features:
        raise XEmoGPTError("GRPO decodes each prompt's clip for generation: --cache_features is not supported")
    rewards = reward_functions(script_args.reward_funcs)
    setup = prepare_training(script_args, training_args, model_args, xargs)
    train_dataset = grpo_rows(setup.train_dataset, xargs)
    eval_dataset = grpo_rows(setup.eval_dataset, xargs) if setup.eval_dataset is not None else None
    trainer = build_grpo_trainer(setup.model, setup.processor, training_args, train_dataset, eval_dataset,
                                 reward_funcs=rewards, peft_config=setup.peft_config, xargs=xargs)
    return add_time_budget(trainer, xargs.max_train_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """`xemogpt train grpo`: parse a recipe + flags, build prompts from the records, train with GRPO, save."""
    from trl import GRPOConfig

    parsed = parse_args(argv, GRPOConfig, prog="xemogpt train grpo", script_class=GRPOScriptArguments)
    return train_and_save(trainer_from_args(*parsed))


if __name__ == "__main__":
    raise SystemExit(main())
