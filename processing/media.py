"""Video frames and audio for XEmoGPT (PyAV): `sample_frames`, `load_audio`, `load_clip`, `Clip`; `row_media`.

The implementation lives in `modeling_xemogpt/media_xemogpt.py`, the model folder's remote code, because the
processor decodes video and audio paths with it on the Hub too; this module is its name inside the library, plus
`row_media`, the one way training code decodes an EmoCue row's media (collators, feature cache, alignment).
"""

from collections.abc import Mapping

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


def row_media(row: Mapping, kind: str, processor, backend: str = "auto"):
    """One medium of an EmoCue row, with the processor's frame count, sampling rate and audio cut.

    kind "video": (frames (F, H, W, 3) uint8, timestamps (F,)) of `row["video"]`; kind "audio": a mono waveform (T,)
    of `row["audio"]`, else of the video's own track, None when the video has none. Only that stream is decoded
    (the audio of an MP4 costs ~3x its 16 frames). Raises MediaError for a file that cannot be read."""
    if kind == "video":
        return sample_frames(row["video"], processor.num_frames, method=backend)
    if kind != "audio":
        raise ValueError(f"kind must be 'video' or 'audio', got {kind!r}")
    path = row.get("audio") or row.get("video")
    if not path or (not row.get("audio") and not has_audio_track(path)):
        return None
    return load_audio(path, processor.sampling_rate, processor.max_audio_seconds)


def __getattr__(name):  # the private helpers (tests and benchmarks reach them through this module)
    return getattr(_media, name)
