"""Stage 3, emotional instruction tuning: TRL's `SFTTrainer` on EmoCue rows with XEmoGPT's collator.

    xemogpt train sft --config examples/recipes/synth-tiny/sft.yaml [--any TRL flag, e.g. --max_steps 50]
    accelerate launch --config_file examples/accelerate/ddp.yaml -m processing.cli train sft --config RECIPE

The setup every stage shares (arguments, datasets, model + processor, LoRA, feature cache) is in `setup.py`; here:
the trainer, the entry point, and `generate_explanations` / `explanation_scores` (EmoCue-360 F1 and emotion accuracy
of generated explanations, for held-out rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from trl import SFTTrainer

from .collators import XEmoGPTSFTCollator
from .optim import BridgeLearningRateMixin, add_time_budget
from .setup import XEmoGPTArguments, make_collator, parse_args, prepare_training, prepare_training_args, train_and_save


class XEmoGPTSFTTrainer(BridgeLearningRateMixin, SFTTrainer):
    """`trl.SFTTrainer` whose VECB / AECB parameters can have a learning rate of their own.

    On an accelerator the loss comes from TRL's fused LM head (per-token log-probs without materialising the
    (B, L, V) logits). On CPU it comes from the full logits instead: TRL's chunked log-prob tiles are plain PyTorch
    there, slower than one matmul over the full logits at a small vocabulary (`benchmarks/bench_training.py`,
    `bench_sft_loss_full_logits_vs_fused`, times the step both ways). The loss is the same either way (the answer
    tokens' mean NLL, normalised as TRL does), and so are the logged `entropy` and `mean_token_accuracy`."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if next(model.parameters()).device.type != "cpu" or self.aux_loss_enabled:  # (MoE aux losses: TRL's path)
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        labels = inputs["labels"][:, 1:]
        mask = labels != -100
        outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False)
        logits = outputs.logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none")
        # as TRL normalises: by the answer tokens of the whole (accumulated, all-device) batch when it knows them
        count = mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = (nll * mask).sum() / torch.as_tensor(count).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        self._log_token_metrics(logits, labels, mask)
        return (loss, outputs) if return_outputs else loss

    @torch.no_grad()
    def _log_token_metrics(self, logits, labels, mask):
        """TRL's `entropy` and `mean_token_accuracy` of the answer tokens, from the full logits."""
        mode = "train" if self.model.training else "eval"
        log_p = torch.log_softmax(logits[mask], -1)
        valid = self.accelerator.gather_for_metrics(mask.sum()).sum()
        entropy = self.accelerator.gather_for_metrics(-(log_p.exp() * log_p).sum()).sum()
        correct = self.accelerator.gather_for_metrics((log_p.argmax(-1) == labels[mask]).sum()).sum()
        self._metrics[mode]["entropy"].append((entropy / valid).item() if valid > 0 else 0.0)
        self._metrics[mode]["mean_token_accuracy"].append((correct / valid).item() if valid > 0 else 0.0)


def build_sft_trainer(model, processor, args, train_dataset, eval_dataset=None, *, xargs=None, peft_config=None,
                      feature_cache=None, cached_modalities=None, callbacks=None):
    """An `XEmoGPTSFTTrainer` (a `trl.SFTTrainer` with the bridges' own learning rate, `xargs.bridge_learning_rate`)
    that feeds EmoCue rows through `XEmoGPTSFTCollator`."""
    collator = make_collator(XEmoGPTSFTCollator, processor, args.max_length, xargs, feature_cache, cached_modalities)
    trainer = XEmoGPTSFTTrainer(model=model, args=prepare_training_args(args), data_collator=collator,
                                  train_dataset=train_dataset, eval_dataset=eval_dataset, processing_class=processor,
                                  peft_config=peft_config, callbacks=callbacks)
    trainer.bridge_learning_rate = xargs.bridge_learning_rate if xargs is not None else None
    return trainer


# ---- generation + scores --------------------------------------------------------------------------------------


@torch.no_grad()
def generate_explanations(model, processor, rows: Sequence[Mapping], *, collator: XEmoGPTSFTCollator | None = None,
                          batch_size: int = 8, max_new_tokens: int = 256, **generate_kwargs) -> list[str]:
    """Greedy explanations for `rows` (their media via `collator`: raw files or cached features)."""
    from processing.inference.predict import generate_texts

    collator = collator or XEmoGPTSFTCollator(processor)
    tokenizer = processor.tokenizer
    generation = {"max_new_tokens": max_new_tokens, "do_sample": False, **generate_kwargs}
    texts = []
    for start in range(0, len(rows), batch_size):
        prompt_ids, media = collator.encode_prompts(rows[start:start + batch_size])
        padded = tokenizer.pad({"input_ids": prompt_ids}, padding=True, padding_side="left", return_tensors="pt")
        texts += generate_texts(model, tokenizer, {**padded, **media}, generation)
    return texts


def explanation_scores(rows: Sequence[Mapping], predictions: Sequence[str], embedder=None) -> dict:
    """EmoCue-360 F1 per category (+ their mean) and emotion accuracy of `predictions` against the rows' cues and
    emotion labels (rule cue extractor, default subtitle filter)."""
    from processing.metrics.emocue360 import evaluate, parse_explanation

    references = [{"id": r["id"], "cues": r.get("cues"), "explanation": r.get("explanation") or "",
                   "emotion": r.get("emotion")} for r in rows]
    predicted = [{"id": r["id"], "explanation": text, "cues": parse_explanation(text)} for r, text in zip(rows, predictions)]
    result = evaluate(references, predicted, extractor="rule", embedder=embedder)
    scores = {f"{c}_f1": s.f1 for c, s in result.categories.items()}
    counted = [v for v in scores.values() if v is not None]
    scores["mean_f1"] = sum(counted) / len(counted) if counted else None
    scores["emotion_accuracy"] = (result.emotion or {}).get("accuracy")
    return scores


# ---- entry point ----------------------------------------------------------------------------------------------


def trainer_from_args(script_args, training_args, model_args, xargs: XEmoGPTArguments):
    """The SFT trainer a recipe describes (what `main` trains)."""
    setup = prepare_training(script_args, training_args, model_args, xargs)
    trainer = build_sft_trainer(setup.model, setup.processor, training_args, setup.train_dataset, setup.eval_dataset,
                                xargs=xargs, peft_config=setup.peft_config, feature_cache=setup.feature_cache,
                                cached_modalities=setup.cached_modalities)
    return add_time_budget(trainer, xargs.max_train_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """`xemogpt train sft`: parse a recipe + flags, load data and model, train with TRL's SFTTrainer, save."""
    from trl import SFTConfig

    return train_and_save(trainer_from_args(*parse_args(argv, SFTConfig, prog="xemogpt train sft")))


if __name__ == "__main__":
    raise SystemExit(main())
