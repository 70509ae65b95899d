"""What an upload may be, told from its bytes: WAV or MP3, a known content type, a bounded length."""

import pytest

from kernel.errors import ValidationError
from services.dialer.domain.audio_uploads import (
    MAX_SECONDS,
    MP3,
    WAV,
    check_content_type,
    check_duration,
    check_name,
    sniff_format,
)

WAV_HEAD = b"RIFF\x24\x08\x00\x00WAVEfmt "
MP3_FRAME = bytes([0xFF, 0xFB, 0x90, 0x64])    # MPEG-1 layer III, 128 kb/s, 44.1 kHz
MP3_V2_FRAME = bytes([0xFF, 0xF3, 0x40, 0xC4])  # MPEG-2 layer III, as lame writes at 22.05 kHz


def field_of(check, *args) -> str | None:
    try:
        check(*args)
    except ValidationError as exc:
        return exc.field
    return None


@pytest.mark.parametrize("head, fmt", [
    (WAV_HEAD, WAV),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", MP3),
    (MP3_FRAME + b"\x00" * 8, MP3),
    (MP3_V2_FRAME + b"\x00" * 8, MP3),
])
def test_wav_and_mp3_are_told_from_their_bytes(head, fmt):
    assert sniff_format(head) == fmt


@pytest.mark.parametrize("data", [
    b"",
    b"OggS\x00\x02" + b"\x00" * 20,           # Ogg Vorbis
    b"fLaC\x00\x00\x00\x22" + b"\x00" * 20,   # FLAC
    b"RIFF\x24\x08\x00\x00AVI LIST",           # a RIFF that is not WAVE
    b'{"text": "hello"}',
    bytes([0xFF, 0xFD, 0x90, 0x64]),          # MPEG layer II
    bytes([0xFF, 0xFB, 0xF0, 0x64]),          # layer III with the forbidden bitrate index
    bytes([0xFF, 0xFB, 0x9C, 0x64]),          # layer III with the reserved sample rate
    bytes([0xFF, 0xEB, 0x90, 0x64]),          # reserved MPEG version
])
def test_anything_else_is_refused_naming_the_body(data):
    assert field_of(sniff_format, data) == "body"


@pytest.mark.parametrize("content_type", [
    "audio/wav", "audio/x-wav", "AUDIO/WAVE", "audio/mpeg", "audio/mp3", "application/octet-stream",
    "audio/mpeg; charset=binary",
])
def test_audio_content_types_are_accepted(content_type):
    check_content_type(content_type)


@pytest.mark.parametrize("content_type", ["", "application/json", "multipart/form-data; boundary=x", "audio/ogg",
                                          "text/plain"])
def test_other_content_types_are_refused(content_type):
    assert field_of(check_content_type, content_type) == "Content-Type"


def test_duration_bounds():
    assert check_duration(1.5) == 1500
    assert check_duration(0.0004) == 1
    assert check_duration(MAX_SECONDS) == MAX_SECONDS * 1000
    assert field_of(check_duration, 0.0) == "body"
    assert field_of(check_duration, MAX_SECONDS + 1) == "body"


def test_name_is_trimmed_and_bounded():
    assert check_name("  greeting.mp3 ") == "greeting.mp3"
    assert field_of(check_name, "x" * 201) == "name"
    assert field_of(check_name, "a\x00b") == "name"
