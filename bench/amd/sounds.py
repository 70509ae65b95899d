"""The sounds the evaluation set is mixed from, at 8 kHz: spoken phrases (the dialer's own offline
TTS), line noise, beeps, music-like tones, and the G.711 μ-law round trip every call's audio takes.

Every generator takes its randomness from the numpy Generator it is given, so a set made from one
seed is the same set every time.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.dialer.adapters.audio_codec import SAMPLE_RATE, to_telephony
from services.dialer.adapters.prompts import Prompts

Audio = npt.NDArray[np.float64]
NOISES = ("white", "pink", "brown", "hum", "street")


def silence(seconds: float) -> Audio:
    return np.zeros(int(round(seconds * SAMPLE_RATE)))


def read_wav(path: Path) -> Audio:
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)


def write_wav(path: Path, audio: npt.NDArray[np.int16]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(audio.astype("<i2").tobytes())


def speak(cache: Path, voice: str, text: str, speed: float) -> Audio:
    """`text` in `voice` through the dialer's prompt renderer, played `speed` times as fast (and
    as much higher), its leading and trailing silence cut so that the set places every pause."""
    rendered = read_wav(Prompts(cache, voice=voice).render(text))
    if speed != 1.0:
        # Read as if recorded at speed × 8 kHz and converted back to 8 kHz: shorter and higher.
        pcm = rendered.astype("<i2").tobytes()
        rendered = np.frombuffer(to_telephony(pcm, int(round(SAMPLE_RATE * speed))), dtype="<i2").astype(np.float64)
    loud = np.flatnonzero(np.abs(rendered) > 0.02 * max(1.0, float(np.max(np.abs(rendered)))))
    return rendered[loud[0]:loud[-1] + 1] if loud.size else rendered


def active_rms(audio: Audio) -> float:
    """The RMS of the 20 ms frames within 30 dB of the loudest: the level of the speech itself."""
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    if frames.size == 0:
        return 0.0
    power = np.mean(np.square(frames), axis=1)
    active = power[power >= float(np.max(power)) * 1e-3]
    return float(np.sqrt(np.mean(active))) if active.size else 0.0


def noise(kind: str, seconds: float, rng: np.random.Generator) -> Audio:
    """Unit-RMS line noise of one of NOISES."""
    n = int(round(seconds * SAMPLE_RATE))
    white = rng.standard_normal(n)
    if kind == "white":
        out = white
    elif kind in ("pink", "street"):
        spectrum = np.fft.rfft(white)
        spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))  # 1/f power
        out = np.fft.irfft(spectrum, n)
        if kind == "street":  # traffic swells and fades: a slow ±6 dB swing
            t = np.arange(n) / SAMPLE_RATE
            out = out * 10 ** (6 * np.sin(2 * np.pi * rng.uniform(0.2, 0.8) * t + rng.uniform(0, 6.3)) / 20)
    elif kind == "brown":
        out = np.cumsum(white)
        out -= np.convolve(out, np.ones(400) / 400, mode="same")  # no drift below ~20 Hz
    elif kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        mains = rng.choice([50.0, 60.0])
        out = sum(np.sin(2 * np.pi * mains * h * t) / h for h in (1, 2, 3, 5)) + 0.3 * white
    else:
        raise ValueError(f"unknown noise {kind!r}")
    rms = float(np.sqrt(np.mean(np.square(out)))) or 1.0
    return np.asarray(out, dtype=np.float64) / rms


def beep(hz: float, seconds: float) -> Audio:
    """A voicemail beep: one sine, 5 ms fades so that it starts and stops without a click."""
    t = np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * hz * t)
    fade = min(40, tone.size // 2)
    ramp = np.linspace(0.0, 1.0, fade)
    tone[:fade] *= ramp
    tone[tone.size - fade:] *= ramp[::-1]
    return tone


def music(seconds: float, rng: np.random.Generator) -> Audio:
    """Music-like tones: notes of a pentatonic scale, 120–400 ms each, plucked (fast attack, decay),
    pure sines or with two harmonics, sometimes two notes at once."""
    scale = 261.63 * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16, 19, 21]) / 12)
    harmonics = (1.0,) if rng.random() < 0.5 else (1.0, 0.5, 0.25)
    chords = rng.random() < 0.3
    out: list[Audio] = []
    total = 0.0
    while total < seconds:
        length = float(rng.uniform(0.12, 0.4))
        t = np.arange(int(length * SAMPLE_RATE)) / SAMPLE_RATE
        notes = rng.choice(scale, size=2 if chords else 1, replace=False)
        note = sum(a * np.sin(2 * np.pi * f * (k + 1) * t) for f in notes for k, a in enumerate(harmonics))
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / rng.uniform(0.15, 0.6))
        out.append(np.asarray(note * envelope, dtype=np.float64))
        total += length
    return np.concatenate(out)


def mulaw_round_trip(audio: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Each sample encoded to G.711 μ-law and decoded again, as a call's audio arrives (PCMU)."""
    bias, clip = 0x84, 32635
    values = audio.astype(np.int32)
    magnitude = np.minimum(np.abs(values), clip) + bias
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    decoded = (((mantissa << 3) + bias) << exponent) - bias
    out: npt.NDArray[np.int16] = np.where(values < 0, -decoded, decoded).astype(np.int16)
    return out


def to_pcm(audio: Audio) -> npt.NDArray[np.int16]:
    """Float samples (full scale ±32768) to 16-bit, clipped, through μ-law."""
    return mulaw_round_trip(np.clip(np.round(audio), -32768, 32767).astype(np.int16))
