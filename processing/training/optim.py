"""What the XEmoGPT trainers share: optimizer parameter groups (a learning rate of their own for some parameters),
`--resume_from_checkpoint true|last|PATH`, a wall-clock budget, and a clean end of a multi-process run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import time

import torch
from transformers import TrainerCallback

from processing.errors import XEmoGPTError

# The bridge layers of XEmoGPTForConditionalGeneration.model (transformer layers, norms, position tables), not the
# projections into the language model.
BRIDGE_MODULES = ("video_bridge", "audio_bridge")


def bridge_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The trainable parameters of the VECB / AECB of `model`, matched by name so that a PEFT wrapper (whose names
    gain a `base_model.model.` prefix and a `modules_to_save.default.` infix) is handled too."""
    return [p for n, p in model.named_parameters()
            if p.requires_grad and any(f".{m}." in f".{n}" for m in BRIDGE_MODULES)]


def split_param_group(optimizer: torch.optim.Optimizer, params: Iterable[torch.nn.Parameter], **options) -> int:
    """Move `params` out of their groups into copies of those groups with `options` overridden (e.g. `lr=`), so that
    every other setting (weight decay, betas) stays as the group had it. Returns how many parameters moved."""
    ids = {id(p) for p in params}
    moved_total = 0
    for group in list(optimizer.param_groups):
        moved = [p for p in group["params"] if id(p) in ids]
        if not moved:
            continue
        group["params"] = [p for p in group["params"] if id(p) not in ids]
        settings = {k: v for k, v in group.items() if k != "params"}
        optimizer.add_param_group({**settings, **options, "params": moved})
        moved_total += len(moved)
    return moved_total


class BridgeLearningRateMixin:
    """For a `transformers.Trainer` subclass: the VECB / AECB parameters get `bridge_learning_rate` (None: the
    trainer's own). The scheduler then scales that group like the others (warmup, decay)."""

    bridge_learning_rate: float | None = None

    def create_optimizer(self, model=None):
        fresh = self.optimizer is None
        optimizer = super().create_optimizer(model)
        lr = self.bridge_learning_rate
        if fresh and lr is not None and lr != self.args.learning_rate:
            split_param_group(optimizer, bridge_parameters(self.model if model is None else model), lr=lr)
        return optimizer


def end_training(trainer) -> None:
    """Wait for every process, then take the process group down before the interpreter exits.

    Left to interpreter shutdown, a gloo process group's threads are destroyed while still joinable and a
    non-main rank aborts ("terminate called without an active exception", SIGABRT) after the model was saved,
    so `accelerate launch` reports a failed run. A no-op in a single process."""
    trainer.accelerator.wait_for_everyone()
    trainer.accelerator.end_training()


def resume_checkpoint(training_args) -> str | None:
    """`--resume_from_checkpoint true|last` -> the output folder's last checkpoint; a path as given; else None."""
    from transformers.trainer_utils import get_last_checkpoint

    value = training_args.resume_from_checkpoint
    if value in (None, "", "false", "False"):
        return None
    if str(value).lower() in ("true", "last"):
        last = get_last_checkpoint(training_args.output_dir) if Path(training_args.output_dir).is_dir() else None
        if last is None:
            raise XEmoGPTError(f"--resume_from_checkpoint: no checkpoint in {training_args.output_dir}")
        return last
    if not Path(value).is_dir():
        raise XEmoGPTError(f"--resume_from_checkpoint {value}: no such checkpoint folder")
    return value


class TimeBudgetCallback(TrainerCallback):
    """Stop training at the end of the first optimizer step that ends `seconds` after training began (the model is
    then saved as after the last step): runs of different methods get the same wall-clock budget."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.started = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if self.started is not None and time.monotonic() - self.started >= self.seconds:
            control.should_training_stop = True
        return control


def add_time_budget(trainer, seconds: float | None):
    """Give `trainer` a `TimeBudgetCallback` when `seconds` is set (`--max_train_seconds`); returns the trainer."""
    if seconds is not None:
        if seconds <= 0:
            raise XEmoGPTError(f"--max_train_seconds must be > 0 (got {seconds})")
        trainer.add_callback(TimeBudgetCallback(seconds))
    return trainer
