"""The labelled evaluation set of the answering-machine detector, made here from a seed (no download).

    .venv/bin/python -m bench.amd.make_set [--out .run/amd-set] [--count 240] [--seed 16]

Writes `count` recordings (8 kHz, 16-bit, mono WAV), half people picking up and half answering
machines, and `labels.json` with each one's truth and timeline. Phrases are spoken by the
dialer's own offline TTS (libespeak-ng through services/dialer/adapters/prompts.py) in many
voices, at 0.85–1.2× speed (and pitch), at speech levels from -32 to -14 dBFS, under line noise
(white, pink, brown, mains hum, street) from 12 to 50 dB below the speech or none, and every
recording goes through G.711 μ-law as a call's audio does. Each continues after its speech with
the line's silence or noise, as a far end does while it waits.

People: "Hello?" and the like after 0.2–0.9 s; the same after a pause of 1–2.2 s; a phrase, a
pause, a second phrase; a noisy line; handset clicks. Machines: greetings of two to four
sentences with or without a beep; a short greeting and its beep; music-like tones before a
greeting; a carrier's voicemail announcement and its beep. Sentences of a greeting are 0.25–0.7 s
apart and the beep follows the greeting by 0.15–0.6 s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.amd.sounds import (
    NOISES,
    Audio,
    active_rms,
    beep,
    music,
    noise,
    silence,
    speak,
    to_pcm,
    write_wav,
)
from services.dialer.adapters.audio_codec import SAMPLE_RATE

DEFAULT_OUT = Path(".run/amd-set")
DEFAULT_COUNT = 240
DEFAULT_SEED = 16
LABELS = "labels.json"

# Variants whose synthesis is the same from one run to the next: the breathy female ones (f2,
# f3, f5) draw noise that differs between processes, so they are left out.
VOICES = tuple(f"{base}{variant}" for base in ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
               for variant in ("", "+m1", "+m3", "+m5", "+m7", "+f1", "+f4", "+klatt", "+croak", "+edward",
                               "+linda", "+anika", "+belinda", "+aunty", "+steph"))
HUMAN_KINDS = ("quick", "pause", "again", "noisy", "handset")
MACHINE_KINDS = ("greeting", "greeting_beep", "short_beep", "music", "carrier")

PICKUPS = ("Hello?", "Hello.", "Hi", "Hi there.", "Yes?", "Yeah?", "Hello, who is this?", "Yes, who is this?",
           "Hi, who's calling?", "Speaking.", "Hey.", "Good morning.", "Hello, Maria speaking.", "This is Tom.",
           "Yes, hello?", "Uh, hello?", "Hello, yes?", "Who is it?")
SECOND = ("Hello?", "Is anyone there?", "Hello? Who is this?", "Can you hear me?", "Hello, anybody?")
OPENERS = ("Hi, you've reached John.", "Hello, this is Sarah Miller.", "Hey, it's Mike.",
           "Thank you for calling Acme Dental.", "Hi, this is the Johnson family.", "Hello, you have reached Anna.",
           "You've reached the voicemail of David Brown.", "Hi there, it's Lisa.")
MIDDLES = ("I can't take your call right now.", "We are not available to take your call.", "Sorry I missed you.",
           "Our office is currently closed.", "I'm away from my phone at the moment.",
           "I'm either on the other line or away from my desk.", "Our opening hours are nine to five, Monday to Friday.")
CLOSERS = ("Please leave a message after the tone.", "Leave your name and number and I'll call you back.",
           "Please leave a message.", "Thanks, and have a great day.", "Record your message after the beep.",
           "I'll get back to you as soon as I can.")
SHORT_GREETINGS = ("Please leave a message.", "Hi, it's Mike.", "Leave a message.", "This is Anna.",
                   "Speak after the tone.", "Not here, leave a message.")
CARRIER = ("The person you are calling is not available.", "The number you have dialled cannot take your call.",
           "At the tone, please record your message.", "When you have finished recording, you may hang up.")
BEEP_HZ = (440.0, 800.0, 850.0, 1000.0, 1004.0, 1400.0, 1500.0, 2000.0)


@dataclass
class Recording:
    file: str
    label: str                 # the truth: human | machine
    kind: str
    voice: str
    speed: float
    texts: list[str]
    noise: str                 # one of NOISES, or none
    snr_db: float | None       # speech level over the noise
    level_dbfs: float          # the speech's own RMS level
    sound_start_ms: int = 0    # the first sound of the far end (speech or music)
    speech_end_ms: int = 0     # the end of the last speech
    beep_start_ms: int | None = None
    beep_end_ms: int | None = None
    duration_ms: int = 0
    parts: list[tuple[str, int, int]] = field(default_factory=list)  # (what, start ms, end ms)


class _Track:
    """Sounds laid one after the other, each at its own level, with the time of each kept."""

    def __init__(self) -> None:
        self.pieces: list[Audio] = []
        self.parts: list[tuple[str, int, int]] = []
        self.samples = 0

    def pause(self, seconds: float) -> None:
        self.add("pause", silence(seconds))

    def add(self, what: str, audio: Audio) -> None:
        start = self.samples
        self.pieces.append(audio)
        self.samples += audio.size
        if what != "pause":
            self.parts.append((what, start * 1000 // SAMPLE_RATE, self.samples * 1000 // SAMPLE_RATE))

    def audio(self) -> Audio:
        return np.concatenate(self.pieces) if self.pieces else silence(0)


def _pick(rng: np.random.Generator, options: tuple[str, ...], k: int = 1) -> list[str]:
    return [str(x) for x in rng.choice(options, size=k, replace=False)]


Say = Callable[[str], Audio]


def _human(kind: str, rng: np.random.Generator, say: Say) -> tuple[_Track, list[str]]:
    track, texts = _Track(), _pick(rng, PICKUPS)
    track.pause(rng.uniform(1.0, 2.2) if kind == "pause" else rng.uniform(0.2, 0.9))
    track.add("speech", say(texts[0]))
    if kind == "again":
        texts += _pick(rng, SECOND)
        track.pause(rng.uniform(1.0, 2.0))
        track.add("speech", say(texts[1]))
    return track, texts


def _machine(kind: str, rng: np.random.Generator, say: Say, target: float) -> tuple[_Track, list[str]]:
    track = _Track()
    peak = target * np.sqrt(2)  # a sine of this amplitude has the speech's RMS
    track.pause(rng.uniform(0.1, 1.2))
    if kind == "music":
        track.add("music", music(rng.uniform(1.0, 2.5), rng) * peak * 10 ** (rng.uniform(-10, 0) / 20))
        track.pause(rng.uniform(0.1, 0.5))
    if kind == "short_beep":
        texts = _pick(rng, SHORT_GREETINGS)
    elif kind == "carrier":
        texts = [CARRIER[int(rng.integers(0, 2))], *CARRIER[2:2 + int(rng.integers(1, 3))]]
    else:
        texts = _pick(rng, OPENERS) + _pick(rng, MIDDLES, int(rng.integers(0, 3))) + _pick(rng, CLOSERS)
    for n, text in enumerate(texts):
        if n:
            track.pause(rng.uniform(0.25, 0.7))
        track.add("speech", say(text))
    if kind in ("greeting_beep", "short_beep", "carrier") or (kind == "music" and rng.random() < 0.5):
        track.pause(rng.uniform(0.15, 0.6))
        track.add("beep", beep(float(rng.choice(BEEP_HZ)) + rng.uniform(-5, 5), rng.uniform(0.2, 1.0))
                  * peak * 10 ** (rng.uniform(-6, 3) / 20))
    return track, texts


def make_recording(index: int, label: str, seed: int, cache: Path) -> tuple[Recording, Audio]:
    """Recording `index` of the set made from `seed`: the same whatever the set's size."""
    rng = np.random.default_rng([seed, index])
    kinds = HUMAN_KINDS if label == "human" else MACHINE_KINDS
    kind = kinds[index // 2 % len(kinds)]
    voice, speed = str(rng.choice(VOICES)), round(float(rng.uniform(0.85, 1.2)), 3)
    level = float(rng.uniform(-32, -14))
    target = 32768 * 10 ** (level / 20)

    def say(text: str) -> Audio:
        spoken = speak(cache, voice, text, speed)
        return spoken * (target / (active_rms(spoken) or 1.0))

    if label == "human":
        track, texts = _human(kind, rng, say)
        track.pause(rng.uniform(5.0, 7.0))  # the person waits for an answer
    else:
        track, texts = _machine(kind, rng, say, target)
        track.pause(rng.uniform(2.0, 4.0))  # the machine records
    audio = track.audio()
    if kind == "handset":  # knocks and rustles shorter than a syllable
        for _ in range(int(rng.integers(2, 5))):
            at, length = int(rng.integers(0, audio.size - 400)), int(rng.integers(80, 320))
            audio[at:at + length] += rng.standard_normal(length) * target * 0.5
    kind_of_noise, snr = "none", None
    if kind == "noisy" or rng.random() < 0.85:
        kind_of_noise = str(rng.choice(NOISES))
        snr = round(float(rng.uniform(12, 20) if kind == "noisy" else rng.uniform(20, 50)), 1)
        audio = audio + noise(kind_of_noise, audio.size / SAMPLE_RATE, rng) * target * 10 ** (-snr / 20)
    speech = [p for p in track.parts if p[0] in ("speech", "music")]
    beeps = [p for p in track.parts if p[0] == "beep"]
    recording = Recording(
        file=f"{index:04d}-{label}-{kind}.wav", label=label, kind=kind, voice=voice, speed=speed, texts=texts,
        noise=kind_of_noise, snr_db=snr, level_dbfs=round(level, 1), sound_start_ms=speech[0][1],
        speech_end_ms=max(p[2] for p in track.parts if p[0] == "speech"),
        beep_start_ms=beeps[0][1] if beeps else None, beep_end_ms=beeps[0][2] if beeps else None,
        duration_ms=audio.size * 1000 // SAMPLE_RATE, parts=track.parts)
    return recording, audio


def make_set(out: Path, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> list[Recording]:
    """Write `count` recordings (even indices people, odd ones machines) and their labels under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    recordings = []
    # libespeak-ng's waveform carries a little state from one synthesis to the next: the same set
    # comes from a fresh process rendering the same phrases in the same order, so no cache is
    # kept from another run.
    with tempfile.TemporaryDirectory(prefix="amd-tts-") as cache:
        for index in range(count):
            recording, audio = make_recording(index, "human" if index % 2 == 0 else "machine", seed, Path(cache))
            write_wav(out / recording.file, to_pcm(audio))
            recordings.append(recording)
    labels = {"seed": seed, "count": count, "sample_rate": SAMPLE_RATE,
              "recordings": [asdict(r) for r in recordings]}
    (out / LABELS).write_text(json.dumps(labels, indent=1))
    return recordings


def load_labels(directory: Path) -> list[Recording]:
    data = json.loads((directory / LABELS).read_text())
    return [Recording(**{**r, "parts": [tuple(p) for p in r["parts"]]}) for r in data["recordings"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    recordings = make_set(args.out, args.count, args.seed)
    humans = sum(r.label == "human" for r in recordings)
    print(f"{len(recordings)} recordings ({humans} people, {len(recordings) - humans} machines) in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
