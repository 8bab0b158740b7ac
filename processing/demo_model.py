"""Training the bundled demo model `xemogpt-synth-tiny` on EmoCue-Synth, end to end on a CPU.

Stages (EMOCUE_SYNTH.md, "What we measured about learning it on this CPU"):
  0. a byte-level BPE on the corpus' texts;
  1. encoder pretraining: the tiny CLIP-vision encoder on single rendered frames (per-frame mouth / brows / eyes /
     tears classes and the head pose), the tiny Whisper-style encoder on rendered voices (pitch, contour,
     loudness, tempo, tremor, event), each with small heads that are thrown away; then both are frozen;
  2. feature cache: training clips rendered in memory the way `load_clip` samples an MP4 (16 frames at the
     segment centres, JPEG-compressed to look like the decoded H.264), preprocessed by the model's own
     processor and encoded once by the frozen encoders;
  3. stage 1 (VECB + video projector + LLM on video captions), stage 2 (AECB + audio projector + LLM on audio
     captions), SFT (explanations from video + audio + subtitle), a short DPO against the corpus' `rejected`.
"""

from __future__ import annotations

import copy
import io
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from .synth.audio import SAMPLING_RATE, render_audio
from .synth.corpus import FPS, FRAME_SIZE, synth_sample
from .synth.factors import (
    AUDITORY_FACTORS, BROWS, EYES, MOUTHS, sample_factors, sample_rng,
)
from .synth.video import expression_intensity, head_pose, render_frames

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
VIDEO_INSTRUCTION = "Describe the person's face and head movements in the video."
AUDIO_INSTRUCTION = "Describe the voice in the audio."
POSE_KEYS = ("dx", "dy", "fdx", "fdy", "turn")


@dataclass
class DemoSettings:
    """Everything that sets the demo model's size and training budget (seconds are wall-clock caps)."""

    seed: int = 0
    num_frames: int = 16
    image_size: int = 64
    max_audio_seconds: float = 8.0
    audio_token_stride: int = 10
    vocab_size: int = 1024
    text_hidden: int = 128
    text_layers: int = 3
    vision_seconds: float = 90.0
    audio_seconds: float = 90.0
    num_clips: int = 600
    stage1_steps: int = 100
    stage2_steps: int = 100
    sft_steps: int = 500
    dpo_steps: int = 6
    batch_size: int = 16
    stage_seconds: tuple[float, float, float] = (30.0, 30.0, 200.0)
    jpeg_quality: tuple[int, int] = (35, 90)


# ---- model -----------------------------------------------------------------------------------------------------


def build_config(settings: DemoSettings, tokenizer):
    from modeling_xemogpt import XEmoGPTConfig

    vision = dict(model_type="clip_vision_model", hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                  num_attention_heads=4, image_size=settings.image_size, patch_size=8, attention_dropout=0.0)
    audio = dict(model_type="whisper", d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=256,
                 num_mel_bins=80, max_source_positions=int(settings.max_audio_seconds * 50), decoder_layers=1,
                 decoder_attention_heads=4, decoder_ffn_dim=64, vocab_size=64, dropout=0.0, attention_dropout=0.0,
                 activation_dropout=0.0, encoder_layerdrop=0.0)
    text = dict(model_type="qwen3", vocab_size=len(tokenizer), hidden_size=settings.text_hidden,
                intermediate_size=3 * settings.text_hidden, num_hidden_layers=settings.text_layers,
                num_attention_heads=4, num_key_value_heads=2, head_dim=32, tie_word_embeddings=True,
                max_position_embeddings=1024, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    return XEmoGPTConfig(
        vision_config=vision, audio_config=audio, text_config=text, num_frames=settings.num_frames,
        max_audio_seconds=settings.max_audio_seconds, audio_token_stride=settings.audio_token_stride,
        video_token_id=tokenizer.convert_tokens_to_ids("<|video|>"),
        audio_token_id=tokenizer.convert_tokens_to_ids("<|audio|>"),
    )


def corpus_texts(num: int, seed: int = 0) -> list[str]:
    """Texts of `num` training records (explanations, captions, subtitles, rejected) plus the fixed prompts."""
    from modeling_xemogpt.processing_xemogpt import DEFAULT_INSTRUCTION

    texts = [DEFAULT_INSTRUCTION, VIDEO_INSTRUCTION, AUDIO_INSTRUCTION, "Subtitle: (none)", "Video: Audio: user assistant"]
    for i in range(num):
        _, record = synth_sample(seed, "train", i)
        texts += [record["explanation"], record["video_caption"], record["audio_caption"], record["subtitle"]]
        if record.get("rejected"):
            texts.append(record["rejected"])
    return texts


# ---- rendering like the real pipeline --------------------------------------------------------------------------


def sample_timestamps(duration: float, num_frames: int, fps: int = FPS) -> np.ndarray:
    """The frames `load_clip` picks from an MP4 written at `fps`: the one playing at each segment centre."""
    centres = (np.arange(num_frames) + 0.5) * duration / num_frames
    last = max(1, int(round(duration * fps))) - 1
    return np.minimum(np.floor(centres * fps + 1e-9), last) / fps


def to_pixels(frames: np.ndarray, image_size: int, rng: np.random.Generator | None = None,
              jpeg_quality=(35, 90)) -> np.ndarray:
    """(F, H, W, 3) uint8 -> (F, 3, S, S) float32 as the CLIP image processor makes them (bicubic resize,
    rescale, normalise); with `rng`, each frame is first JPEG-compressed at a random quality (codec look)."""
    from PIL import Image

    out = np.empty((len(frames), image_size, image_size, 3), dtype=np.float32)
    for i, frame in enumerate(frames):
        image = Image.fromarray(frame)
        if rng is not None and rng.random() < 0.8:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=int(rng.integers(*jpeg_quality)))
            image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
        out[i] = np.asarray(image.resize((image_size, image_size), Image.BICUBIC), dtype=np.float32)
    out = (out / 255.0 - CLIP_MEAN) / CLIP_STD
    return out.transpose(0, 3, 1, 2)


def frame_labels(f, t: float) -> dict:
    e = float(expression_intensity(f, np.array([t]))[0])
    on = e >= 0.5
    pose = head_pose(f, np.array([t]))
    return {
        "mouth": MOUTHS.index(f.mouth) if on else 0, "brows": BROWS.index(f.brows) if on else 0,
        "eyes": EYES.index(f.eyes) if on else 0, "tears": int(f.tears and on),
        "pose": [8.0 * float(pose[k][0]) for k in POSE_KEYS],
    }


class _FrameStream(torch.utils.data.IterableDataset):
    """Fresh single frames (rendered at the clip size, codec-augmented, resized) with per-frame labels."""

    def __init__(self, seed, image_size, batch_size, jpeg_quality):
        self.seed, self.image_size, self.batch_size, self.jpeg_quality = seed, image_size, batch_size, jpeg_quality

    def __iter__(self):
        rng = np.random.default_rng([self.seed, 11])
        while True:
            pixels, labels = [], []
            for _ in range(self.batch_size):
                f = sample_factors(rng, "train")
                t = float(sample_timestamps(f.duration, 16)[rng.integers(16)])
                pixels.append(to_pixels(render_frames(f, [t], size=FRAME_SIZE), self.image_size, rng, self.jpeg_quality)[0])
                labels.append(frame_labels(f, t))
            yield torch.from_numpy(np.stack(pixels)), {
                k: torch.tensor([lab[k] for lab in labels]) for k in labels[0]
            }


class _VoiceStream(torch.utils.data.IterableDataset):
    """Fresh rendered voices (cut to the audio window) as log-mel features with their auditory labels."""

    def __init__(self, seed, processor, batch_size, max_seconds):
        self.seed, self.processor, self.batch_size, self.max_seconds = seed, processor, batch_size, max_seconds

    def __iter__(self):
        rng = np.random.default_rng([self.seed, 12])
        while True:
            waves, labels = [], []
            for _ in range(self.batch_size):
                f = sample_factors(rng, "train")
                if f.duration > self.max_seconds:  # only the first max_seconds are heard: render just those
                    f = replace(f, duration=round(float(rng.uniform(max(2.0, self.max_seconds - 2), self.max_seconds)), 1))
                waves.append(render_audio(f))
                labels.append({k: vocab.index(getattr(f, k)) for k, vocab in AUDITORY_FACTORS.items()})
            features, _ = self.processor._audio_inputs(waves)
            yield (features["input_features"], torch.as_tensor(features["audio_attention_mask"])), {
                k: torch.tensor([lab[k] for lab in labels]) for k in labels[0]
            }


def _timed_training(module, heads, stream, loss_fn, seconds, lr, log, name, workers=1):
    params = [p for p in list(module.parameters()) + list(heads.parameters()) if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    loader = stream if workers == 0 else torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers)
    start, step, running = time.perf_counter(), 0, {}
    module.train()
    for inputs, labels in loader:
        elapsed = time.perf_counter() - start
        if elapsed > seconds:
            break
        frac = elapsed / seconds
        for group in optimizer.param_groups:  # warmup then cosine by wall-clock fraction
            group["lr"] = lr * min(1.0, (step + 1) / 30) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        losses = loss_fn(inputs, labels)
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for k, v in losses.items():
            running[k] = 0.95 * running.get(k, v.item()) + 0.05 * v.item()
        step += 1
        if step % 25 == 0:
            log(f"{name} step {step} ({elapsed:.0f}s): " + " ".join(f"{k}={v:.3f}" for k, v in running.items()))
    module.eval()
    return step


class _ClipFrames(torch.utils.data.IterableDataset):
    """Random batches of single frames (with per-frame labels) from the rendered training clips."""

    def __init__(self, clips, batch_size, seed):
        self.pixels = np.concatenate([c[1] for c in clips])
        self.labels = [lab for c in clips for lab in c[3]]
        self.batch_size, self.seed = batch_size, seed

    def __iter__(self):
        rng = np.random.default_rng([self.seed, 11])
        while True:
            rows = rng.integers(len(self.pixels), size=self.batch_size)
            pixels = torch.from_numpy(self.pixels[rows].astype(np.float32))
            flip = torch.from_numpy(rng.random(self.batch_size) < 0.0)
            yield pixels, {k: torch.tensor([self.labels[i][k] for i in rows]) for k in self.labels[0]}


class _ClipVoices(torch.utils.data.IterableDataset):
    """Random batches of log-mel features (computed once) with auditory labels from the rendered clips."""

    def __init__(self, features, mask, clips, batch_size, seed):
        self.features, self.mask, self.batch_size, self.seed = features, mask, batch_size, seed
        self.labels = [c[4] for c in clips]

    def __iter__(self):
        rng = np.random.default_rng([self.seed, 12])
        while True:
            rows = rng.integers(len(self.labels), size=self.batch_size)
            yield (self.features[rows], self.mask[rows]), {
                k: torch.tensor([self.labels[i][k] for i in rows]) for k in self.labels[0]}


def pretrain_vision(model, settings, log, clips=None):
    """Per-frame heads on the CLS vector (before post-layernorm), the vector the cache stores."""
    tower = model.model.vision_tower
    tower.requires_grad_(True)
    hidden = model.config.vision_config.hidden_size
    heads = nn.ModuleDict({"mouth": nn.Linear(hidden, len(MOUTHS)), "brows": nn.Linear(hidden, len(BROWS)),
                           "eyes": nn.Linear(hidden, len(EYES)), "tears": nn.Linear(hidden, 2),
                           "pose": nn.Linear(hidden, len(POSE_KEYS))})
    norm = nn.LayerNorm(hidden)
    heads["norm"] = norm

    def loss_fn(pixels, labels):
        cls = norm(tower(pixel_values=pixels).last_hidden_state[:, 0])
        losses = {k: nn.functional.cross_entropy(heads[k](cls), labels[k]) for k in ("mouth", "brows", "eyes", "tears")}
        losses["pose"] = nn.functional.mse_loss(heads["pose"](cls), labels["pose"].float())
        return losses

    stream = _ClipFrames(clips, 64, settings.seed)
    steps = _timed_training(tower, heads, stream, loss_fn, settings.vision_seconds, 2e-3, log, "vision", workers=0)
    tower.requires_grad_(False)
    return steps


def pretrain_audio(model, processor, settings, log, clips=None, mel=None):
    """Heads on the Whisper-style encoder's frames, pooled per quarter of the valid frames (order kept)."""
    tower = model.model.audio_tower
    tower.requires_grad_(True)
    hidden = model.config.audio_config.d_model
    heads = nn.ModuleDict({k: nn.Linear(4 * hidden, len(v)) for k, v in AUDITORY_FACTORS.items()})
    heads["norm"] = nn.LayerNorm(hidden)

    def loss_fn(inputs, labels):
        features, mel_mask = inputs
        states = heads["norm"](tower(features).last_hidden_state)
        lengths = (mel_mask.sum(-1) - 1) // 2 + 1
        pooled = []
        for q in range(4):
            pos = torch.arange(states.shape[1])[None, :]
            lo, hi = (lengths * q // 4)[:, None], (lengths * (q + 1) // 4).clamp(min=1)[:, None]
            w = ((pos >= lo) & (pos < torch.maximum(hi, lo + 1))).float()
            pooled.append((states * w[..., None]).sum(1) / w.sum(1, keepdim=True))
        pooled = torch.cat(pooled, -1)
        return {k: nn.functional.cross_entropy(heads[k](pooled), labels[k]) for k in AUDITORY_FACTORS}

    stream = _ClipVoices(mel[0], mel[1], clips, 32, settings.seed)
    steps = _timed_training(tower, heads, stream, loss_fn, settings.audio_seconds, 2e-3, log, "audio", workers=0)
    tower.requires_grad_(False)
    return steps


# ---- feature cache ---------------------------------------------------------------------------------------------


def render_training_clip(args):
    """One training clip as the real pipeline would read it: (record, pixels (F, 3, S, S), audio, per-frame labels).

    Frames are drawn directly at the model's image size (drawing at the 112-px clip size and resizing costs 4x
    more), then blurred and JPEG-compressed at random strengths to look like a resized, decoded H.264 frame."""
    from PIL import ImageFilter, Image

    from .synth.record import rejected_explanation

    seed, index, num_frames, max_seconds, image_size, jpeg_quality = args
    factors, record = synth_sample(seed, "train", index)
    record["rejected"] = rejected_explanation(record, seed)
    times = sample_timestamps(factors.duration, num_frames)
    rng = np.random.default_rng([seed, 13, index])
    frames = render_frames(factors, times, size=image_size)
    radius = float(rng.uniform(0.0, 0.8))
    if radius > 0.2:
        frames = np.stack([np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(radius))) for f in frames])
    pixels = to_pixels(frames, image_size, rng, jpeg_quality)
    audio = render_audio(factors)[: int(max_seconds * SAMPLING_RATE)]
    labels = [frame_labels(factors, float(t)) for t in times]
    auditory = {k: vocab.index(getattr(factors, k)) for k, vocab in AUDITORY_FACTORS.items()}
    keep = {k: record[k] for k in ("id", "subtitle", "explanation", "video_caption", "audio_caption", "rejected", "emotion")}
    return keep, pixels.astype(np.float16), audio, labels, auditory


def render_clips(settings, num_workers=3):
    args = [(settings.seed, i, settings.num_frames, settings.max_audio_seconds, settings.image_size,
             settings.jpeg_quality) for i in range(settings.num_clips)]
    with ProcessPoolExecutor(num_workers) as pool:
        return list(pool.map(render_training_clip, args, chunksize=8))


@torch.no_grad()
def mel_features(processor, clips, batch_size=64):
    """Log-mel features (n, mels, frames) and frame masks (n, frames) of the clips' audio, via the processor."""
    feats, masks = [], []
    for start in range(0, len(clips), batch_size):
        features, _ = processor._audio_inputs([c[2] for c in clips[start:start + batch_size]])
        feats.append(torch.as_tensor(features["input_features"]))
        masks.append(torch.as_tensor(features["audio_attention_mask"]))
    return torch.cat(feats), torch.cat(masks)


@torch.no_grad()
def encode_clips(model, processor, clips, mel, batch_size=64):
    """Frozen-encoder outputs per clip: video (F, Dv) and audio (T_valid, Da) (the feature cache)."""
    video, audio = [], []
    for start in range(0, len(clips), batch_size):
        chunk = clips[start:start + batch_size]
        pixels = torch.from_numpy(np.stack([c[1] for c in chunk]).astype(np.float32))
        video.extend(model.model.encode_video(pixels))
        hidden, mask = model.model.encode_audio(
            input_features=mel[0][start:start + batch_size], audio_attention_mask=mel[1][start:start + batch_size]
        )
        audio.extend(h[m] for h, m in zip(hidden, mask))
    return video, audio


# ---- language stages -------------------------------------------------------------------------------------------


def encode_example(processor, prompt: str, answer: str, num_audio_tokens: int):
    """(input_ids, labels) for one example: prompt tokens are masked out of the labels."""
    expanded = processor._expand([prompt], [num_audio_tokens] if processor.audio_token in prompt else [], None)[0]
    tok = processor.tokenizer
    prompt_ids = tok(expanded, add_special_tokens=False)["input_ids"]
    answer_ids = tok(answer + processor.answer_suffix(), add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


def collate(examples, pad_id, video, audio):
    """Right-padded batch with cached features; `examples` hold (ids, labels, clip index, has_video, has_audio)."""
    width = max(len(e[0]) for e in examples)
    ids = torch.full((len(examples), width), pad_id)
    labels = torch.full((len(examples), width), -100)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (x, y, *_rest) in enumerate(examples):
        ids[row, :len(x)], labels[row, :len(y)], attention[row, :len(x)] = torch.tensor(x), torch.tensor(y), 1
    batch = {"input_ids": ids, "attention_mask": attention, "labels": labels}
    v = [video[e[2]] for e in examples if e[3]]
    if v:
        batch["video_features"] = torch.stack(v)
    a = [audio[e[2]] for e in examples if e[4]]
    if a:
        longest = max(len(t) for t in a)
        feats = torch.zeros(len(a), longest, a[0].shape[-1])
        mask = torch.zeros(len(a), longest, dtype=torch.bool)
        for i, t in enumerate(a):
            feats[i, :len(t)], mask[i, :len(t)] = t, True
        batch["audio_features"], batch["audio_features_mask"] = feats, mask
    return batch


def build_examples(processor, clips, audio, kind):
    out = []
    for index, (record, *_rest) in enumerate(clips):
        n_audio = math.ceil(len(audio[index]) / processor.audio_token_stride)
        if kind == "video":
            prompt = processor.build_prompt("", True, False, VIDEO_INSTRUCTION)
            x, y = encode_example(processor, prompt, record["video_caption"], 0)
            out.append((x, y, index, True, False))
        elif kind == "audio":
            prompt = processor.build_prompt("", False, True, AUDIO_INSTRUCTION)
            x, y = encode_example(processor, prompt, record["audio_caption"], n_audio)
            out.append((x, y, index, False, True))
        else:
            prompt = processor.build_prompt(record["subtitle"], True, True)
            x, y = encode_example(processor, prompt, record["explanation"], n_audio)
            out.append((x, y, index, True, True))
    return out


def train_lm(model, examples, video, audio, *, steps, lr, batch_size, trainable, log, name, seed=0, seconds=None):
    """Next-token training on cached features; only parameters whose name starts with one of `trainable`."""
    for pname, p in model.named_parameters():
        p.requires_grad_(any(pname.startswith(t) for t in trainable))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    rng = np.random.default_rng([seed, 21])
    pad = model.config.text_config.pad_token_id
    model.train()
    start, running = time.perf_counter(), None
    for step in range(steps):
        elapsed = time.perf_counter() - start
        frac = max(step / steps, elapsed / seconds if seconds else 0.0)
        if frac >= 1.0:
            log(f"{name}: time cap reached after {step} steps")
            break
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 20) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        batch = collate([examples[i] for i in rng.integers(len(examples), size=batch_size)], pad, video, audio)
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if (step + 1) % 10 == 0 or step + 1 == steps:
            log(f"{name} step {step + 1}/{steps} ({time.perf_counter() - start:.0f}s): loss={running:.3f}")
    model.eval()
    return running


def _answer_logprob(model, batch):
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    logp = torch.log_softmax(logits.float(), -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logp * mask).sum(-1)


def train_dpo(model, processor, clips, video, audio, *, steps, lr, batch_size, beta, log, seed=0):
    """Sigmoid DPO (Rafailov et al.) on (explanation, rejected) pairs with the SFT model as the frozen reference,
    plus the chosen answers' NLL (weight 1) so the explanations stay exact."""
    pairs = []
    for index, (record, *_rest) in enumerate(clips):
        if not record.get("rejected"):
            continue
        prompt = processor.build_prompt(record["subtitle"], True, True)
        n_audio = math.ceil(len(audio[index]) / processor.audio_token_stride)
        chosen = encode_example(processor, prompt, record["explanation"], n_audio)
        rejected = encode_example(processor, prompt, record["rejected"], n_audio)
        pairs.append(((*chosen, index, True, True), (*rejected, index, True, True)))
    reference = copy.deepcopy(model).eval().requires_grad_(False)
    trainable = ("model.video_bridge", "model.audio_bridge", "model.video_projector", "model.audio_projector",
                 "model.language_model", "lm_head")
    for pname, p in model.named_parameters():
        p.requires_grad_(any(pname.startswith(t) for t in trainable))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    rng = np.random.default_rng([seed, 22])
    pad = model.config.text_config.pad_token_id
    model.train()
    for step in range(steps):
        chosen_rows = rng.integers(len(pairs), size=batch_size)
        examples = [pairs[i][0] for i in chosen_rows] + [pairs[i][1] for i in chosen_rows]
        batch = collate(examples, pad, video, audio)
        logp = _answer_logprob(model, batch)
        with torch.no_grad():
            ref = _answer_logprob(reference, batch)
        margin = beta * ((logp[:batch_size] - ref[:batch_size]) - (logp[batch_size:] - ref[batch_size:]))
        n_tokens = (batch["labels"][:batch_size] != -100).sum()
        loss = -nn.functional.logsigmoid(margin).mean() - logp[:batch_size].sum() / n_tokens
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        if (step + 1) % 2 == 0:
            log(f"dpo step {step + 1}/{steps}: loss={loss.item():.3f} reward margin={margin.mean().item() / beta:.2f}")
    model.eval()
    return len(pairs)
