"""A speech-like test signal for the browsers' fake microphone (weak-network bench).

Chromium's default fake microphone is a pure beep once a second: libopus's analysis takes
it for music and codes it CELT-only, which has no in-band FEC, so a bench with it says
nothing of how a voice survives loss (weak-network bench, 10% loss: 0 LBRR frames in
the citizen's packets while its receiver reports said 4-18% loss). This is voice-shaped
instead: a glottal harmonic series (pitch drifting 100-180 Hz) through the formants of
a new vowel at each syllable (4 a second), a little breath noise, phrases of 2 s with
0.6 s pauses (DTX at work). Opus codes it as a voice (SILK or hybrid, with LBRR when told
of loss). Deterministic (seeded): every run hears the same thing.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 48000
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]])


def speech_like(seconds: float = 12.0, seed: int = 25) -> np.ndarray:
    """Mono 16-bit samples at 48 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 2.3 * t + 1)  # intonation
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    syllable = (t * 4).astype(int)
    formants = _VOWELS[rng.integers(0, len(_VOWELS), syllable.max() + 1)[syllable]]
    voice = np.zeros_like(t)
    for k in range(1, 40):  # harmonics below 7 kHz, shaped by three formants
        freq = k * f0
        gain = sum(1 / (1 + ((freq - formants[:, j]) / width) ** 2) / (j + 1)
                   for j, width in enumerate((90, 110, 170)))
        voice += gain * (freq < 7000) * np.sin(k * phase)
    swell = np.clip(np.sin(np.pi * (t * 4 % 1)), 0, 1) ** 0.7
    phrases = (t % 2.6) < 2.0
    breath = rng.normal(0, 0.05, t.size) * (syllable % 3 == 0)
    signal = (voice / np.abs(voice).max() + breath) * swell * phrases
    return (signal / np.abs(signal).max() * 0.5 * 32767).astype(np.int16)


def write_wav(path: Path) -> Path:
    """The signal as a WAV file Chromium loops (--use-file-for-fake-audio-capture)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(speech_like().tobytes())
    return path
