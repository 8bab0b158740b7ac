"""Batches for instruction tuning (SFT) and preference tuning (DPO) from EmoCue rows.

Both collators take raw dataset rows (`video`, `audio`, `subtitle` + the answer columns) and build the model's
inputs on the fly, so TRL's own preprocessing is skipped (`remove_unused_columns=False`,
`dataset_kwargs={"skip_prepare_dataset": True}` for SFT; `XEmoGPTDPOTrainer` for DPO).

Media come from one of two places, per modality and per batch:

* raw files, decoded with `processing.media` (frames + waveform -> `pixel_values_videos`, `input_values`);
* cached frozen-encoder outputs, when a row carries `video_features` (F, Dv) / `audio_features` (T, Da)
  (+ `audio_features_mask` (T,)) or a `feature_cache` (any mapping id -> such a dict, e.g. a
  `processing.training.feature_cache.FeatureCache`) has the row's id.

Any modality may be absent per row (no video path, no audio track, or excluded with `modalities`); the prompt then
carries no marker for it. Labels: -100 on the prompt (including every media placeholder) and on padding, so the loss
is on the answer (and its closing token) only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from processing.errors import DatasetError, MediaError

MODALITIES = ("video", "audio")
FEATURE_KEYS = ("video_features", "audio_features", "audio_features_mask")
IGNORE_INDEX = -100


def _as_tensor(value, dtype=torch.float32) -> torch.Tensor:
    return value.to(dtype) if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value), dtype=dtype)


class XEmoGPTSFTCollator:
    """Rows -> `input_ids`, `attention_mask`, `labels` (right-padded) + the media inputs of the present modalities.

    Args:
        processor: the model's `XEmoGPTProcessor`.
        answer_column: the column holding the target text (`explanation` for EmoCue).
        max_length: cut prompt + answer to this many tokens, taking only from the answer (media placeholders are
            never cut); None = no limit.
        modalities: the modalities to use when a row has them (drop one for an ablation or a one-modality stage).
        feature_cache: mapping from row `id` to cached encoder outputs (see the module docstring), or None, e.g.
            `processing.training.feature_cache.open_feature_cache(...)`.
        cached_modalities: the modalities the feature cache was built for (default: `modalities`); for a row it
            holds, these are never decoded from files.
        prompt_style / instruction: passed to `processor.build_prompt` (None = the processor's defaults).
    """

    def __init__(self, processor, *, answer_column: str = "explanation", max_length: int | None = None,
                 modalities: Sequence[str] = MODALITIES, feature_cache: Mapping | None = None,
                 cached_modalities: Sequence[str] | None = None, prompt_style: str | None = None,
                 instruction: str | None = None):
        unknown = set(modalities) - set(MODALITIES)
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)}: use a subset of {MODALITIES}")
        self.processor = processor
        self.answer_column = answer_column
        self.max_length = max_length
        self.modalities = tuple(modalities)
        self.feature_cache = feature_cache
        self.cached_modalities = tuple(cached_modalities if cached_modalities is not None else modalities)
        self.prompt_style = prompt_style
        self.instruction = instruction

    # ---- media ----------------------------------------------------------------------------------------------

    def cached_features(self, row: Mapping) -> tuple[dict, set[str]]:
        """(cached encoder outputs of a row, the modalities they decide). A row's own feature columns decide their
        modality; a row found in the feature cache has all of `cached_modalities` decided by it (a modality it
        holds no features for is absent, e.g. a clip without an audio track). Zero-length audio counts as absent."""
        found = {k: row[k] for k in FEATURE_KEYS if row.get(k) is not None}
        decided = {m for m, key in (("video", "video_features"), ("audio", "audio_features")) if key in found}
        entry = self.feature_cache.get(row["id"]) if self.feature_cache is not None and row.get("id") is not None else None
        if entry is not None:
            found = {**{k: entry[k] for k in FEATURE_KEYS if entry.get(k) is not None}, **found}
            decided |= set(self.cached_modalities)
        if "audio_features" in found and len(found["audio_features"]) == 0:
            found.pop("audio_features")
            found.pop("audio_features_mask", None)
        return found, decided

    def media(self, row: Mapping) -> dict:
        """What the prompt of `row` shows: `video_features` or `frames` (+ `timestamps`), `audio_features` or `audio`.

        Cached features win over files. Raises DatasetError naming the row when a media file cannot be read.
        """
        from processing.media import row_media

        out, decided = self.cached_features(row)
        if "video" not in self.modalities:
            out.pop("video_features", None)
        if "audio" not in self.modalities:
            out.pop("audio_features", None)
            out.pop("audio_features_mask", None)
        want = set(self.modalities) - decided
        try:
            if "video" in want and row.get("video"):
                out["frames"], out["timestamps"] = row_media(row, "video", self.processor)
            if "audio" in want and (row.get("audio") or row.get("video")):
                wave = row_media(row, "audio", self.processor)  # None: a video without an audio track
                if wave is not None:
                    out["audio"] = wave
        except MediaError as exc:
            raise DatasetError(f"row {row.get('id')!r}: {exc}") from None
        return out

    # ---- prompts + media -> inputs ----------------------------------------------------------------------------

    def encode_prompts(self, rows: Sequence[Mapping]) -> tuple[list[list[int]], dict[str, torch.Tensor]]:
        """Token ids of each row's prompt (placeholders expanded) and the batch's media inputs, in row order."""
        p = self.processor
        media = [self.media(row) for row in rows]
        prompts = [
            p.build_prompt(row.get("subtitle") or "", has_video="frames" in m or "video_features" in m,
                           has_audio="audio" in m or "audio_features" in m, instruction=self.instruction,
                           style=self.prompt_style)
            for row, m in zip(rows, media)
        ]
        videos = [m["frames"] for m in media if "frames" in m]
        audios = [m["audio"] for m in media if "audio" in m]
        timestamps = [m.get("timestamps") for m in media if "frames" in m or "video_features" in m]
        if any(t is None for t in timestamps):
            timestamps = None
        video_cached = _uses_cache(media, "frames", "video_features")
        audio_cached = _uses_cache(media, "audio", "audio_features")
        if not (video_cached or audio_cached):  # all raw: the processor's public call does everything
            encoded = p(text=prompts, videos=videos or None, audio=audios or None, padding=False, return_tensors=None,
                        videos_kwargs={"timestamps": timestamps} if videos else {})
            ids = encoded.pop("input_ids")
            encoded.pop("attention_mask", None)
            return ids, {k: _as_tensor(v, torch.long if k.endswith("mask") else torch.float32) for k, v in encoded.items()}

        # Cached features for at least one modality: expand the placeholders from the cached lengths.
        inputs: dict[str, torch.Tensor] = {}
        if videos:
            inputs["pixel_values_videos"] = p.video_pixels(videos)
        if video_cached:
            inputs["video_features"] = torch.stack([_as_tensor(m["video_features"]) for m in media if "video_features" in m])
        audio_counts = []
        if audios:
            audio_inputs, audio_counts = p.audio_inputs(audios)
            inputs.update({k: _as_tensor(v, torch.long if k.endswith("mask") else torch.float32)
                           for k, v in audio_inputs.items()})
        if audio_cached:
            rows_with = [m for m in media if "audio_features" in m]
            feats = [_as_tensor(m["audio_features"]) for m in rows_with]
            masks = [_as_tensor(m["audio_features_mask"], torch.bool) if m.get("audio_features_mask") is not None
                     else torch.ones(len(f), dtype=torch.bool) for m, f in zip(rows_with, feats)]
            longest = max(len(f) for f in feats)
            inputs["audio_features"] = torch.stack([torch.nn.functional.pad(f, (0, 0, 0, longest - len(f))) for f in feats])
            inputs["audio_features_mask"] = torch.stack([torch.nn.functional.pad(m, (0, longest - len(m))) for m in masks])
            stride = p.audio_token_stride
            audio_counts = [-(-int(m.sum()) // stride) for m in inputs["audio_features_mask"]]
        n_videos = sum(1 for m in media if "frames" in m or "video_features" in m)
        video_marks = [p.video_replacement(t) for t in (timestamps or [None] * n_videos)]
        expanded, _ = p.get_text_with_replacements(prompts, [], video_marks, [p.audio_token * n for n in audio_counts])
        return p.tokenizer(expanded, add_special_tokens=False, padding=False)["input_ids"], inputs

    def encode_answers(self, answers: Sequence[str]) -> list[list[int]]:
        """Token ids of each answer followed by the closing token of the prompt style."""
        return self.processor.encode_answers(answers, self.prompt_style)

    def join(self, prompt_ids: Sequence[list[int]], answer_ids: Sequence[list[int]]) -> dict[str, torch.Tensor]:
        """Right-padded `input_ids`, `attention_mask` and `completion_mask` (1 on answer tokens) of prompt + answer."""
        sequences, completion = [], []
        for prompt, answer in zip(prompt_ids, answer_ids):
            if self.max_length is not None:
                answer = answer[: max(0, self.max_length - len(prompt))]
            sequences.append(list(prompt) + list(answer))
            completion.append([0] * len(prompt) + [1] * len(answer))
        longest = max(len(s) for s in sequences)
        pad_id = self.processor.tokenizer.pad_token_id
        input_ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
        completion_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
        for i, (seq, comp) in enumerate(zip(sequences, completion)):
            input_ids[i, : len(seq)] = torch.tensor(seq)
            attention_mask[i, : len(seq)] = 1
            completion_mask[i, : len(seq)] = torch.tensor(comp)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}

    def answers(self, rows: Sequence[Mapping], column: str) -> list[str]:
        texts = [row.get(column) for row in rows]
        missing = [row.get("id") for row, t in zip(rows, texts) if not isinstance(t, str) or not t.strip()]
        if missing:
            raise DatasetError(f"row(s) {missing[:3]} have no {column!r} text to train on")
        return texts

    def __call__(self, rows: Sequence[Mapping]) -> dict[str, torch.Tensor]:
        prompt_ids, inputs = self.encode_prompts(rows)
        batch = self.join(prompt_ids, self.encode_answers(self.answers(rows, self.answer_column)))
        completion_mask = batch.pop("completion_mask")
        batch["labels"] = batch["input_ids"].masked_fill(completion_mask == 0, IGNORE_INDEX)
        return {**batch, **inputs}


class XEmoGPTPreferenceCollator(XEmoGPTSFTCollator):
    """Preference rows (`chosen`, `rejected` + media columns) -> the layout TRL's DPOTrainer computes its loss on:
    `input_ids` / `attention_mask` / `completion_mask` of 2B rows (all chosen, then all rejected, same prompts) and
    the media inputs repeated in the same order (each clip twice)."""

    def __call__(self, rows: Sequence[Mapping]) -> dict[str, torch.Tensor]:
        prompt_ids, inputs = self.encode_prompts(rows)
        answers = self.encode_answers(self.answers(rows, "chosen") + self.answers(rows, "rejected"))
        batch = self.join(list(prompt_ids) * 2, answers)
        for key, value in inputs.items():
            batch[key] = torch.cat([value, value])
        if "ref_chosen_logps" in rows[0]:
            batch["ref_chosen_logps"] = torch.tensor([row["ref_chosen_logps"] for row in rows])
            batch["ref_rejected_logps"] = torch.tensor([row["ref_rejected_logps"] for row in rows])
        return batch


def _uses_cache(media: list[dict], raw_key: str, cached_key: str) -> bool:
    """True when the batch uses cached features for this modality; mixing cached and raw rows is refused."""
    has_cached = any(cached_key in m for m in media)
    if has_cached and any(raw_key in m for m in media):
        raise DatasetError(
            f"a batch mixes rows with cached {cached_key} and rows with raw media: cache every row of the dataset "
            "(or none)"
        )
    return has_cached
