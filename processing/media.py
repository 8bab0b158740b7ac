"""Video frames and audio for XEmoGPT (PyAV): `sample_frames`, `load_audio`, `load_clip`, `Clip`.

The implementation lives in `modeling_xemogpt/media_xemogpt.py`, the model folder's remote code, because the
processor decodes video and audio paths with it on the Hub too; this module is its name inside the library.
"""

from modeling_xemogpt import media_xemogpt as _media
from modeling_xemogpt.media_xemogpt import (  # noqa: F401
    METHODS,
    Clip,
    choose_method,
    has_audio_track,
    load_audio,
    load_clip,
    sample_frames,
    torchcodec_available,
)


def __getattr__(name):  # the private helpers (tests and benchmarks reach them through this module)
    return getattr(_media, name)
