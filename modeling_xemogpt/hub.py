"""Saving a model folder that loads anywhere: weights (safetensors), processor, and the remote code with `auto_map`.

`save_pretrained_with_code` writes a Hub-ready folder: `AutoConfig`, `AutoModel`, `AutoModelForImageTextToText` and
`AutoProcessor` resolve through `auto_map` with `trust_remote_code=True`, without this package installed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

REMOTE_CODE_FILES = ("configuration_xemogpt.py", "modeling_xemogpt.py", "processing_xemogpt.py")
MODEL_AUTO_MAP = {
    "AutoConfig": "configuration_xemogpt.XEmoGPTConfig",
    "AutoModel": "modeling_xemogpt.XEmoGPTForConditionalGeneration",
    "AutoModelForImageTextToText": "modeling_xemogpt.XEmoGPTForConditionalGeneration",
    "AutoProcessor": "processing_xemogpt.XEmoGPTProcessor",
}
PROCESSOR_AUTO_MAP = {"AutoProcessor": "processing_xemogpt.XEmoGPTProcessor"}


def _patch_json(path: Path, update: dict) -> None:
    data = json.loads(path.read_text())
    data.update(update)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_pretrained_with_code(model, processor, out_dir, *, max_shard_size="2GB", overwrite=True, extra_files=None):
    """Save `model` + `processor` + remote code into `out_dir` atomically (a temp folder renamed at the end).

    `extra_files` maps file names to text (e.g. a README model card) written into the folder.
    Returns the folder as a `Path`.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} exists; pass overwrite=True to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp, max_shard_size=max_shard_size)
        if processor is not None:
            processor.save_pretrained(tmp)
            _patch_json(tmp / "processor_config.json", {"auto_map": PROCESSOR_AUTO_MAP, "processor_class": "XEmoGPTProcessor"})
        here = Path(__file__).resolve().parent
        for name in REMOTE_CODE_FILES:
            shutil.copyfile(here / name, tmp / name)
        _patch_json(tmp / "config.json", {"auto_map": MODEL_AUTO_MAP})
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
        if out_dir.exists():
            backup = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(out_dir, backup)
            os.replace(tmp, out_dir)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
