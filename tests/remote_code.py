"""Check that a saved folder loads through `trust_remote_code=True` in a process that cannot import our packages."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import torch


def assert_loads_without_our_packages(folder, tmp_path, frames, audio, expected_logits, subtitle="s"):
    np.save(tmp_path / "frames.npy", frames)
    np.save(tmp_path / "audio.npy", audio)
    torch.save(expected_logits, tmp_path / "expected.pt")
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["modeling_xemogpt"] = None   # importing our packages is impossible in this process
        sys.modules["processing"] = None
        import numpy as np, torch
        from transformers import AutoModel, AutoModelForImageTextToText, AutoProcessor
        folder = {str(folder)!r}
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True)
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
        inputs = processor.prepare_clip(np.load({str(tmp_path / "frames.npy")!r}), np.load({str(tmp_path / "audio.npy")!r}), subtitle={subtitle!r})
        with torch.no_grad():
            logits = model(**inputs).logits
        expected = torch.load({str(tmp_path / "expected.pt")!r}, weights_only=True)
        torch.testing.assert_close(logits, expected, atol=0, rtol=0)
        print("REMOTE-OK", type(model).__name__)
        """
    )
    env = dict(os.environ, HF_MODULES_CACHE=str(tmp_path / "modules"), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert "REMOTE-OK XEmoGPTForConditionalGeneration" in result.stdout, result.stderr[-3000:]
