"""What a short window of telephone audio holds: its level, and how much of it is one pure tone.

Invariant: both measures are functions of the samples alone (no state, no history), so the same
window always gives the same level and the same tone, whoever computes it and whenever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float64]

FULL_SCALE = 32768.0
# Digital silence has no level in dB; it reads as this, far below any line's noise.
SILENCE_DBFS = -100.0
# Hum and DC sit below this and say nothing about speech or a beep: left out of the tone's share.
_LOW_CUT_HZ = 80.0


def samples_of(pcm: bytes) -> Samples:
    """Signed 16-bit little-endian PCM as floats (same scale: ±32768)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def level_dbfs(samples: Samples) -> float:
    """The RMS level in dB relative to full scale; SILENCE_DBFS for digital silence."""
    if samples.size == 0:
        return SILENCE_DBFS
    power = float(np.mean(np.square(samples))) / (FULL_SCALE * FULL_SCALE)
    if power <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10.0 * math.log10(power))


@lru_cache(maxsize=16)
def _band_weights(size: int, rate: int, low_hz: float, high_hz: float) -> Samples:
    """Per rfft bin: 2 inside the band (the bin and its mirror), 1 for DC and Nyquist, 0 outside."""
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    weights = np.where((freqs >= low_hz) & (freqs <= high_hz), 2.0, 0.0)
    weights[0] /= 2.0
    if size % 2 == 0:
        weights[-1] /= 2.0
    return weights


@lru_cache(maxsize=16)
def _hann(size: int) -> Samples:
    return np.hanning(size)


def band_level_dbfs(samples: Samples, rate: int, low_hz: float, high_hz: float) -> float:
    """The RMS level, in dBFS, of what lies between low_hz and high_hz (SILENCE_DBFS for none).

    Parseval over the real FFT: each bin but DC and Nyquist stands for itself and its mirror."""
    if samples.size == 0:
        return SILENCE_DBFS
    power = np.square(np.abs(np.fft.rfft(samples)))
    weights = _band_weights(samples.size, rate, low_hz, high_hz)
    mean_square = float(np.dot(power, weights)) / (samples.size * samples.size)
    if mean_square <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10.0 * math.log10(mean_square / (FULL_SCALE * FULL_SCALE)))


@dataclass(frozen=True)
class Tone:
    hz: float       # the strongest frequency above 80 Hz, between bins
    purity: float   # the share (0..1) of the window's energy above 80 Hz around that frequency


def dominant_tone(window: Samples, rate: int) -> Tone:
    """The strongest frequency of `window` and its share of the energy.

    A Hann window keeps a pure tone's energy in its main lobe (±2 bins of rate/len), so a steady
    beep gives a purity near 1 even under noise, while speech spreads over many harmonics and
    formants and a noise over every bin. The strongest frequency is looked for over the whole
    spectrum: a caller asking for a band checks `hz` itself, so that the edge of its band never
    passes for a peak (a voice's strong harmonic just below it would)."""
    if window.size < 2:
        return Tone(hz=0.0, purity=0.0)
    size = 1 << (window.size - 1).bit_length()  # zero-padded to a power of two
    centred = window - float(np.mean(window))
    power = np.square(np.abs(np.fft.rfft(centred * _hann(window.size), n=size)))
    bin_hz = rate / size
    low = max(1, int(math.ceil(_LOW_CUT_HZ / bin_hz)))
    total = float(np.sum(power[low:]))
    if total <= 0.0:
        return Tone(hz=0.0, purity=0.0)
    peak = low + int(np.argmax(power[low:]))
    lobe = int(math.ceil(2 * size / window.size))
    share = float(np.sum(power[max(low, peak - lobe):peak + lobe + 1])) / total
    return Tone(hz=(peak + _offset(power, peak)) * bin_hz, purity=min(1.0, share))


def _offset(power: Samples, peak: int) -> float:
    """Where the true peak lies between bins: a parabola through the log powers around it (a few
    hertz precise, so a beep's steadiness can be told from a voice's gliding pitch)."""
    if peak <= 0 or peak >= power.size - 1 or min(power[peak - 1], power[peak + 1]) <= 0.0:
        return 0.0
    left, centre, right = (math.log(float(power[k])) for k in (peak - 1, peak, peak + 1))
    curve = left - 2.0 * centre + right
    return 0.0 if curve >= 0.0 else max(-0.5, min(0.5, 0.5 * (left - right) / curve))
