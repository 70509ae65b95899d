"""Uploaded audio: what an upload may be, told from its bytes, before anything is decoded or stored.

Invariant: only a WAV (RIFF/WAVE) or an MP3 (an ID3 tag or an MPEG audio frame) of at most
MAX_SECONDS is accepted; the format is read from the bytes, never trusted from the client's
Content-Type, which must only not claim something else. Every refusal is a ValidationError naming
what was wrong (`body`, `Content-Type`, `name`), and a refused upload stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kernel.errors import ValidationError

WAV = "wav"
MP3 = "mp3"
FORMATS = (WAV, MP3)
# A prompt is seconds long; ten minutes is far past any prompt and bounds the converted size
# (8 kHz 16-bit mono: 16 000 bytes a second, under 10 MB).
MAX_SECONDS = 600
MAX_NAME_LENGTH = 200

# Content types an upload may be sent with; the bytes decide between WAV and MP3.
CONTENT_TYPES = frozenset({
    "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave",
    "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg-3",
    "application/octet-stream",
})

# MPEG audio frame header: 11 sync bits, then version (not the reserved 01) and layer III (01).
_MPEG_VERSIONS = (0b00, 0b10, 0b11)
_LAYER_III = 0b01


@dataclass(frozen=True)
class AudioUpload:
    """Metadata of a stored upload; its converted 8 kHz WAV is stored beside it."""

    id: str
    organization_id: str
    name: str
    format: str
    duration_ms: int
    size_bytes: int  # of the converted WAV
    created_at: datetime


def check_content_type(content_type: str) -> None:
    """A media type that is not one of CONTENT_TYPES (parameters aside) is refused."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in CONTENT_TYPES:
        shown = media or "none"
        raise ValidationError(f"Content-Type: {shown} is not accepted; send the WAV or MP3 file as the raw "
                              "body with audio/wav, audio/mpeg or application/octet-stream",
                              field="Content-Type")


def check_name(name: str) -> str:
    name = name.strip()
    if "\x00" in name:
        raise ValidationError("name: must not contain the NUL character", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"name: must be at most {MAX_NAME_LENGTH} characters", field="name")
    return name


def sniff_format(data: bytes) -> str:
    """WAV or MP3 from the file's first bytes; anything else is refused."""
    if not data:
        raise ValidationError("body: empty; send a WAV or MP3 file", field="body")
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return WAV
    if data[:3] == b"ID3" or _is_mpeg_layer3_frame(data[:4]):
        return MP3
    raise ValidationError("body: not a WAV or MP3 file", field="body")


def _is_mpeg_layer3_frame(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0b11
    return version in _MPEG_VERSIONS and layer == _LAYER_III and bitrate not in (0, 0b1111) and rate != 0b11


def check_duration(seconds: float) -> int:
    """The duration in whole milliseconds, refused when silent-empty or longer than MAX_SECONDS."""
    if seconds <= 0:
        raise ValidationError("body: the file holds no audio", field="body")
    if seconds > MAX_SECONDS:
        raise ValidationError(f"body: {seconds:.0f} s of audio; at most {MAX_SECONDS} s", field="body")
    return max(1, round(seconds * 1000))
