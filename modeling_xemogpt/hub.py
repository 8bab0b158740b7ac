"""Saving a model folder atomically: weights (safetensors), processor, remote code, extra files (a card).

The remote code and `auto_map` come from `save_pretrained` itself (the classes are registered with
`register_for_auto_class`), as in every Trainer checkpoint; this adds only the all-or-nothing folder swap.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_staging(out_dir, suffix: str = "") -> list[Path]:
    """Remove the staging folders `staging_dir(out_dir, suffix)` left behind by processes that no longer run (a
    SIGKILL, a power cut). Returns what was removed."""
    out_dir = Path(out_dir)
    removed = []
    for folder in out_dir.parent.glob(f".{out_dir.name}.*{suffix}"):
        pid = folder.name[len(out_dir.name) + 2:].split(".", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def staging_dir(out_dir, suffix: str = "") -> Path:
    """A hidden temporary folder beside `out_dir` (`.<name>.<pid>.<random><suffix>`), to be renamed to it when
    complete; those of processes that died first are removed. `tempfile.mkdtemp` makes it mode 0700; it gets the
    mode a plain `mkdir` would (0777 less the umask), so the published folder is readable as any other the user
    creates."""
    out_dir = Path(out_dir)
    if out_dir.parent.is_dir():
        remove_stale_staging(out_dir, suffix)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.{os.getpid()}.", suffix=suffix, dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


def save_pretrained_with_code(model, processor, out_dir, *, max_shard_size="2GB", overwrite=True, extra_files=None,
                              before_publish=None):
    """Save `model` + `processor` + remote code into `out_dir` atomically (a temp folder renamed at the end).

    `extra_files` maps file names to text (e.g. a README model card) written into the folder; `before_publish(tmp)`
    may add more to the staged folder before it is renamed.
    Returns the folder as a `Path`.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} exists; pass overwrite=True to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(out_dir)
    try:
        model.save_pretrained(tmp, max_shard_size=max_shard_size)
        if processor is not None:
            processor.save_pretrained(tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
        if before_publish is not None:
            before_publish(tmp)
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


def remote_code_files() -> list[Path]:
    """The files `save_pretrained` copies into a model folder: the modeling and processing modules and everything
    they import relatively."""
    from transformers.dynamic_module_utils import get_relative_import_files

    here = Path(__file__).resolve().parent
    files = set()
    for name in ("modeling_xemogpt.py", "processing_xemogpt.py"):
        files.add(here / name)
        files.update(Path(f) for f in get_relative_import_files(str(here / name)))
    return sorted(files)


def refresh_remote_code(folder) -> None:
    """Bring a saved folder's remote code, config (`auto_map`, `custom_pipelines`), processor files and chat
    template (rebuilt from its prompt style and instruction) up to date with this package, without touching its
    weights."""
    from transformers import AutoConfig, AutoProcessor

    from .processing_xemogpt import build_chat_template

    folder = Path(folder)
    AutoConfig.from_pretrained(folder).save_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    processor.chat_template = build_chat_template(processor.default_instruction, processor.prompt_style,
                                                  processor.original_prompt)
    processor.save_pretrained(folder)
    for path in remote_code_files():
        shutil.copyfile(path, folder / path.name)


if __name__ == "__main__":  # python -m modeling_xemogpt.hub FOLDER
    import sys

    import modeling_xemogpt  # noqa: F401  (registers the classes)

    for target in sys.argv[1:]:
        refresh_remote_code(target)
        print(f"refreshed {target}")
