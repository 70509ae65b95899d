"""Decoding uploaded WAV and MP3 files and converting them to the 8 kHz 16-bit mono WAV a call plays.

miniaudio (dr_wav, dr_mp3 and its resampler) does the decoding and the conversion; the format was
already told from the bytes (domain/audio_uploads.py), so each file goes to its own decoder and a
WAV that is really something else cannot slip through another one.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import miniaudio

from kernel.errors import ValidationError
from services.dialer.domain.audio_uploads import MP3, check_duration

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2
CHANNELS = 1


@dataclass(frozen=True)
class Converted:
    wav: bytes        # a whole WAV file: 8 kHz, 16-bit, mono PCM
    duration_ms: int  # of the source (the conversion keeps it)


def to_telephony(samples: bytes, rate: int, channels: int = 1) -> bytes:
    """Signed 16-bit PCM at `rate` with `channels` → 8 kHz 16-bit mono PCM."""
    fmt = miniaudio.SampleFormat.SIGNED16
    return bytes(miniaudio.convert_frames(fmt, channels, rate, samples, fmt, CHANNELS, SAMPLE_RATE))


def wav_bytes(pcm: bytes) -> bytes:
    """8 kHz 16-bit mono PCM as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return out.getvalue()


def convert(data: bytes, fmt: str) -> Converted:
    """The upload as an 8 kHz WAV; ValidationError when it cannot be decoded or is too long.

    The duration is read from the header first, so a file past the limit is refused before it
    is decoded."""
    get_info, read = ((miniaudio.mp3_get_info, miniaudio.mp3_read_s16) if fmt == MP3
                      else (miniaudio.wav_get_info, miniaudio.wav_read_s16))
    unplayable = ValidationError(f"body: not a playable {fmt.upper()} file", field="body")
    # Whatever the decoder trips on (an error, a header with a zero rate) is the file's fault.
    try:
        info = get_info(data)
    except Exception:
        raise unplayable from None
    duration_ms = check_duration(info.duration)
    try:
        decoded = read(data)
    except Exception:
        raise unplayable from None
    if not decoded.samples or decoded.sample_rate <= 0 or decoded.nchannels <= 0:
        raise ValidationError("body: the file holds no audio", field="body")
    pcm = to_telephony(decoded.samples.tobytes(), decoded.sample_rate, decoded.nchannels)
    return Converted(wav=wav_bytes(pcm), duration_ms=duration_ms)
