"""Preference tuning (DPO) of XEmoGPT with TRL's `DPOTrainer`.

    xemogpt train dpo --config examples/recipes/synth-tiny/dpo.yaml [--beta 0.1 --max_steps 20 ...]

Pairs come from EmoCue records: chosen = the reference explanation, rejected = the record's own `rejected` text or
one built by `processing.data.emocue.dpo.build_rejected` (a hallucinated cue, a wrong modality, a wrong emotion).

How TRL 1.16 computes the DPO loss, and why a small subclass is enough: the collator returns one batch of 2B rows,
all chosen then all rejected, each prompt + answer with a `completion_mask`; `DPOTrainer._compute_loss` passes every
other key of the batch to ONE forward of the policy (`model(**batch, labels=..., fused_lm_head=True)`, which runs
`model.model` and scores only the completion tokens) and one of the reference, then splits the per-sequence log-probs
in halves. `XEmoGPTPreferenceCollator` repeats the media inputs in that row order (`pixel_values_videos`,
`input_values` + `audio_attention_mask`, or cached `video_features` / `audio_features` + mask), so they flow through
both forwards unchanged. The subclass only skips TRL's text tokenization (`_prepare_dataset`), since rows are built
on the fly. The reference model is the policy with the LoRA adapter disabled, or a frozen copy under full tuning.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from trl import DPOTrainer

from .collators import XEmoGPTPreferenceCollator
from .optim import BridgeLearningRateMixin, add_time_budget
from .setup import XEmoGPTArguments, make_collator, parse_args, prepare_training, prepare_training_args, train_and_save


class XEmoGPTDPOTrainer(BridgeLearningRateMixin, DPOTrainer):
    """`trl.DPOTrainer` on raw preference rows: the collator builds prompts, answers and media per batch; the VECB /
    AECB parameters can have a learning rate of their own (`bridge_learning_rate`)."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset


def preference_pairs(dataset, xargs: XEmoGPTArguments | None = None):
    """DPO rows (id, video, audio, subtitle, chosen, rejected, rejected_kind) from EmoCue records."""
    from processing.data.emocue import make_preference_pairs

    xargs = xargs or XEmoGPTArguments()
    return make_preference_pairs(dataset, xargs.rejection_seed, kind=xargs.rejected_kind,
                                 use_record_rejected=xargs.use_record_rejected)


def frozen_copy(model):
    """A detached, frozen, eval-mode copy of `model` to serve as the DPO reference."""
    reference = copy.deepcopy(model).eval()
    return reference.requires_grad_(False)


def build_dpo_trainer(model, processor, args, train_dataset, eval_dataset=None, *, ref_model=None, xargs=None,
                      peft_config=None, feature_cache=None, cached_modalities=None, callbacks=None):
    """An `XEmoGPTDPOTrainer` on preference rows. The reference: `ref_model`; else, under LoRA, the policy with the
    adapter disabled (TRL); else a frozen copy of `model` as it is now (none is kept with `precompute_ref_log_probs`)."""
    from peft import PeftModel

    if ref_model is None and peft_config is None and not isinstance(model, PeftModel) and not (
        args.precompute_ref_log_probs  # TRL then scores the pairs once with `model` before training
    ):
        ref_model = frozen_copy(model)
    collator = make_collator(XEmoGPTPreferenceCollator, processor, args.max_length, xargs, feature_cache,
                             cached_modalities)
    trainer = XEmoGPTDPOTrainer(model=model, ref_model=ref_model, args=prepare_training_args(args),
                                data_collator=collator, train_dataset=train_dataset, eval_dataset=eval_dataset,
                                processing_class=processor, peft_config=peft_config, callbacks=callbacks)
    trainer.bridge_learning_rate = xargs.bridge_learning_rate if xargs is not None else None
    return trainer


@torch.no_grad()
def sequence_logps(model, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Summed log-probability of each row's completion tokens (`completion_mask`), shape (rows,)."""
    device = next(model.parameters()).device
    skip = ("completion_mask", "labels", "ref_chosen_logps", "ref_rejected_logps")
    inputs = {k: v.to(device) for k, v in batch.items() if k not in skip}
    logits = model(**inputs, use_cache=False).logits[:, :-1].float()
    targets = batch["input_ids"][:, 1:].to(device)
    mask = batch["completion_mask"][:, 1:].to(device).bool()
    token_logps = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (token_logps * mask).sum(-1)


def preference_scores(model, collator: XEmoGPTPreferenceCollator, rows: Sequence[Mapping], *, ref_model=None,
                      beta: float = 0.1, batch_size: int = 8) -> dict:
    """Held-out preference metrics: `accuracy` (policy log-prob of chosen > rejected), `reward_margin` (mean
    beta * (chosen log-ratio - rejected log-ratio) against the reference) and `reward_accuracy` (margin > 0).
    The reference: `ref_model`, else for a PEFT model what TRL uses (its "ref" adapter when there is one, else the
    adapter disabled), else the policy itself (margins 0)."""
    from peft import PeftModel
    from trl.trainer.utils import use_adapter

    was_training = model.training
    model.eval()
    policy, reference = [], []
    for start in range(0, len(rows), batch_size):
        batch = collator(rows[start:start + batch_size])
        policy.append(sequence_logps(model, batch))
        if ref_model is not None:
            reference.append(sequence_logps(ref_model, batch))
        elif isinstance(model, PeftModel):
            with use_adapter(model, "ref" if "ref" in model.peft_config else None):
                reference.append(sequence_logps(model, batch))
        else:
            reference.append(policy[-1])
    model.train(was_training)
    chosen, rejected = zip(*(p.chunk(2) for p in policy))
    ref_chosen, ref_rejected = zip(*(r.chunk(2) for r in reference))
    chosen, rejected, ref_chosen, ref_rejected = map(torch.cat, (chosen, rejected, ref_chosen, ref_rejected))
    margins = beta * ((chosen - ref_chosen) - (rejected - ref_rejected))
    return {"accuracy": (chosen > rejected).float().mean().item(), "reward_margin": margins.mean().item(),
            "reward_accuracy": (margins > 0).float().mean().item(), "n": len(chosen)}


def trainer_from_args(script_args, training_args, model_args, xargs: XEmoGPTArguments) -> XEmoGPTDPOTrainer:
    """The DPO trainer a recipe describes (what `main` trains): pairs from the train / eval records."""
    setup = prepare_training(script_args, training_args, model_args, xargs)
    train_dataset = preference_pairs(setup.train_dataset, xargs)
    eval_dataset = preference_pairs(setup.eval_dataset, xargs) if setup.eval_dataset is not None else None
    trainer = build_dpo_trainer(setup.model, setup.processor, training_args, train_dataset, eval_dataset, xargs=xargs,
                                peft_config=setup.peft_config, feature_cache=setup.feature_cache,
                                cached_modalities=setup.cached_modalities)
    return add_time_budget(trainer, xargs.max_train_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """`xemogpt train dpo`: parse a recipe + flags, build preference pairs, train with TRL's DPOTrainer, save."""
    from trl import DPOConfig

    return train_and_save(trainer_from_args(*parse_args(argv, DPOConfig, prog="xemogpt train dpo")))


if __name__ == "__main__":
    raise SystemExit(main())
