"""The pieces of stages 1-2 (bridge alignment) that `align.py`'s entry point puts together.

The frozen encoder of an XEmoGPT folder and the alignment model around a fresh bridge (`build_alignment_model`); the
EmoCue splits with their cached caption embeddings and encoder outputs (`prepare_split`); `AlignmentCollator`; the
held-out retrieval and frame-order evaluation (`evaluate_alignment`); `AlignmentTrainer`, `transformers.Trainer` with
the position table's own learning rate.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from transformers import Trainer

from processing.errors import XEmoGPTError
from .optim import split_param_group

if TYPE_CHECKING:
    from .align import AlignmentArguments

CAPTION_COLUMN = {"video": "video_caption", "audio": "audio_caption"}


# ---- encoders, processor and the alignment model ----------------------------------------------------------------


def _safetensors_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / n for n in names]
    return sorted(folder.glob("*.safetensors"))


def load_tower_weights(module, folder, prefix: str) -> int:
    """Copy the tensors under `prefix` (e.g. "model.vision_tower.") of a saved XEmoGPT folder into `module`,
    reading only those tensors (the language model is never loaded). Returns the number of tensors copied."""
    from safetensors import safe_open

    own = module.state_dict()
    copied = 0
    for path in _safetensors_files(Path(folder)):
        if path.name == "bridges.safetensors":
            continue
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                if key.startswith(prefix) and key[len(prefix):] in own:
                    own[key[len(prefix):]].copy_(handle.get_tensor(key))
                    copied += 1
    if copied != len(own):
        raise XEmoGPTError(f"{folder}: found {copied} of the {len(own)} {prefix.rstrip('.')} weights; is it a saved "
                           "XEmoGPT model folder?")
    return copied


def build_alignment_model(args: AlignmentArguments, stage: str, base: Path, text_embed_dim: int,
                          with_encoders: bool):
    """(XEmoGPTForCueAlignment, processor, encoders) for `stage`: the bridge + heads (random), and the frozen encoder
    loaded from `base`. `encoders` (what the feature cache runs) is the model itself with `with_encoders`, else a
    separate holder, so that the trained model (and its checkpoints) carries only what trains."""
    from modeling_xemogpt import XEmoGPTConfig, XEmoGPTProcessor
    from modeling_xemogpt.alignment_xemogpt import (
        XEmoGPTAlignmentConfig,
        XEmoGPTCueAlignmentModel,
        XEmoGPTForCueAlignment,
    )

    config = XEmoGPTConfig.from_pretrained(base)
    if args.vecb_attention_window is not None:
        config.vecb_attention_window = args.vecb_attention_window
    alignment = dict(
        alignment_stage=stage, text_embed_dim=text_embed_dim, shared_embed_dim=args.shared_embed_dim,
        temperature=args.temperature, learnable_temperature=args.learnable_temperature,
        contrastive_weight=args.contrastive_weight, temporal_weight=args.temporal_weight,
        reconstruction_weight=args.reconstruction_weight, mask_ratio=args.mask_ratio,
        temporal_pooling=args.temporal_pooling, shuffle_after_positions=args.shuffle_after_positions,
    )
    try:
        holder_config = XEmoGPTAlignmentConfig.from_xemogpt_config(config, **alignment, with_encoders=True)
        model = XEmoGPTForCueAlignment(
            XEmoGPTAlignmentConfig.from_xemogpt_config(config, **alignment, with_encoders=with_encoders)
        )
    except ValueError as exc:
        raise XEmoGPTError(f"alignment settings: {exc}") from None
    tower = "vision_tower" if stage == "video" else "audio_tower"
    if with_encoders:
        encoders = model
        load_tower_weights(getattr(model.model, tower), base, f"model.{tower}.")
    else:
        encoders = XEmoGPTCueAlignmentModel(holder_config)
        load_tower_weights(getattr(encoders, tower), base, f"model.{tower}.")
        encoders.requires_grad_(False).eval()
    return model, XEmoGPTProcessor.from_pretrained(base), encoders


# ---- data -------------------------------------------------------------------------------------------------------


def load_split(args: AlignmentArguments, split: str, limit: int | None):
    from processing.data.emocue import load_emocue

    records = load_emocue(args.dataset_name, split, media_root=args.media_root)
    if limit is not None:
        records = records.select(range(min(limit, len(records))))
    return records


def held_out_split(args: AlignmentArguments):
    """The `dataset_test_split` records; None (with a warning) when the dataset has no such split."""
    from processing.data.emocue import load_emocue

    if not args.dataset_test_split:
        return None
    available = list(load_emocue(args.dataset_name, media_root=args.media_root))
    if args.dataset_test_split not in available:
        print(f"xemogpt train: warning: {args.dataset_name} has no split {args.dataset_test_split!r} (splits: "
              f"{', '.join(sorted(available))}): training without the held-out evaluation", file=sys.stderr)
        return None
    return load_split(args, args.dataset_test_split, args.max_eval_samples)


def attach_features(records, columns_from: Sequence) -> "datasets.Dataset":  # noqa: F821
    """`records` with the columns of the cached splits in `columns_from` appended (same row order; `id` checked)."""
    import datasets

    parts = [records]
    for cached in columns_from:
        if cached["id"] != records["id"]:
            raise XEmoGPTError("a feature cache lists other rows than the dataset split; delete it to rebuild it")
        parts.append(cached.remove_columns("id"))
    return datasets.concatenate_datasets(parts, axis=1)


def prepare_split(args, stage: str, split: str, records, encoders, processor, text_encoder, use_cache: bool):
    """The split with its caption embeddings (and, with `use_cache`, the cached encoder outputs) attached, each cached
    first if needed (resuming an unfinished cache). Rows without the stage's media are dropped."""
    from .feature_cache import (
        cache_caption_embeddings,
        cache_dir_for,
        cache_media_features,
        caption_cache_key,
        load_cached_split,
        media_cache_key,
        split_complete,
    )

    column = CAPTION_COLUMN[stage]
    keys = [caption_cache_key(text_encoder, column)]
    if use_cache:
        keys.append(media_cache_key(encoders, processor, stage))
    cached = []
    for key in keys:
        cache_dir = cache_dir_for(key, args.dataset_name, args.feature_cache)
        if not split_complete(cache_dir, split):
            if key["kind"] == stage:
                cache_media_features(records, None, encoders, processor, stage, split, cache_dir=cache_dir,
                                     batch_size=args.cache_batch_size, shard_size=args.cache_shard_size,
                                     num_proc=args.cache_num_proc, backend=args.media_backend)
            else:
                cache_caption_embeddings(records, None, text_encoder, column, split, cache_dir=cache_dir)
        cached.append(load_cached_split(cache_dir, split, key=key, records=records))
    data = attach_features(records, cached)
    if stage == "audio" and use_cache:  # rows without any audio have nothing to align
        keep = [i for i, n in enumerate(data["audio_length"]) if n > 0]
        if len(keep) < len(data):
            data = data.select(keep)
    return data


class AlignmentCollator:
    """Rows -> the alignment model's inputs: caption embeddings, and either cached
    encoder outputs (`video_features`; `audio_features` padded + `audio_features_mask`) or, for rows without them,
    media decoded with `processing.media` and preprocessed by the processor (`pixel_values_videos`; `input_values` /
    `input_features` + `audio_attention_mask`)."""

    def __init__(self, stage: str, processor=None, backend: str = "auto"):
        self.stage = stage
        self.processor = processor
        self.backend = backend
        self.caption_column = CAPTION_COLUMN[stage]

    def __call__(self, rows: Sequence[Mapping]) -> dict:
        from processing.media import row_media

        batch = {
            "caption_embeds": torch.as_tensor(np.stack([row[f"{self.caption_column}_embeds"] for row in rows]),
                                              dtype=torch.float32),
        }
        if self.stage == "video":
            if rows[0].get("video_features") is not None:
                batch["video_features"] = torch.as_tensor(np.stack([row["video_features"] for row in rows]),
                                                          dtype=torch.float32)
            else:
                frames = [row_media(row, "video", self.processor, self.backend)[0] for row in rows]
                batch["pixel_values_videos"] = self.processor.video_pixels(frames)
            return batch
        if rows[0].get("audio_features") is not None:
            feats = [torch.from_numpy(np.array(row["audio_features"], dtype=np.float32)) for row in rows]
            longest = max(len(f) for f in feats)
            lengths = torch.tensor([len(f) for f in feats])
            padded = [torch.nn.functional.pad(f, (0, 0, 0, longest - len(f))) for f in feats]
            batch["audio_features"] = torch.stack(padded)
            batch["audio_features_mask"] = torch.arange(longest)[None, :] < lengths[:, None]
            return batch
        waves = [row_media(row, "audio", self.processor, self.backend) for row in rows]
        if any(w is None for w in waves):
            missing = rows[[w is None for w in waves].index(True)]
            raise XEmoGPTError(f"row {missing.get('id')}: no audio (no audio file and no audio track in the video)")
        inputs, _ = self.processor.audio_inputs(waves)
        batch.update({k: torch.as_tensor(v) for k, v in inputs.items()})
        return batch


# ---- evaluation -------------------------------------------------------------------------------------------------


def _motion_kinds(records) -> list[str] | None:
    """EmoCue-Synth only (rows with `factors`): how frame order shows in each clip. "periodic": the head nods or
    shakes; "monotone": it turns away or the expression appears / fades (and no nod or shake); "static": nothing
    changes, so a shuffled clip is as likely as the original and no model can tell them apart."""
    if "factors" not in records.column_names:
        return None
    kinds = []
    for text in records["factors"]:
        try:
            f = json.loads(text) if text else {}
        except json.JSONDecodeError:
            return None
        if f.get("head") in ("nodding", "shaking"):
            kinds.append("periodic")
        elif f.get("head") == "turning away" or f.get("dynamics", "steady") != "steady":
            kinds.append("monotone")
        else:
            kinds.append("static")
    return kinds


def evaluate_alignment(model, data, collator, *, batch_size: int = 256, seed: int = 0) -> dict:
    """Held-out metrics: media->caption and caption->media retrieval R@1 / R@5 over the whole split (a retrieved
    caption counts when its text equals the clip's own; `chance_r1` is the expected R@1 of a random ranking), and for
    video the frame-order accuracy (each clip once in order, once shuffled; for EmoCue-Synth rows also per kind of
    motion, see `_motion_kinds`)."""
    model.eval()
    media, text, order_logits = [], [], []
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        for start in range(0, len(data), batch_size):
            chunk = data[start:start + batch_size]
            batch = collator([dict(zip(chunk, values)) for values in zip(*chunk.values())])
            captions = batch.pop("caption_embeds")
            text.append(model.embed_text(captions))
            media.append(model.embed_media(**batch))
            if model.stage == "video":
                frames = model._frames(batch.get("video_features"), batch.get("pixel_values_videos"))
                from modeling_xemogpt.alignment_xemogpt import random_permutations

                perms = random_permutations(frames.shape[0], frames.shape[1], frames.device)
                order_logits.append(torch.stack([model.order_logits(frames), model.order_logits(frames, perms)], 1))
    media, text = torch.cat(media), torch.cat(text)
    captions = list(data[CAPTION_COLUMN[model.stage]])
    index = {text: i for i, text in enumerate(dict.fromkeys(captions))}
    ids = torch.tensor([index[text] for text in captions])
    same = ids[:, None] == ids[None, :]
    sims = media @ text.T
    results = {"num_clips": len(captions), "num_distinct_captions": len(set(captions))}
    for name, matrix, hits in (("media_to_caption", sims, same), ("caption_to_media", sims.T, same.T)):
        ranked = matrix.argsort(dim=1, descending=True)
        for k in (1, 5):
            found = hits.gather(1, ranked[:, :k]).any(1).float().mean().item()
            results[f"{name}_r{k}"] = round(found, 4)
    results["chance_r1"] = round(same.float().mean(1).mean().item(), 4)
    if order_logits:
        logits = torch.cat(order_logits)  # (n, 2 [in order, shuffled], 2)
        correct = torch.stack([logits[:, 0].argmax(-1) == 0, logits[:, 1].argmax(-1) == 1], 1).float()
        results.update(order_accuracy_by_kind(correct.mean(1), data))
    return results


def order_accuracy_by_kind(correct: torch.Tensor, records) -> dict:
    """Frame-order accuracy from per-clip scores (n,) (the share of a clip's in-order and shuffled copies judged
    right), overall and, for EmoCue-Synth rows, per kind of motion (`_motion_kinds`) with each kind's share."""
    correct = torch.as_tensor(correct, dtype=torch.float32)
    results = {"order_accuracy": round(correct.mean().item(), 4)}
    kinds = _motion_kinds(records)
    if kinds is not None:
        kinds = np.array(kinds)
        changing = torch.from_numpy(kinds != "static")
        if changing.any():
            results["order_accuracy_changing_clips"] = round(correct[changing].mean().item(), 4)
        for kind in ("monotone", "periodic", "static"):
            rows = torch.from_numpy(kinds == kind)
            if rows.any():
                results[f"order_accuracy_{kind}_clips"] = round(correct[rows].mean().item(), 4)
                results[f"share_{kind}_clips"] = round(rows.float().mean().item(), 4)
    return results


# ---- training ---------------------------------------------------------------------------------------------------


class AlignmentTrainer(Trainer):
    """`transformers.Trainer` that logs each task's loss (contrastive, temporal, reconstruction: their means since
    the last log) and can give the VECB position table its own learning rate (`position_embedding_lr_scale` x the
    trainer's)."""

    def __init__(self, *args, position_embedding_lr_scale: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.position_embedding_lr_scale = position_embedding_lr_scale
        self._parts: dict[str, tuple[float, int]] = {}

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        table = getattr(getattr(self.model.model, "video_bridge", None), "position_embedding", None)
        if table is not None and table.requires_grad and self.position_embedding_lr_scale != 1.0:
            split_param_group(optimizer, [table], weight_decay=0.0,
                              lr=self.args.learning_rate * self.position_embedding_lr_scale)
        return optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        for name in ("contrastive_loss", "temporal_loss", "reconstruction_loss"):
            value = getattr(outputs, name)
            if value is not None:
                total, count = self._parts.get(name, (0.0, 0))
                self._parts[name] = (total + value.detach().item(), count + 1)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs, *args, **kwargs):
        if "loss" in logs:
            for name, (total, count) in self._parts.items():
                logs[name.replace("_loss", "")] = round(total / max(count, 1), 4)
            self._parts = {}
        super().log(logs, *args, **kwargs)


def make_trainer(model, training_args, train_data, collator, position_embedding_lr_scale: float = 1.0):
    """The stage's `AlignmentTrainer`."""
    return AlignmentTrainer(model=model, args=training_args, train_dataset=train_data, data_collator=collator,
                            position_embedding_lr_scale=position_embedding_lr_scale)
