"""A Hub user's environment, offline (../shared/design/HUB_USER_JOURNEY.md, "How to test it offline").

* `clean_python()`: a virtual environment with only torch, transformers and the model card's `pip install` line,
  pinned by constraints.txt; built once and cached under `.cache/` by the package set (a file lock keeps two test
  workers from building it twice).
* `hub_cache(root, {"org/name": folder})`: a private HF cache in which that Hub id, given to `from_pretrained`,
  resolves the folder exactly as after a download (refs/main + a 40-hex snapshot).
* `run_clean(script, ...)`: runs a script with that Python, outside the repository, offline, where importing our
  packages is impossible.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import textwrap
import venv
from pathlib import Path

from processing.hub.model_card import PIP_INSTALL

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"


def card_packages() -> list[str]:
    """The requirements of the model card's `pip install` line."""
    words = shlex.split(PIP_INSTALL)
    assert words[:2] == ["pip", "install"], PIP_INSTALL
    return words[2:]


def clean_python(packages: list[str] | None = None) -> Path:
    """The Python of a cached clean environment holding `packages` (default: torch, transformers and the model
    card's `pip install` line), built on first use."""
    packages = sorted(set(packages) if packages is not None else {"torch", "transformers", *card_packages()})
    key = hashlib.sha256((json.dumps(packages) + CONSTRAINTS.read_text()).encode()).hexdigest()[:12]
    folder = ROOT / ".cache" / f"clean-venv-{key}"
    python = folder / "bin" / "python"
    ready = folder / ".ready"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"clean-venv-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            shutil.rmtree(folder, ignore_errors=True)
            venv.EnvBuilder(with_pip=True, clear=True).create(folder)
            env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
            env.pop("PYTHONPATH", None)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), *packages],
                           check=True, env=env, cwd=folder.parent, timeout=1200)
            ready.write_text(json.dumps(packages))
    return python


def hub_cache(root: Path, repos: dict[str, Path], kind: str = "models") -> Path:
    """An HF_HOME under `root` holding each folder as the Hub repo `org/name` (copied into a snapshot)."""
    home = root / "hf_home"
    for repo_id, folder in repos.items():
        repo = home / "hub" / f"{kind}--{repo_id.replace('/', '--')}"
        commit = hashlib.sha1(repo_id.encode()).hexdigest()  # 40 hex characters, as remote-code lookup expects
        shutil.copytree(folder, repo / "snapshots" / commit, dirs_exist_ok=True)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
    return home


def run_clean(script: str, cwd: Path, hf_home: Path | None = None, timeout: int = 600,
              packages: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run `script` with the Python of the clean environment of `packages` (see `clean_python`) in `cwd` (outside
    the repository), offline."""
    assert ROOT not in Path(cwd).resolve().parents, "run outside the repository"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", TOKENIZERS_PARALLELISM="false",
               PYTHONUNBUFFERED="1", HF_MODULES_CACHE=str(Path(cwd) / "hf_modules"))
    if hf_home is not None:
        env["HF_HOME"] = str(hf_home)
    guard = "import sys\nsys.modules['modeling_xemogpt'] = sys.modules['processing'] = None  # not importable here\n"
    return subprocess.run([str(clean_python(packages)), "-c", guard + textwrap.dedent(script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def explain_in_clean_env(folder, clip, cwd: Path) -> dict:
    """Load a saved model folder the Hub user's way (Auto classes, trust_remote_code) in the clean environment and
    generate 3 tokens for `clip` through the chat template: {"module": the model class's module, "new_tokens": n}."""
    script = f"""
        import json
        from transformers import AutoModel, AutoProcessor
        model = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True)
        proc = AutoProcessor.from_pretrained({str(folder)!r}, trust_remote_code=True)
        conv = [{{"role": "user", "content": [{{"type": "video", "path": {str(clip)!r}}}, {{"type": "text", "text": "hi"}}]}}]
        inputs = proc.apply_chat_template(conv, add_generation_prompt=True, tokenize=True, return_dict=True,
                                          return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
        print(json.dumps({{"module": type(model).__module__, "new_tokens": out.shape[1] - inputs["input_ids"].shape[1]}}))
    """
    return result_json(run_clean(script, cwd))


def free_port() -> int:
    """A free TCP port on this machine, for a test's torchrun / accelerate rendezvous (two test workers launching
    on the default port 29500 at once would block each other)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_group(cmd, timeout: int, **kwargs) -> subprocess.CompletedProcess:
    """`subprocess.run` whose whole process tree is killed on timeout (torchrun's workers included, which run in
    sessions of their own and would otherwise keep the pipes open and the test waiting)."""
    import psutil

    with subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          **kwargs) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            parent = psutil.Process(process.pid)
            for child in [*parent.children(recursive=True), parent]:
                try:
                    child.kill()
                except psutil.NoSuchProcess:
                    pass
            stdout, stderr = process.communicate(timeout=30)
            stderr += f"\n[killed after {timeout} s]"
        return subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)


def result_json(done: subprocess.CompletedProcess) -> dict:
    """The last stdout line of a script that ends with `print(json.dumps(...))`, or a failure with its stderr."""
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"rc={done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads(lines[-1])


__all__ = ["card_packages", "clean_python", "explain_in_clean_env", "free_port", "hub_cache", "result_json", "run_clean", "run_group"]
