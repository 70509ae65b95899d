"""Real audio files for upload tests: tones written as WAV by the standard library and encoded as MP3 by LAME."""

from __future__ import annotations

import array
import io
import math
import wave

import lameenc


def tone_pcm(seconds: float, rate: int, channels: int = 1, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    frames = int(seconds * rate)
    samples = array.array("h")
    for i in range(frames):
        value = int(amplitude * math.sin(2 * math.pi * hz * i / rate))
        samples.extend([value] * channels)
    return samples.tobytes()


def tone_wav(seconds: float = 1.5, rate: int = 44100, channels: int = 2, width: int = 2) -> bytes:
    """A WAV of a 440 Hz tone; `width` 1 writes unsigned 8-bit samples."""
    pcm = tone_pcm(seconds, rate, channels)
    if width == 1:
        pcm = bytes((s >> 8) + 128 for s in array.array("h", pcm))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def tone_mp3(seconds: float = 2.0, rate: int = 22050, channels: int = 1) -> bytes:
    """An MP3 of a 440 Hz tone, encoded by LAME."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(7)
    return bytes(encoder.encode(tone_pcm(seconds, rate, channels)) + encoder.flush())


def read_wav(data: bytes) -> tuple[wave._wave_params, array.array]:
    with wave.open(io.BytesIO(data), "rb") as wav:
        params = wav.getparams()
        return params, array.array("h", wav.readframes(params.nframes))


def rms(samples: array.array) -> float:
    return (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5
