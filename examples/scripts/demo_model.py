"""Helpers for training the bundled demo model `xemogpt-synth-tiny` on EmoCue-Synth, end to end on a CPU.

`train_demo_model.py` (next to this file) runs the stages; this module holds what the project's stage code does not
cover (it is the demo model's recipe, not library code): the tiny model's config, the tokenizer texts, per-frame / per-voice labels, encoder pretraining (there are
no pretrained encoder weights offline, EMOCUE_SYNTH.md) and a wall-clock learning-rate schedule for the TRL stages.

Encoder pretraining trains on what users feed the model: the frames and audio decoded from the SFT corpus' MP4s
(labels from each clip's factors at the sampled timestamps), mixed half and half with fresh in-memory renders
(codec-like augmentation: blur + JPEG at random quality, drawn at the corpus' frame size and resized like the
processor does) so that the tiny encoders see thousands of distinct faces and voices.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from processing.data.synth.audio import SAMPLING_RATE, render_audio
from processing.data.synth.corpus import FRAME_SIZE, synth_sample
from processing.data.synth.factors import AUDITORY_FACTORS, BROWS, EYES, MOUTHS, Factors, sample_factors
from processing.data.synth.video import expression_intensity, head_pose, render_frames
from processing.tokenizers import media_token_ids

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
POSE_KEYS = ("dx", "dy", "fdx", "fdy", "turn")
VISION_TASKS = ("mouth", "brows", "eyes", "tears")


@dataclass
class DemoSettings:
    """Everything that sets the demo model's size and training budget (seconds are wall-clock caps)."""

    seed: int = 0
    # The LLM learns the corpus rules only from the training clips, so more clips at the same optimizer steps helped
    # its reasoning most (the last increase, to 4800, by about the run-to-run noise); after SFT the corpus is the
    # largest cost of the build (numbers: the model card's findings, hub_cards/demo_model_card_template.md)
    num_train_clips: int = 4800
    num_validation_clips: int = 40
    frame_size: int = FRAME_SIZE
    num_frames: int = 16
    image_size: int = 64
    max_audio_seconds: float = 6.0
    audio_token_stride: int = 10
    vocab_size: int = 1024
    text_hidden: int = 128
    text_layers: int = 3
    # Every stage runs a fixed number of optimizer steps (so the result does not depend on how busy the CPU is);
    # the *_seconds are safety stops at ~2.5x the time a quiet 2-core machine needs.
    vision_bank_frames: int = 30000  # fresh renders for vision pretraining (EMOCUE_SYNTH.md: >= 20 k distinct images)
    # Encoder pretraining steps: longer pretraining sharpened the frozen encoders' perception (mouth and voice tremor
    # probes) and moved emotion accuracy more than any SFT change tried (this run's probes: training_log.json; the
    # model's numbers: RESULTS.md; the comparison with fewer steps: the model card's findings)
    vision_steps: int = 2000
    vision_seconds: float = 300.0
    vision_pose_weight: float = 3.0  # head pose must stand out in the frame vectors for nod / shake to be learnable
    audio_bank_voices: int = 3000  # fresh voices for audio pretraining (next to the corpus' own)
    audio_steps: int = 2500
    audio_seconds: float = 360.0
    align_video_steps: int = 550
    align_video_seconds: float = 120.0
    align_audio_steps: int = 100
    align_audio_seconds: float = 90.0
    # More SFT steps raise emotion accuracy only by about a point and cost build time the 15-minute target of
    # `make demo-model` does not leave (the model card's findings)
    sft_steps: int = 1000
    sft_seconds: float = 1200.0
    dpo_steps: int = 45
    dpo_seconds: float = 90.0
    sft_learning_rate: float = 2e-3
    sft_batch_size: int = 16
    dpo_learning_rate: float = 2e-5
    dpo_batch_size: int = 8
    # SFT / DPO keep the VECB / AECB layers stages 1-2 trained as they are (only their projections + the LLM train):
    # at SFT's learning rate the bridges' updates wore down the frame order stage 1 taught the VECB, and head motion in
    # the explanations fell; frozen bridges kept it (numbers: the model card's findings)
    bridge_learning_rate: float = 0.0


# ---- model -----------------------------------------------------------------------------------------------------


def model_config_dict(settings: DemoSettings) -> dict:
    """XEmoGPTConfig arguments (without token ids) of the demo model."""
    # A tiny ResNet: from scratch on a CPU it learns the face cues ~10x faster per step than a tiny CLIP ViT
    # (held-out mouth / brows / eyes 0.95 / 0.99 / 0.93 after 1000 steps vs 0.58 / 0.64 / 0.59).
    vision = dict(model_type="resnet", embedding_size=24, hidden_sizes=[32, 48, 64], depths=[1, 1, 1],
                  layer_type="basic", downsample_in_first_stage=False)
    audio = dict(model_type="whisper", d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=256,
                 num_mel_bins=80, max_source_positions=int(settings.max_audio_seconds * 50), decoder_layers=1,
                 decoder_attention_heads=4, decoder_ffn_dim=64, vocab_size=64, dropout=0.0, attention_dropout=0.0,
                 activation_dropout=0.0, encoder_layerdrop=0.0,
                 pad_token_id=0, bos_token_id=1, eos_token_id=1, decoder_start_token_id=2)  # unused decoder: ids in its vocab
    return dict(vision_config=vision, vision_feature_pooling="pooler_output", vision_image_size=settings.image_size,
                vecb_num_attention_heads=4, vecb_intermediate_size=256,
                audio_config=audio, num_frames=settings.num_frames,
                max_audio_seconds=settings.max_audio_seconds, audio_token_stride=settings.audio_token_stride)


def build_config(settings: DemoSettings, tokenizer, **overrides):
    from modeling_xemogpt import XEmoGPTConfig

    text = dict(model_type="qwen3", vocab_size=len(tokenizer), hidden_size=settings.text_hidden,
                intermediate_size=3 * settings.text_hidden, num_hidden_layers=settings.text_layers,
                num_attention_heads=4, num_key_value_heads=2, head_dim=32, tie_word_embeddings=True,
                max_position_embeddings=1024, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    kwargs = {**model_config_dict(settings), **overrides}
    return XEmoGPTConfig(
        text_config=text, **media_token_ids(tokenizer), **kwargs,
    )


def corpus_texts(num: int, seed: int = 0) -> list[str]:
    """Texts of `num` training records (explanations, captions, subtitles, rejected) plus the fixed prompts."""
    from modeling_xemogpt.processing_xemogpt import CHAT_TEMPLATE, DEFAULT_INSTRUCTION

    from processing.data.synth.record import rejected_explanation

    texts = [DEFAULT_INSTRUCTION, CHAT_TEMPLATE, "Subtitle: (none)", "system user assistant Video: Audio:"]
    for i in range(num):
        _, record = synth_sample(seed, "train", i)
        texts += [record["explanation"], record["video_caption"], record["audio_caption"], record["subtitle"]]
        rejected = rejected_explanation(record, seed)
        if rejected:
            texts.append(rejected)
    return texts


# ---- labels ----------------------------------------------------------------------------------------------------


def frame_labels(f: Factors, t: float) -> dict:
    """Per-frame targets: the expression's classes while it shows (intensity >= 0.5, else the rest class), and the
    head pose (scaled to ~unit range)."""
    e = float(expression_intensity(f, np.array([t]))[0])
    on = e >= 0.5
    pose = head_pose(f, np.array([t]))
    return {
        "mouth": MOUTHS.index(f.mouth) if on else 0, "brows": BROWS.index(f.brows) if on else 0,
        "eyes": EYES.index(f.eyes) if on else 0, "tears": int(f.tears and on),
        "pose": [8.0 * float(pose[k][0]) for k in POSE_KEYS],
    }


def voice_labels(f: Factors) -> dict:
    return {k: vocab.index(getattr(f, k)) for k, vocab in AUDITORY_FACTORS.items()}


def to_pixels(frames: np.ndarray, image_size: int) -> np.ndarray:
    """(F, H, W, 3) uint8 -> (F, 3, S, S) float32 as the CLIP image processor makes square frames (bicubic resize,
    rescale, normalise)."""
    from PIL import Image

    out = np.empty((len(frames), image_size, image_size, 3), dtype=np.float32)
    for i, frame in enumerate(frames):
        image = Image.fromarray(frame)
        if image.size != (image_size, image_size):
            image = image.resize((image_size, image_size), Image.BICUBIC)
        out[i] = np.asarray(image, dtype=np.float32)
    out = (out / 255.0 - CLIP_MEAN) / CLIP_STD
    return out.transpose(0, 3, 1, 2)


def codec_like(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A rendered frame made to look like a decoded H.264 frame: slight blur, JPEG (4:2:0) at a random quality."""
    from PIL import Image, ImageFilter

    image = Image.fromarray(frame)
    radius = float(rng.uniform(0.0, 0.7))
    if radius > 0.2:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(30, 92)))
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


# ---- decoded corpus ---------------------------------------------------------------------------------------------


_PROCESSOR = {}  # the processor the decode workers use (inherited by fork)


def _decode_row(args):
    from processing.media import load_audio, sample_frames

    path, factors_json, num_frames, max_seconds = args
    processor = _PROCESSOR["processor"]
    frames, times = sample_frames(path, num_frames)
    wave = load_audio(path, SAMPLING_RATE, max_seconds)
    mel = processor.audio_inputs([wave])[0]
    f = Factors.from_json(factors_json)
    return (processor.video_pixels([frames])[0].numpy(), [frame_labels(f, float(t)) for t in times],
            (np.asarray(mel["input_features"][0]), np.asarray(mel["audio_attention_mask"][0])), voice_labels(f))


def decode_corpus(records, dataset_dir, processor, settings: DemoSettings, workers: int = 2):
    """Per record: pixels (F, 3, S, S) = `processor.video_pixels(sample_frames(mp4))`, per-frame labels,
    (log-mel, mask) = `processor.audio_inputs(load_audio(mp4))` and voice labels: the clip decoded the way
    `load_clip` does it and preprocessed as the processor does, in `workers` processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from pathlib import Path

    _PROCESSOR["processor"] = processor
    args = [(str(Path(dataset_dir) / r["video"]), r["factors"], settings.num_frames, settings.max_audio_seconds)
            for r in records]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        rows = list(pool.map(_decode_row, args, chunksize=16))
    pixels = torch.from_numpy(np.stack([r[0] for r in rows]))
    mel = (torch.from_numpy(np.stack([r[2][0] for r in rows])), torch.from_numpy(np.stack([r[2][1] for r in rows])))
    return pixels, [r[1] for r in rows], mel, [r[3] for r in rows]


# ---- encoder pretraining ----------------------------------------------------------------------------------------


def _render_chunks(render, seed: int, count: int, chunk: int, workers: int, *args) -> list:
    """`render((seed, chunk_index, n, *args))` over `count` items in chunks of `chunk`, in `workers` forked processes."""
    import multiprocessing

    jobs = [(seed, i, min(chunk, count - i * chunk), *args) for i in range((count + chunk - 1) // chunk)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(render, jobs)


def _render_frame_chunk(args):
    seed, chunk, count, frame_size, image_size = args
    rng = np.random.default_rng([seed, 11, chunk])
    frames, labels = [], []
    for _ in range(count):
        f = sample_factors(rng, "train")
        t = float(rng.uniform(0.02, 0.98) * f.duration)
        frames.append(codec_like(render_frames(f, [t], size=frame_size)[0], rng))
        labels.append(frame_labels(f, t))
    return to_pixels(np.stack(frames), image_size).astype(np.float16), labels


def render_frame_bank(seed: int, count: int, frame_size: int, image_size: int, workers: int = 2, chunk: int = 500):
    """`count` freshly rendered single frames (codec-like, resized like the processor) as float16 pixels
    (count, 3, S, S) and their per-frame labels, rendered in `workers` processes (deterministic given the seed)."""
    parts = _render_chunks(_render_frame_chunk, seed, count, chunk, workers, frame_size, image_size)
    return torch.from_numpy(np.concatenate([p[0] for p in parts])), [lab for p in parts for lab in p[1]]


def _render_voice_chunk(args):
    seed, chunk, count, max_seconds = args
    rng = np.random.default_rng([seed, 12, chunk])
    waves, labels = [], []
    for _ in range(count):
        f = sample_factors(rng, "train")
        gain = 10 ** (float(rng.uniform(-3, 3)) / 20)
        waves.append((render_audio(f) * gain)[: int(max_seconds * SAMPLING_RATE)])
        labels.append(voice_labels(f))
    features, mask = mel_batch(_PROCESSOR["processor"], waves)
    return features.half().numpy(), mask.numpy(), labels


def render_voice_bank(processor, seed: int, count: int, max_seconds: float, workers: int = 2, chunk: int = 100):
    """`count` freshly rendered voices as the processor's (log-mel float16, mask) and their labels, rendered in
    `workers` processes (deterministic given the seed)."""
    _PROCESSOR["processor"] = processor
    parts = _render_chunks(_render_voice_chunk, seed, count, chunk, workers, max_seconds)
    mel = (torch.from_numpy(np.concatenate([p[0] for p in parts])), torch.from_numpy(np.concatenate([p[1] for p in parts])))
    return mel, [lab for p in parts for lab in p[2]]


def _stack_labels(labels: list[dict]) -> dict:
    return {k: torch.tensor([lab[k] for lab in labels]) for k in labels[0]}


def _mixed_batches(sources, rng):
    """Endless batches drawn from several sources: each source is (tensors, per-item label dicts, items per batch);
    yields (*tensors concatenated over sources, labels as a dict of tensors). Floating tensors come out as float32."""
    sources = [(tensors, {k: torch.tensor(np.asarray([lab[k] for lab in labels])) for k in labels[0]}, per_batch)
               for tensors, labels, per_batch in sources if per_batch]
    while True:
        parts = []
        for tensors, flat, per_batch in sources:
            rows = torch.from_numpy(rng.integers(len(tensors[0]), size=per_batch))
            parts.append(([t[rows].float() if t.is_floating_point() else t[rows] for t in tensors],
                          {k: v[rows] for k, v in flat.items()}))
        yield (*(torch.cat(column) for column in zip(*(p[0] for p in parts))),
               {k: torch.cat([p[1][k] for p in parts]) for k in parts[0][1]})


def _timed_loop(params, batches, loss_fn, seconds, lr, log, name, max_steps):
    """AdamW with warmup + cosine over `max_steps` steps; `seconds` of wall time only stops a run on a machine far
    slower than planned (logged). Returns the number of steps."""
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    start, step, running = time.perf_counter(), 0, {}
    for batch in batches:
        elapsed = time.perf_counter() - start
        if step >= max_steps:
            break
        if elapsed >= seconds:
            log(f"{name}: wall-clock safety cap ({seconds:.0f} s) reached after {step} of {max_steps} steps")
            break
        frac = step / max_steps
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 30) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        losses = loss_fn(*batch)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        for k, v in losses.items():
            running[k] = 0.95 * running.get(k, v.item()) + 0.05 * v.item()
        step += 1
        if step % 100 == 0:
            log(f"{name} step {step} ({elapsed:.0f}s): " + " ".join(f"{k}={v:.3f}" for k, v in running.items()))
    return step


class VisionHeads(nn.Module):
    """Throw-away per-frame heads on the CLS vector before post-layernorm (the vector the cache stores)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.heads = nn.ModuleDict({"mouth": nn.Linear(hidden, len(MOUTHS)), "brows": nn.Linear(hidden, len(BROWS)),
                                    "eyes": nn.Linear(hidden, len(EYES)), "tears": nn.Linear(hidden, 2),
                                    "pose": nn.Linear(hidden, len(POSE_KEYS))})

    def forward(self, cls):
        cls = self.norm(cls)
        return {k: head(cls) for k, head in self.heads.items()}


def vision_losses(out, labels, pose_weight: float = 1.0):
    losses = {k: nn.functional.cross_entropy(out[k], labels[k]) for k in VISION_TASKS}
    losses["pose"] = pose_weight * nn.functional.mse_loss(out["pose"], labels["pose"].float())
    return losses


def frame_vectors(model, pixels: torch.Tensor) -> torch.Tensor:
    """(n, 3, S, S) -> (n, Dv): the per-frame vector the model's `encode_video` makes (what the feature cache stores),
    with gradients reaching the encoder."""
    frozen = model.config.freeze_vision_tower
    model.config.freeze_vision_tower = False
    try:
        return model.model.encode_video(pixels[:, None])[:, 0]
    finally:
        model.config.freeze_vision_tower = frozen


def pretrain_vision(model, bank, corpus_pixels, corpus_labels, settings: DemoSettings, log, *, lr=2e-3,
                    bank_per_batch=48, corpus_per_batch=16):
    """Train the vision tower + heads on fresh renders (`bank` = `render_frame_bank(...)`) mixed with frames
    decoded from the corpus MP4s (the codec's look); `settings.vision_steps` steps (wall-clock cap
    `settings.vision_seconds`), then freeze it."""
    tower = model.model.vision_tower
    tower.requires_grad_(True).train()
    heads = VisionHeads(model.config.vision_hidden_size)
    rng = np.random.default_rng([settings.seed, 31])
    batches = _mixed_batches([((bank[0],), bank[1], bank_per_batch), ((corpus_pixels,), corpus_labels, corpus_per_batch)], rng)

    def loss_fn(pixels, labels):
        return vision_losses(heads(frame_vectors(model, pixels)), labels, settings.vision_pose_weight)

    params = list(tower.parameters()) + list(heads.parameters())
    steps = _timed_loop(params, batches, loss_fn, settings.vision_seconds, lr, log, "vision", settings.vision_steps)
    tower.requires_grad_(False).eval()
    return steps, heads.eval()


class AudioHeads(nn.Module):
    """Throw-away heads on the audio encoder's frames, pooled per quarter of the valid frames (order kept)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.heads = nn.ModuleDict({k: nn.Linear(4 * hidden, len(v)) for k, v in AUDITORY_FACTORS.items()})

    def forward(self, states, mel_mask):
        states = self.norm(states)
        lengths = (mel_mask.sum(-1) - 1) // 2 + 1
        pos = torch.arange(states.shape[1])[None, :]
        pooled = []
        for q in range(4):
            lo, hi = (lengths * q // 4)[:, None], (lengths * (q + 1) // 4)[:, None]
            w = ((pos >= lo) & (pos < torch.maximum(hi, lo + 1))).float()
            pooled.append((states * w[..., None]).sum(1) / w.sum(1, keepdim=True))
        pooled = torch.cat(pooled, -1)
        return {k: head(pooled) for k, head in self.heads.items()}


def mel_batch(processor, waves):
    features, _ = processor.audio_inputs(list(waves))
    return torch.as_tensor(features["input_features"]), torch.as_tensor(features["audio_attention_mask"])


def pretrain_audio(model, bank, corpus_mel, corpus_labels, settings: DemoSettings, log, *, bank_per_batch=10,
                   corpus_per_batch=6):
    """Train the audio tower + heads on fresh voices (`bank` = `render_voice_bank(...)`) mixed with audio decoded
    from the corpus MP4s; `settings.audio_steps` steps (wall-clock cap `settings.audio_seconds`), then freeze it."""
    tower = model.model.audio_tower
    tower.requires_grad_(True).train()
    heads = AudioHeads(model.config.audio_config.d_model)
    rng = np.random.default_rng([settings.seed, 32])
    batches = _mixed_batches([(bank[0], bank[1], bank_per_batch), (corpus_mel, corpus_labels, corpus_per_batch)], rng)

    def loss_fn(mel, mask, labels):
        out = heads(tower(mel).last_hidden_state, mask)
        return {k: nn.functional.cross_entropy(out[k], labels[k]) for k in AUDITORY_FACTORS}

    params = list(tower.parameters()) + list(heads.parameters())
    steps = _timed_loop(params, batches, loss_fn, settings.audio_seconds, 2e-3, log, "audio", settings.audio_steps)
    tower.requires_grad_(False).eval()
    return steps, heads.eval()


@torch.no_grad()
def probe_vision(model, heads, pixels, labels) -> dict:
    """Per-task accuracy of the pretraining heads on held-out frames (pose: mean abs error)."""
    out = heads(model.model.encode_video(pixels[:, None])[:, 0])
    result = {k: float((out[k].argmax(-1) == torch.tensor([lab[k] for lab in labels])).float().mean()) for k in VISION_TASKS}
    result["pose_mae"] = float((out["pose"] - torch.tensor([lab["pose"] for lab in labels])).abs().mean())
    return result


@torch.no_grad()
def probe_audio(model, heads, mel, labels) -> dict:
    out = heads(model.model.audio_tower(mel[0]).last_hidden_state, mel[1])
    return {k: float((out[k].argmax(-1) == torch.tensor([lab[k] for lab in labels])).float().mean())
            for k in AUDITORY_FACTORS}


# ---- wall-clock schedule for the TRL / Trainer stages ----------------------------------------------------------


def step_budget_callback(max_steps: int, seconds: float, floor: float = 0.05, log=None, name: str = ""):
    """A `TrainerCallback` that scales the learning rate by a cosine over `max_steps` optimizer steps (on top of the
    trainer's own warmup/constant schedule) and stops training there; `seconds` of wall time is only a safety stop
    for a machine far slower than planned (logged), so a run's result does not depend on how busy the CPU was."""
    from transformers import TrainerCallback

    class StepBudget(TrainerCallback):
        start = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            frac = min(1.0, state.global_step / max_steps)
            scale = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * frac))
            if optimizer is not None:
                for group in optimizer.param_groups:
                    group["lr"] = group["lr"] * scale

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= max_steps:
                control.should_training_stop = True
            elif time.perf_counter() - self.start >= seconds:
                control.should_training_stop = True
                if log:
                    log(f"{name}: wall-clock safety cap ({seconds:.0f} s) reached after {state.global_step} of "
                        f"{max_steps} steps")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if log and logs:
                shown = {k: round(v, 4) for k, v in logs.items() if isinstance(v, float)}
                log(f"{name} step {state.global_step}: {json.dumps(shown)}")

    return StepBudget()


# ---- feature cache ----------------------------------------------------------------------------------------------


@torch.no_grad()
def prefill_feature_cache(model, processor, dataset_dir, split: str, records, pixels, mel, *, batch_size: int = 64):
    """Fill the project's feature cache (`processing.training.feature_cache`, same key, folder and format that
    `cache_media_features` would use, so the alignment / SFT / DPO stages find it complete) from media this script
    has already decoded: `pixels` (n, F, 3, S, S) = `processor.video_pixels(sample_frames(...))` and `mel` =
    `processor.audio_inputs(load_audio(...))` of each record, encoded in batches (the project's builder decodes and
    encodes audio one clip at a time: ~8 clips/s here, 150 s for this corpus)."""
    from processing.training.feature_cache import _features_for, build_cache, default_cache_dir, media_cache_key

    index = {row_id: i for i, row_id in enumerate(records["id"])}
    encoders = model.model
    config = model.config
    out = {}
    for kind in ("video", "audio"):
        key = media_cache_key(model, processor, kind)

        def compute(batch, kind=kind):
            rows = torch.tensor([index[i] for i in batch["id"]])
            if kind == "video":
                feats = encoders.encode_video(pixels[rows].float()).float()
                return {"id": batch["id"], "video_features": feats.numpy()}
            feats, mask = encoders.encode_audio(None, mel[0][rows], mel[1][rows])
            lengths = mask.sum(-1).tolist()
            return {"id": batch["id"], "audio_features": [f[:n].float().numpy() for f, n in zip(feats, lengths)],
                    "audio_length": lengths}

        width = config.vision_hidden_size if kind == "video" else config.audio_hidden_size
        columns = [c for c in ("id", "video", "audio") if c in records.column_names]
        out[kind] = build_cache(records.select_columns(columns), default_cache_dir(dataset_dir, key), split, key,
                                compute, _features_for(key, width, config.num_frames), batch_size=batch_size,
                                shard_size=256, progress=False)
    return out
