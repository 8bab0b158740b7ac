"""How much frame order do the frozen frame vectors carry? A reference order classifier next to the VECB's.

    python examples/scripts/probe_frame_order.py --dataset DATA [--train_split train --eval_split test]

Stage 1's frame-order task (`xemogpt train align-video`) asks the VECB whether a clip's 16 frame vectors come in
their order or shuffled. When its held-out accuracy is low, is that the bridge or the features? This script trains
a small 1-D convolution (two kernel-3 layers + max over time: it compares neighbouring frames, nothing else) on the
same cached frame vectors (`<dataset>/features/video-*`, built by any stage with `use_feature_cache`), the same task
(each clip once in order, once shuffled) and the same held-out split, and reports accuracy per kind of motion as
`evaluate_alignment` does (EmoCue-Synth rows: periodic = nod / shake, monotone = turn away / an expression appearing
or fading, static = nothing moves). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from modeling_xemogpt.alignment_xemogpt import permute_frames, random_permutations  # noqa: E402
from processing.data.emocue import load_emocue  # noqa: E402
from processing.training.align_trainer import order_accuracy_by_kind  # noqa: E402
from processing.training.feature_cache import find_caches, load_cached_split  # noqa: E402


def cached_frames(dataset: str, split: str, cache: str | None):
    """(n, F, Dv) cached frame vectors of a split in the dataset's row order, and its records."""
    records = load_emocue(dataset, split=split)
    caches = find_caches(cache or dataset, kind="video")
    if not caches:
        raise SystemExit(f"no video feature cache under {cache or dataset}: run a stage with use_feature_cache first")
    data = load_cached_split(caches[0], split, records=records).with_format("numpy")
    return torch.from_numpy(np.stack(data["video_features"])).float(), records


def order_classifier(width: int) -> nn.Module:
    return nn.Sequential(nn.Conv1d(width, width, 3, padding=1), nn.GELU(), nn.Conv1d(width, width, 3, padding=1),
                         nn.GELU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(width, 2))


def order_batch(frames: torch.Tensor, generator=None):
    """Each clip in order (label 0) and shuffled (label 1), as (2n, Dv, F) for Conv1d."""
    shuffled = permute_frames(frames, random_permutations(len(frames), frames.shape[1], generator=generator))
    labels = torch.cat([torch.zeros(len(frames)), torch.ones(len(frames))]).long()
    return torch.cat([frames, shuffled]).transpose(1, 2), labels


def train_probe(frames: torch.Tensor, steps: int = 1000, batch_size: int = 64, seed: int = 0) -> nn.Module:
    """Fit the reference classifier on (n, F, Dv) frame vectors (fresh shuffles every step)."""
    torch.manual_seed(seed)
    net = order_classifier(frames.shape[-1])
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    for _ in range(steps):
        inputs, labels = order_batch(frames[torch.randint(len(frames), (batch_size,))])
        loss = nn.functional.cross_entropy(net(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


@torch.no_grad()
def clip_accuracy(net: nn.Module, frames: torch.Tensor, seed: int = 0) -> np.ndarray:
    """Per clip: the mean of "in order" judged right and "shuffled" judged right (one fixed shuffle per clip)."""
    inputs, labels = order_batch(frames, torch.Generator().manual_seed(seed))
    return (net(inputs).argmax(-1) == labels).float().view(2, -1).mean(0).numpy()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="EmoCue folder whose video features are cached")
    parser.add_argument("--feature_cache", default=None, help="cache folder (default <dataset>/features)")
    parser.add_argument("--train_split", default="train")
    parser.add_argument("--eval_split", default="test")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train, _ = cached_frames(args.dataset, args.train_split, args.feature_cache)
    held_out, records = cached_frames(args.dataset, args.eval_split, args.feature_cache)
    net = train_probe(train, args.steps, args.batch_size, args.seed)
    correct = clip_accuracy(net, held_out, args.seed)
    result = {"probe": "conv1d-k3x2-maxpool", "steps": args.steps, "train_clips": len(train),
              "num_clips": len(held_out), **order_accuracy_by_kind(torch.from_numpy(correct), records)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
