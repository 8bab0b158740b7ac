"""Tiny synthetic media for tests, written with PyAV (no network, no ffmpeg binary).

Usable from any test file::

    from tests.media_fixtures import write_test_video, write_test_audio, frame_index_of

Every video frame carries its own index as a row of black/white blocks (see `frame_index_of`), so a test
can tell exactly which source frame a decoder returned. Audio is a sum of sines, one frequency per channel.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
import soundfile as sf

INDEX_BITS = 16  # frame indices up to 65535; two rows of 8 blocks


@lru_cache(maxsize=8)
def _gradients(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:height, 0:width]
    return (x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1))


def _frame_image(index: int, width: int, height: int) -> np.ndarray:
    """RGB image whose top band encodes `index` in binary and whose body is a moving gradient."""
    gx, gy = _gradients(width, height)
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (gx + 3 * index) % 256
    image[..., 1] = (gy + 5 * index) % 256
    image[..., 2] = (7 * index) % 256
    block_w, block_h = width // 8, max(height // 8, 2)
    for bit in range(INDEX_BITS):
        row, col = divmod(bit, 8)
        value = 255 if (index >> bit) & 1 else 0
        image[row * block_h:(row + 1) * block_h, col * block_w:(col + 1) * block_w] = value
    return image


def frame_index_of(frame: np.ndarray) -> int:
    """Read back the index that `write_test_video` drew into an (H, W, 3) uint8 frame."""
    height, width = frame.shape[:2]
    block_w, block_h = width // 8, max(height // 8, 2)
    index = 0
    for bit in range(INDEX_BITS):
        row, col = divmod(bit, 8)
        block = frame[row * block_h + 1:(row + 1) * block_h - 1, col * block_w + 1:(col + 1) * block_w - 1]
        if block.mean() > 127:
            index |= 1 << bit
    return index


def sine_channels(seconds: float, rate: int, freqs: list[float], amplitude: float = 0.5) -> np.ndarray:
    """(samples, channels) float32: channel c is a sine at freqs[c]."""
    t = np.arange(int(round(seconds * rate))) / rate
    return np.stack([amplitude * np.sin(2 * np.pi * f * t) for f in freqs], axis=1).astype(np.float32)


def _add_audio_stream(container, rate: int, channels: int, codec: str):
    stream = container.add_stream(codec, rate=rate)
    stream.layout = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}[channels]
    return stream


def _encode_audio(container, stream, samples: np.ndarray, rate: int, chunk: int = 4096) -> None:
    """Encode (samples, channels) float32 into `stream` (planar float frames)."""
    planar = np.ascontiguousarray(samples.T)
    layout = stream.layout.name
    for start in range(0, planar.shape[1], chunk):
        part = np.ascontiguousarray(planar[:, start:start + chunk])
        frame = av.AudioFrame.from_ndarray(part, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_test_video(
    path,
    *,
    seconds: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (64, 64),
    gop: int | None = 10,
    bframes: int = 2,
    audio: bool = True,
    audio_rate: int = 16000,
    audio_freqs: tuple[float, ...] = (440.0,),
    audio_codec: str = "aac",
    video_codec: str = "libx264",
    faststart: bool = False,
    crf: int = 18,
    audio_samples: np.ndarray | None = None,
) -> Path:
    """Write an H.264 (+ AAC) clip; frame i shows index i. `gop=None`: only the first frame is a keyframe.
    `audio_samples` ((samples,) or (samples, channels) float32 at `audio_rate`) replace the sines (e.g. speech).

    `size` is (width, height). The container follows the suffix (.mp4, .mkv, .webm, .ts, .h264 ...).
    `faststart=True` puts the MP4 index (moov) before the media data, as streaming-ready files do.
    """
    path = Path(path)
    width, height = size
    num_frames = max(1, int(round(seconds * fps)))
    options = {"movflags": "+faststart"} if faststart and path.suffix in (".mp4", ".m4v", ".mov") else {}
    with av.open(str(path), "w", options=options) as container:
        video = container.add_stream(video_codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if video_codec == "libx264":
            keyint = "infinite" if gop is None else str(gop)
            min_keyint = "1" if gop is None else str(gop)
            video.options = {
                "crf": str(crf),
                "preset": "ultrafast" if bframes == 0 else "veryfast",
                "x264-params": f"keyint={keyint}:min-keyint={min_keyint}:scenecut=0:bframes={bframes}",
            }
        elif gop is not None:
            video.codec_context.gop_size = gop
        audio_stream = None
        if audio_samples is not None:
            audio_samples = np.asarray(audio_samples, np.float32).reshape(len(audio_samples), -1)
        if audio:
            channels = len(audio_freqs) if audio_samples is None else audio_samples.shape[1]
            audio_stream = _add_audio_stream(container, audio_rate, channels, audio_codec)
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(_frame_image(i, width, height), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio_stream is not None:
            samples = (sine_channels(num_frames / fps, audio_rate, list(audio_freqs)) if audio_samples is None
                       else audio_samples)
            _encode_audio(container, audio_stream, samples, audio_rate)
    return path


def write_test_audio(
    path,
    *,
    seconds: float = 1.0,
    rate: int = 16000,
    freqs: tuple[float, ...] = (440.0,),
    amplitude: float = 0.5,
) -> Path:
    """Write a sine per channel. .wav/.flac via soundfile; .m4a/.aac/.mp3/.ogg/.opus/.mka via PyAV."""
    path = Path(path)
    samples = sine_channels(seconds, rate, list(freqs), amplitude)
    if path.suffix in (".wav", ".flac"):
        sf.write(str(path), samples, rate, subtype="PCM_16")
        return path
    codec = {".m4a": "aac", ".aac": "aac", ".mp3": "libmp3lame", ".ogg": "libopus", ".opus": "libopus",
             ".mka": "aac"}[path.suffix]
    fmt = {".m4a": "mp4", ".aac": "adts", ".ogg": "ogg", ".opus": "ogg"}.get(path.suffix)
    with av.open(str(path), "w", format=fmt) as container:
        stream = _add_audio_stream(container, rate, len(freqs), codec)
        _encode_audio(container, stream, samples, rate)
    return path


def write_truncated(source, path, fraction: float = 0.5, *, size: int | None = None) -> Path:
    """Copy the first `fraction` (or `size` bytes) of `source` to `path` (a download cut short)."""
    data = Path(source).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction) if size is None else size])
    return Path(path)


def write_garbled_payload(source, path, seed: int = 0) -> Path:
    """Copy an MP4/M4A with its media data (the `mdat` box) replaced by random bytes; the index stays valid."""
    data = bytearray(Path(source).read_bytes())
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4:at], "big")
    start, end = at + 4, min(at - 4 + size, len(data))
    data[start:end] = np.random.default_rng(seed).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    Path(path).write_bytes(bytes(data))
    return Path(path)
