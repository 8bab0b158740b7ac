"""Voice-like audio without words: `render_audio(factors, sampling_rate) -> float32 (T,)` in [-1, 1].

Syllables are a buzzy glottal source (a sawtooth on the f0 track) through vowel formant resonators, with
short noise onsets, grouped into phrases. Loudness is relative to a fixed noise floor: the voice sits 15 / 27 /
39 dB above it (soft / normal / loud); a global gain jitter scales voice and floor together. Tremor is a
+-8 % vibrato with a 50 % amplitude wobble at 5-7 Hz, strong enough to hear within one syllable.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import lfilter

from .factors import Factors

SAMPLING_RATE = 16000  # Hz, mono
PITCH_HZ = {"low": 105.0, "medium": 175.0, "high": 290.0}
CONTOUR_RANGE = {"flat": (1.0, 1.0), "rising": (0.8, 1.25), "falling": (1.25, 0.8)}  # f0 factor at start, end
VOICE_ABOVE_FLOOR_DB = {"soft": 15.0, "normal": 27.0, "loud": 39.0}
NOISE_FLOOR_RMS = 0.001  # -60 dBFS: loud voices (+39 dB) then peak around 0.5
SYLLABLE_SECONDS = {"slow": (0.26, 0.40), "normal": (0.15, 0.24), "fast": (0.08, 0.14)}
SYLLABLE_GAP_SECONDS = {"slow": (0.08, 0.16), "normal": (0.04, 0.09), "fast": (0.02, 0.05)}
PHRASE_PAUSE_SECONDS = (0.25, 0.6)
TREMOR_DEPTH, TREMOR_WOBBLE, TREMOR_HZ = 0.08, 0.5, (5.0, 7.0)
VOWEL_FORMANTS = {  # (F1, F2, F3) Hz
    "a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (300, 2200, 2900), "o": (570, 840, 2410),
    "u": (320, 870, 2240),
}
FORMANT_BANDWIDTHS = (90, 110, 160)


@lru_cache(maxsize=64)
def _formant_filter(vowel: str, sampling_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """A cascade of three two-pole resonators as one IIR filter (b, a)."""
    a = np.array([1.0])
    for freq, bw in zip(VOWEL_FORMANTS[vowel], FORMANT_BANDWIDTHS):
        freq = min(freq, 0.45 * sampling_rate)
        r = np.exp(-np.pi * bw / sampling_rate)
        a = np.convolve(a, [1.0, -2 * r * np.cos(2 * np.pi * freq / sampling_rate), r * r])
    return np.array([1.0 - 0.95]), a  # unity-ish gain; levels are normalised afterwards


def _envelope(n: int, sampling_rate: int, attack: float = 0.015, release: float = 0.03) -> np.ndarray:
    env = np.ones(n)
    na, nr = min(n // 2, int(attack * sampling_rate)), min(n // 2, int(release * sampling_rate))
    if na:
        env[:na] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, na))
    if nr:
        env[n - nr:] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, nr))
    return env


def _voiced(f0: np.ndarray, amp: np.ndarray, vowel: str, rng, sampling_rate: int, breath: float = 0.05):
    phase = np.cumsum(f0) / sampling_rate + rng.random()
    source = 2.0 * (phase % 1.0) - 1.0 + breath * rng.standard_normal(len(f0))
    b, a = _formant_filter(vowel, sampling_rate)
    out = lfilter(b, a, source)
    out /= np.sqrt(np.mean(out**2)) + 1e-9
    return out * amp * _envelope(len(f0), sampling_rate)


def _noise_burst(n: int, rng, sampling_rate: int, vowel: str = "e") -> np.ndarray:
    b, a = _formant_filter(vowel, sampling_rate)
    out = lfilter(b, a, rng.standard_normal(n))
    out /= np.sqrt(np.mean(out**2)) + 1e-9
    return out


def _f0_track(f: Factors, t: np.ndarray, tremor_rate: float, tremor_phase: float) -> np.ndarray:
    start, end = CONTOUR_RANGE[f.contour]
    u = np.clip(t / f.duration, 0.0, 1.0)
    f0 = PITCH_HZ[f.pitch] * f.nuisance.f0_scale * start * (end / start) ** u
    if f.tremor == "trembling":
        f0 = f0 * (1 + TREMOR_DEPTH * np.sin(2 * np.pi * tremor_rate * t + tremor_phase))
    return f0


def _laughter(rng, f0: float, level: float, sampling_rate: int) -> np.ndarray:
    """4-7 'ha' pulses: breathy, high, ~0.2 s apart."""
    pulses = int(rng.integers(4, 8))
    period, length = rng.uniform(0.17, 0.22), rng.uniform(0.07, 0.1)
    out = np.zeros(int((pulses * period + 0.1) * sampling_rate))
    for k in range(pulses):
        n = int(length * sampling_rate)
        start = int(k * period * sampling_rate)
        decay = 1.0 - 0.08 * k
        track = np.full(n, f0 * 1.5 * decay) * np.linspace(1.08, 0.92, n)
        voice = _voiced(track, level * decay, "a", rng, sampling_rate, breath=0.8)
        voice += 0.6 * level * decay * _noise_burst(n, rng, sampling_rate, "a") * _envelope(n, sampling_rate, 0.004)
        out[start:start + n] += voice
    return out


def _sigh(rng, level: float, sampling_rate: int) -> np.ndarray:
    """About a second of breathy exhalation: noise through an 'a'/'o' filter, fast rise, slow decay."""
    n = int(rng.uniform(0.9, 1.3) * sampling_rate)
    t = np.arange(n) / sampling_rate
    env = (1 - np.exp(-t / 0.12)) * np.exp(-t / (0.35 * t[-1] + 1e-6))
    env /= env.max()
    return 0.8 * level * _noise_burst(n, rng, sampling_rate, "o") * env


def render_audio(factors: Factors, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """The clip's audio: (round(duration * sampling_rate),) float32. Deterministic given `factors`."""
    f = factors
    rng = np.random.default_rng(f.voice_seed)
    total = int(round(f.duration * sampling_rate))
    voice = np.zeros(total)
    level = NOISE_FLOOR_RMS * 10 ** (VOICE_ABOVE_FLOOR_DB[f.loudness] / 20)
    tremor_rate, tremor_phase = rng.uniform(*TREMOR_HZ), rng.uniform(0, 2 * np.pi)

    if f.event == "laughter":
        event = _laughter(rng, PITCH_HZ[f.pitch] * f.nuisance.f0_scale, level, sampling_rate)
    elif f.event == "sigh":
        event = _sigh(rng, level, sampling_rate)
    else:
        event = np.zeros(0)
    event_seconds = len(event) / sampling_rate
    event_start = max(0.05, min(f.event_time * f.duration, f.duration - event_seconds - 0.05)) if len(event) else np.inf

    t = rng.uniform(0.05, 0.3)
    vowels = sorted(VOWEL_FORMANTS)
    while t < f.duration - 0.1:
        if t >= event_start:  # the event takes the place of speech for its length
            start = int(event_start * sampling_rate)
            piece = event[: total - start]
            voice[start:start + len(piece)] += piece
            t = event_start + event_seconds + rng.uniform(0.1, 0.3)
            event_start = np.inf
            continue
        for _ in range(int(rng.integers(3, 8))):  # one phrase
            length = rng.uniform(*SYLLABLE_SECONDS[f.tempo])
            if t + length > min(f.duration - 0.05, event_start):
                break
            i0, n = int(t * sampling_rate), int(length * sampling_rate)
            times = (i0 + np.arange(n)) / sampling_rate
            f0 = _f0_track(f, times, tremor_rate, tremor_phase) * np.linspace(1.0, rng.uniform(0.96, 1.04), n)
            amp = np.full(n, level * 10 ** (rng.uniform(-2, 2) / 20))
            if f.tremor == "trembling":
                amp *= 1 - TREMOR_WOBBLE * (0.5 + 0.5 * np.sin(2 * np.pi * tremor_rate * times + tremor_phase))
                amp /= 1 - TREMOR_WOBBLE / 2  # keep the mean level of the loudness class
            syllable = _voiced(f0, amp, vowels[int(rng.integers(len(vowels)))], rng, sampling_rate)
            if rng.random() < 0.5:  # a consonant-like noise onset
                m = min(n, int(rng.uniform(0.015, 0.035) * sampling_rate))
                syllable[:m] += 0.4 * level * _noise_burst(m, rng, sampling_rate) * _envelope(m, sampling_rate, 0.005, 0.01)
            voice[i0:i0 + n] += syllable
            t += length + rng.uniform(*SYLLABLE_GAP_SECONDS[f.tempo])
        t += rng.uniform(*PHRASE_PAUSE_SECONDS)

    floor = rng.standard_normal(total)
    floor = lfilter([1.0], [1.0, -0.6], floor)  # slightly low-passed hiss
    floor *= NOISE_FLOOR_RMS / (np.sqrt(np.mean(floor**2)) + 1e-12)
    gain = 10 ** (f.nuisance.gain_db / 20)
    return np.clip((voice + floor) * gain, -1.0, 1.0).astype(np.float32)
