"""Text prompts through the real libespeak-ng: 8 kHz 16-bit mono WAV files, spoken (not silence),
written once into the cache and reused by later calls, other instances and concurrent threads."""

from __future__ import annotations

import array
import threading
import wave
from pathlib import Path

import pytest

from services.dialer.adapters import prompts as prompts_module
from services.dialer.adapters.prompts import PromptError, Prompts

TEXT = "Hello, this is a reminder of your appointment tomorrow. Press 1 to confirm."


def read_wav(path: Path) -> tuple[wave._wave_params, array.array]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        samples = array.array("h", wav.readframes(params.nframes))
    return params, samples


def rms(samples: array.array) -> float:
    return (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5


def render_without_synthesis(prompts: Prompts, text: str) -> Path:
    """render() while this thread holds the synthesiser's lock: it returns only if it never synthesises."""
    answer: list[Path] = []
    with prompts_module._ESPEAK.lock:
        worker = threading.Thread(target=lambda: answer.append(prompts.render(text)))
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), "render() waited for the synthesiser: the cached file was not reused"
    return answer[0]


def test_render_writes_8khz_16bit_mono_speech(tmp_path):
    path = Prompts(tmp_path).render(TEXT)

    params, samples = read_wav(path)
    assert (params.framerate, params.sampwidth, params.nchannels) == (8000, 2, 1)
    assert 2.0 < params.nframes / params.framerate < 10.0  # a sentence, not a click or a minute
    assert rms(samples) > 500, "the prompt is silent"
    assert max(abs(s) for s in samples) > 3000


def test_second_render_reuses_the_file_without_synthesising(tmp_path):
    prompts = Prompts(tmp_path)
    first = prompts.render(TEXT)
    before = first.stat()

    again = render_without_synthesis(prompts, TEXT)
    other_instance = render_without_synthesis(Prompts(tmp_path), TEXT)

    assert again == other_instance == first
    after = first.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_voice_and_text_each_name_their_own_file(tmp_path):
    english = Prompts(tmp_path, voice="en")
    french = Prompts(tmp_path, voice="fr")

    paths = {english.render("Bonjour"), french.render("Bonjour"), english.render("Goodbye")}

    assert len(paths) == 3
    assert all(p.parent == tmp_path / "tts" for p in paths)


def test_concurrent_renders_of_one_text_write_one_complete_file(tmp_path):
    results: list[Path] = []
    errors: list[BaseException] = []

    def render() -> None:
        try:
            results.append(Prompts(tmp_path).render("Your table is ready."))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=render) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert len(set(results)) == 1 and len(results) == 8
    assert sorted(p.name for p in (tmp_path / "tts").iterdir()) == [results[0].name]  # no temporary left
    params, samples = read_wav(results[0])
    assert params.framerate == 8000 and rms(samples) > 500


def test_different_texts_render_concurrently_each_intact(tmp_path):
    texts = [f"Your order number {n} has shipped." for n in range(6)]
    paths: dict[str, Path] = {}

    def render(text: str) -> None:
        paths[text] = Prompts(tmp_path).render(text)

    threads = [threading.Thread(target=render, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(set(paths.values())) == len(texts)
    for path in paths.values():
        params, samples = read_wav(path)
        assert params.framerate == 8000 and params.nframes > 8000 and rms(samples) > 500


def test_empty_text_and_unknown_voice_are_refused(tmp_path):
    with pytest.raises(PromptError):
        Prompts(tmp_path).render("   ")
    with pytest.raises(PromptError):
        Prompts(tmp_path, voice="no-such-voice").render("Hello")
    assert not (tmp_path / "tts").exists() or not any((tmp_path / "tts").iterdir())
