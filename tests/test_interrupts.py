"""Interrupted runs: SIGINT, SIGTERM and SIGKILL during `xemogpt synth` and `xemogpt predict` leave no worker
process behind, publish nothing half-made (a staging folder left by SIGKILL is removed by the next run), and the
next run gives the same output as a run that was never interrupted."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "models" / "xemogpt-synth-tiny"


def xemogpt(*args) -> subprocess.Popen:
    """`xemogpt ARGS` as a user starts it from a terminal (Ctrl-C not ignored, whatever the test runner does)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "processing.cli", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_until(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the run never reached the point to interrupt it")


def interrupt(process: subprocess.Popen, sig) -> tuple[int, str, list]:
    """Send `sig`; returns (exit code, stderr, the processes it had started that are still alive)."""
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    time.sleep(1.0)
    alive = [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    return process.returncode, err, alive


def digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def uninterrupted_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "corpus"
    done = xemogpt("synth", out, "--num-samples", 160, "--size", 32, "--num-workers", 2)
    assert done.wait(timeout=300) == 0, done.stderr.read()
    return digest(out)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_an_interrupted_synth_leaves_no_workers_and_the_next_run_is_the_same(sig, code, uninterrupted_corpus,
                                                                               tmp_path):
    out = tmp_path / "corpus"
    run = xemogpt("synth", out, "--num-samples", 160, "--size", 32, "--num-workers", 2)
    wait_until(lambda: len(psutil.Process(run.pid).children()) >= 2 and list(tmp_path.glob(".corpus.*")))
    time.sleep(1.0)  # clips are being written
    returncode, err, alive = interrupt(run, sig)
    assert returncode == code and not alive, err[-2000:]
    assert not out.exists()  # nothing published
    if sig != signal.SIGKILL:
        assert "Traceback" not in err and "interrupted" in err or "terminated" in err
        assert not list(tmp_path.glob(".corpus.*"))  # staging removed
    rerun = xemogpt("synth", out, "--num-samples", 160, "--size", 32, "--num-workers", 2)
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read()
    assert not list(tmp_path.glob(".corpus.*"))  # a SIGKILLed run's staging is gone too
    assert digest(out) == uninterrupted_corpus


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from processing.data.synth.corpus import generate_corpus

    data = tmp_path_factory.mktemp("predict") / "data"
    generate_corpus(data, 24, split_fractions={"test": 1.0}, size=32, num_workers=1)
    return data


def predictions(path: Path) -> dict:
    from processing.inference.predict import read_predictions  # a last line cut short by SIGKILL is not a row

    return {row["id"]: row for row in read_predictions(path)}


@pytest.fixture(scope="module")
def uninterrupted_predictions(clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "p.jsonl"
    run = xemogpt("predict", MODEL, clips, "--out", out, "--batch-size", 2, "--max-new-tokens", 24, "--no-progress")
    assert run.wait(timeout=300) == 0, run.stderr.read()
    return predictions(out)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_an_interrupted_predict_resumes_to_the_uninterrupted_output(sig, code, clips, uninterrupted_predictions,
                                                                      tmp_path):
    out = tmp_path / "p.jsonl"
    args = ("predict", MODEL, clips, "--out", out, "--batch-size", 2, "--max-new-tokens", 24, "--no-progress")
    run = xemogpt(*args)
    wait_until(lambda: out.exists() and out.read_text().count("\n") >= 2)
    returncode, err, alive = interrupt(run, sig)
    assert returncode == code and not alive, err[-2000:]
    assert 2 <= len(predictions(out)) < len(uninterrupted_predictions)
    resumed = xemogpt(*args)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert predictions(out) == uninterrupted_predictions
