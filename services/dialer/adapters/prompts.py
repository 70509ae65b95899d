"""Prompts a call plays: text spoken offline by libespeak-ng, and uploaded audio, as 8 kHz WAV files.

Invariant: a prompt file, once in the cache directory, is complete and never changes. Each is
written to a temporary name and renamed into place, so a reader (this process or another sharing
the directory) sees either nothing or the whole file; a file present is reused, never rendered
again. Text prompts are named by sha256(voice, text); uploaded audio by its id.

libespeak-ng keeps its state in globals and is not re-entrant: one process-wide lock serialises
every synthesis, whichever `Prompts` instance asks.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import espeakng_loader

from kernel import ids
from services.dialer.adapters import audio_codec
from services.dialer.adapters.audio_codec import to_telephony, wav_bytes
from services.dialer.adapters.audio_store import fetch_wav_from_settings

# Every prompt is 8 kHz, 16-bit, mono PCM: the SIP workers' conference clock.
SAMPLE_RATE = audio_codec.SAMPLE_RATE
SAMPLE_WIDTH = audio_codec.SAMPLE_WIDTH
CHANNELS = audio_codec.CHANNELS

# From espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_INITIALIZE_DONT_EXIT = 0x8000
_EE_OK = 0
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

# Reads an uploaded audio's converted WAV bytes by id; None when there is no such audio.
AudioSource = Callable[[str], bytes | None]


class PromptError(RuntimeError):
    """A prompt that cannot be produced (the synthesiser refused, or produced no sound)."""


class _Espeak:
    """The one libespeak-ng of this process, driven in synchronous mode."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._lib: ctypes.CDLL | None = None
        self._rate = 0
        self._chunks: list[bytes] = []
        # Kept referenced for the library's lifetime: the C side holds only the pointer.
        self._callback = _SYNTH_CALLBACK(self._on_samples)

    def _on_samples(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * SAMPLE_WIDTH))
        return 0  # 0: go on synthesising

    def _load(self) -> ctypes.CDLL:
        if self._lib is not None:
            return self._lib
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        data = espeakng_loader.get_data_path().encode()
        # DONT_EXIT: a missing data file is an error code, not the end of the process.
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise PromptError(f"libespeak-ng did not initialise (data at {data.decode()})")
        lib.espeak_SetSynthCallback(self._callback)
        self._lib, self._rate = lib, rate
        return lib

    def synthesise(self, text: str, voice: str) -> tuple[bytes, int]:
        """16-bit mono samples of `text` and their rate. The caller holds `lock`."""
        lib = self._load()
        if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise PromptError(f"unknown voice {voice!r}")
        encoded = text.encode() + b"\0"
        self._chunks = []
        try:
            code = lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE,
                                    None, None)
            if code != _EE_OK:
                raise PromptError(f"libespeak-ng refused the text (code {code})")
            lib.espeak_Synchronize()
            return b"".join(self._chunks), self._rate
        finally:
            self._chunks = []


_ESPEAK = _Espeak()


def write_file_atomically(path: Path, data: bytes) -> Path:
    """Write `data` at `path` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def prompt_key(voice: str, text: str) -> str:
    """The cache name of a text prompt: sha256 over the voice and the text, NUL-separated."""
    return hashlib.sha256(voice.encode() + b"\0" + text.encode()).hexdigest()


class Prompts:
    """Prompt files for calls, cached under `cache_dir` (tts/ for text, audio/ for uploads)."""

    def __init__(self, cache_dir: Path, voice: str = "en", audio_source: AudioSource | None = None):
        self.cache_dir = Path(cache_dir)
        self.voice = voice
        # Where uploaded audio comes from: the dialer's database unless a source is given.
        self._audio_source = audio_source or fetch_wav_from_settings
        self._audio_lock = threading.Lock()

    def render(self, text: str) -> Path:
        """The WAV of `text` spoken in this voice: from the cache, or synthesised once into it."""
        if not text.strip():
            raise PromptError("nothing to say: the text is empty")
        path = self.cache_dir / "tts" / f"{prompt_key(self.voice, text)}.wav"
        if path.exists():
            return path
        with _ESPEAK.lock:
            if path.exists():  # another thread rendered it while this one waited
                return path
            samples, rate = _ESPEAK.synthesise(text, self.voice)
            if not samples:
                raise PromptError("libespeak-ng produced no sound")
            # Written before the lock is let go, so a thread waiting on it finds the file.
            return write_file_atomically(path, wav_bytes(to_telephony(samples, rate)))

    def audio(self, audio_id: str) -> Path | None:
        """The converted WAV of an uploaded audio, fetched once into the cache; None when unknown."""
        wanted = ids.canonical(audio_id)  # also keeps the id from naming a path
        if wanted is None:
            return None
        path = self.cache_dir / "audio" / f"{wanted}.wav"
        if path.exists():
            return path
        with self._audio_lock:
            if path.exists():
                return path
            data = self._audio_source(wanted)
            if data is None:
                return None
            return write_file_atomically(path, data)
