"""processing.media: uniform frame sampling, audio loading and one-line errors, on tiny generated media."""

import math
import time
import tracemalloc

import av
import numpy as np
import pytest

from processing import media
from processing.errors import MediaError, XEmoGPTError
from processing.media import Clip, choose_method, load_audio, load_clip, sample_frames
from tests.media_fixtures import (
    frame_index_of,
    write_garbled_payload,
    write_test_audio,
    write_test_video,
    write_truncated,
)

FPS = 10


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip_mp4(media_dir):
    """5 s, 64x64 H.264 at 10 fps (keyframe every 10 frames, B-frames) + 440 Hz AAC at 16 kHz."""
    return write_test_video(media_dir / "clip.mp4", seconds=5, fps=FPS)


@pytest.fixture(scope="module")
def ten_minute_clip(media_dir):
    """10 minutes at 1 fps, 64x64, with 8 kHz PCM audio in Matroska: fast to write, long to decode fully."""
    return write_test_video(media_dir / "ten_minutes.mkv", seconds=600, fps=1, gop=10, audio_rate=8000,
                            audio_codec="pcm_s16le")


def expected_indices(num_source_frames, num_frames=16):
    """The frame playing at the centre of each of num_frames equal segments."""
    return [math.floor((i + 0.5) * num_source_frames / num_frames) for i in range(num_frames)]


def peak_frequency(wave, rate):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / rate)[np.argmax(spectrum)]


def sine_amplitude(wave, rate, freq):
    """Amplitude of the `freq` component (by projection onto sin/cos over whole periods)."""
    t = np.arange(len(wave)) / rate
    return 2 * math.hypot(np.mean(wave * np.sin(2 * np.pi * freq * t)), np.mean(wave * np.cos(2 * np.pi * freq * t)))


# ------------------------------------------------------------------------------------------------ frames


def test_load_clip_samples_the_frame_at_the_centre_of_each_segment(clip_mp4):
    clip = load_clip(clip_mp4)
    assert isinstance(clip, Clip)
    assert clip.frames.shape == (16, 64, 64, 3) and clip.frames.dtype == np.uint8
    indices = [frame_index_of(frame) for frame in clip.frames]
    assert indices == expected_indices(50)
    np.testing.assert_allclose(clip.timestamps, np.array(indices) / FPS, atol=1e-6)
    assert clip.duration == pytest.approx(5.0, abs=0.05)
    assert clip.notes == []


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("gop10_bframes.mp4", {"gop": 10}),
        ("first_keyframe_only.mp4", {"gop": None}),
        ("gop7_no_bframes.mp4", {"gop": 7, "bframes": 0}),
        ("gop10.mkv", {"gop": 10}),
        ("gop10.ts", {"gop": 10}),  # MPEG-TS seeks land late: the seek method must back off
        ("vp9.webm", {"gop": 12, "video_codec": "libvpx-vp9", "audio": False}),
    ],
)
def test_seek_and_decode_return_identical_frames(media_dir, name, kwargs):
    path = write_test_video(media_dir / name, seconds=4, fps=FPS, **{"audio": False, **kwargs})
    seek_frames, seek_times = sample_frames(path, method="seek")
    decode_frames, decode_times = sample_frames(path, method="decode")
    assert np.array_equal(seek_frames, decode_frames)
    assert np.array_equal(seek_times, decode_times)
    assert [frame_index_of(f) for f in seek_frames] == sorted(frame_index_of(f) for f in seek_frames)


def test_auto_seeks_when_keyframes_are_frequent_and_decodes_when_rare(media_dir):
    frequent = write_test_video(media_dir / "long_gop5.mp4", seconds=60, fps=FPS, gop=5, bframes=0, audio=False)
    rare = write_test_video(media_dir / "long_one_gop.mp4", seconds=60, fps=FPS, gop=None, bframes=0,
                            audio=False)
    assert choose_method(frequent) == "seek"
    assert choose_method(rare) == "decode"
    for path in (frequent, rare):
        assert np.array_equal(sample_frames(path, method="auto")[0], sample_frames(path, method="decode")[0])


def test_short_clip_repeats_frames_and_says_so(media_dir):
    path = write_test_video(media_dir / "short.mp4", seconds=0.2, fps=FPS)
    clip = load_clip(path)
    assert clip.frames.shape[0] == 16
    assert [frame_index_of(f) for f in clip.frames] == [0] * 8 + [1] * 8
    assert any("only 2 distinct frames" in note for note in clip.notes)


def test_stream_without_duration_metadata_is_sampled_uniformly(media_dir):
    path = write_test_video(media_dir / "raw.h264", seconds=5, fps=FPS, audio=False)
    with av.open(str(path)) as container:
        assert container.duration is None and container.streams.video[0].duration is None
    frames, timestamps = sample_frames(path)
    assert [frame_index_of(f) for f in frames] == expected_indices(50)
    np.testing.assert_allclose(timestamps, np.array(expected_indices(50)) / FPS, atol=1e-6)


def test_ten_minute_clip_loads_fast_with_only_12_seconds_of_audio(ten_minute_clip):
    load_audio(ten_minute_clip, max_seconds=0.1)  # import scipy.signal outside the timed part
    start = time.perf_counter()
    clip = load_clip(ten_minute_clip)
    assert time.perf_counter() - start < 5.0
    assert clip.audio.shape == (12 * 16000,)
    assert clip.duration == pytest.approx(600, abs=1)
    assert [frame_index_of(f) for f in clip.frames] == expected_indices(600)


def test_audio_decoding_stops_after_max_seconds(ten_minute_clip, monkeypatch):
    """Memory and reads stay bounded: 10 minutes of audio are not decoded to keep 12 s."""
    read, real_open = [0], av.open

    class CountingFile:
        def __init__(self, path):
            self.file = open(path, "rb")

        def read(self, n=-1):
            data = self.file.read(n)
            read[0] += len(data)
            return data

        def seek(self, *args):
            return self.file.seek(*args)

        def tell(self):
            return self.file.tell()

        def close(self):
            self.file.close()

    monkeypatch.setattr(av, "open", lambda path, *a, **k: real_open(CountingFile(path), *a, **k))
    tracemalloc.start()
    wave = load_audio(ten_minute_clip)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert wave.shape == (12 * 16000,)
    assert read[0] < 0.1 * ten_minute_clip.stat().st_size
    assert peak < 8 * 2**20  # the whole track as float would be ~19 MiB at 8 kHz, ~38 MiB at 16 kHz


def test_truncated_clip_with_index_in_front_uses_what_decodes(media_dir, clip_mp4):
    source = write_test_video(media_dir / "faststart.mp4", seconds=5, fps=FPS, faststart=True)
    path = write_truncated(source, media_dir / "faststart_half.mp4", 0.5)
    clip = load_clip(path)
    indices = [frame_index_of(f) for f in clip.frames]
    assert clip.frames.shape[0] == 16 and indices == sorted(indices)
    assert 10 < indices[-1] < 45  # spread over the part that decodes, not stuck on its last frame
    assert len(set(indices)) >= 12
    assert any("decodes only up to" in note for note in clip.notes)
    assert np.array_equal(sample_frames(path, method="seek")[0], sample_frames(path, method="decode")[0])


# ------------------------------------------------------------------------------------------------ audio


def test_video_audio_track_is_mono_16k_and_first_12_seconds(clip_mp4):
    clip = load_clip(clip_mp4)
    assert clip.sampling_rate == 16000 and clip.audio.dtype == np.float32
    assert clip.audio.shape[0] == pytest.approx(5 * 16000, abs=1100)  # AAC priming/padding
    assert peak_frequency(clip.audio, 16000) == pytest.approx(440, abs=3)
    assert np.abs(clip.audio).max() <= 1.0


def test_48k_sine_is_resampled_to_16k_at_the_same_pitch_and_level(media_dir):
    path = write_test_audio(media_dir / "sine48k.wav", seconds=2, rate=48000, freqs=(440.0,), amplitude=0.5)
    wave = load_audio(path)
    assert wave.shape == (32000,) and wave.dtype == np.float32
    assert peak_frequency(wave, 16000) == pytest.approx(440, abs=1)
    assert sine_amplitude(wave[1000:-1000], 16000, 440) == pytest.approx(0.5, abs=0.01)


def test_eight_channel_48k_wav_is_mixed_to_mono_16k(media_dir):
    freqs = tuple(300.0 + 400 * c for c in range(8))  # 300 ... 3100 Hz, one per channel
    path = write_test_audio(media_dir / "eight.wav", seconds=1, rate=48000, freqs=freqs, amplitude=0.8)
    wave = load_audio(path)
    assert wave.shape == (16000,)
    for freq in freqs:  # an equal-weight mean: each channel at 1/8 of its level
        assert sine_amplitude(wave[500:-500], 16000, freq) == pytest.approx(0.1, abs=0.01)


def test_stereo_m4a_through_pyav_is_mixed_and_resampled(media_dir):
    path = write_test_audio(media_dir / "stereo.m4a", seconds=2, rate=44100, freqs=(440.0, 1000.0))
    wave = load_audio(path)
    assert wave.shape[0] == pytest.approx(32000, abs=800)
    assert sine_amplitude(wave[2000:-2000], 16000, 440) == pytest.approx(0.25, abs=0.02)
    assert sine_amplitude(wave[2000:-2000], 16000, 1000) == pytest.approx(0.25, abs=0.02)


def test_separate_audio_file_replaces_the_video_track(media_dir, clip_mp4):
    audio = write_test_audio(media_dir / "voice.mp3", seconds=3, rate=44100, freqs=(1000.0,))
    clip = load_clip(clip_mp4, audio)
    assert peak_frequency(clip.audio, 16000) == pytest.approx(1000, abs=3)


def test_video_without_audio_track_gives_no_audio_and_a_note(media_dir):
    path = write_test_video(media_dir / "silent.mp4", seconds=2, fps=FPS, audio=False)
    clip = load_clip(path)
    assert clip.audio is None and clip.frames.shape[0] == 16
    assert clip.notes == [f"no audio track in {path}: explaining from video + subtitle only"]


def test_audio_only_file_as_video_is_an_error_unless_allowed(media_dir):
    path = write_test_audio(media_dir / "speech.m4a", seconds=1, rate=16000)
    with pytest.raises(MediaError, match=r"has no video stream; pass it as --audio"):
        load_clip(path)
    clip = load_clip(path, allow_audio_only=True)
    assert clip.frames is None and clip.timestamps is None and clip.audio.shape[0] > 15000
    assert any("no video stream" in note for note in clip.notes)


# ------------------------------------------------------------------------------------------------ errors


def _one_line_media_error(call, path, *fragments):
    with pytest.raises(MediaError) as info:
        call(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_missing_path_is_a_media_error(tmp_path):
    _one_line_media_error(load_clip, tmp_path / "nope.mp4", "no such file")


def test_zero_byte_file_is_a_media_error(tmp_path):
    (tmp_path / "empty.mp4").touch()
    _one_line_media_error(load_clip, tmp_path / "empty.mp4", "empty (0 bytes)")


def test_text_file_named_mp4_is_a_media_error(tmp_path):
    (tmp_path / "notes.mp4").write_text("this is not a video\n" * 20)
    _one_line_media_error(load_clip, tmp_path / "notes.mp4", "cannot read", "not an audio/video file")


def test_truncated_mp4_with_index_at_the_end_is_a_media_error(media_dir, clip_mp4):
    path = write_truncated(clip_mp4, media_dir / "cut_half.mp4", 0.5)
    _one_line_media_error(load_clip, path, "cannot read", "truncated/corrupt")


def test_truncated_mp4_with_too_few_frames_is_a_media_error(media_dir):
    source = write_test_video(media_dir / "faststart_long.mp4", seconds=20, fps=FPS, faststart=True)
    with av.open(str(source)) as container:
        positions = sorted(p.pos for p in container.demux(container.streams.video[0]) if p.size)
    path = write_truncated(source, media_dir / "faststart_tiny.mp4", size=positions[4])  # 4 video packets
    _one_line_media_error(sample_frames, path, "decode, fewer than 8")


def test_undecodable_audio_is_a_media_error(media_dir):
    garbled = write_garbled_payload(write_test_audio(media_dir / "good.m4a", seconds=2), media_dir / "bad.m4a")
    _one_line_media_error(load_audio, garbled, "cannot decode the audio")


def test_load_audio_of_a_video_without_audio_is_a_media_error(media_dir):
    path = write_test_video(media_dir / "mute.mp4", seconds=1, fps=FPS, audio=False)
    _one_line_media_error(load_audio, path, "has no audio stream")


def test_torchcodec_method_is_a_clear_error_when_not_installed(clip_mp4):
    available, _ = media.torchcodec_available()
    if available:
        frames, _ = sample_frames(clip_mp4, method="torchcodec")
        assert np.array_equal(frames, sample_frames(clip_mp4, method="decode")[0])
    else:
        with pytest.raises(XEmoGPTError, match="torchcodec"):
            sample_frames(clip_mp4, method="torchcodec")


def test_unknown_method_is_an_error(clip_mp4):
    with pytest.raises(XEmoGPTError, match="unknown frame sampling method"):
        sample_frames(clip_mp4, method="fast")


def test_frames_larger_than_the_cap_are_scaled_down_as_they_are_decoded(tmp_path):
    """A clip's frames are kept at most MAX_FRAME_SIDE pixels on their longer side (aspect kept): an 8K clip would
    otherwise hold gigabytes of RGB (the model's frames are a few hundred pixels)."""
    from modeling_xemogpt.media_xemogpt import MAX_FRAME_SIDE

    wide = write_test_video(tmp_path / "wide.mp4", seconds=0.5, fps=10, size=(2 * MAX_FRAME_SIDE + 64, 96), audio=False)
    for method in ("seek", "decode"):
        frames, _ = sample_frames(wide, 4, method=method)
        assert frames.shape[1:] == (round(96 * MAX_FRAME_SIDE / (2 * MAX_FRAME_SIDE + 64)), MAX_FRAME_SIDE, 3)
    small = write_test_video(tmp_path / "small.mp4", seconds=0.5, fps=10, size=(64, 48), audio=False)
    assert sample_frames(small, 4)[0].shape[1:] == (48, 64, 3)  # below the cap: untouched


def test_frames_beyond_4k_are_refused_before_decoding(tmp_path):
    """The decoder holds full-size pictures whatever is kept after it: frames above MAX_FRAME_PIXELS (3840x2160)
    are one MediaError line saying how to scale the video down (benchmarks/bench_hostile_inputs.py)."""
    from modeling_xemogpt.media_xemogpt import MAX_FRAME_PIXELS, MediaError

    big = write_test_video(tmp_path / "big.mp4", seconds=0.2, fps=10, size=(4096, 2176), audio=False)
    assert 4096 * 2176 > MAX_FRAME_PIXELS
    with pytest.raises(MediaError, match=r"video frames of 4096x2176 are larger than the 3840x2160 read here"):
        sample_frames(big, 2)
