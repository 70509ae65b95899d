"""Answering-machine detection: who picked up, told from the first seconds of the far end's audio.

Invariant: the decision is a function of the audio alone, taken frame by frame — the same PCM
gives the same Decision (result, decision time, features) however it is cut into chunks — and it
is taken by `max_analysis_ms` at the latest. Every threshold is a field of `Thresholds`.

The far end's audio (8 kHz, signed 16-bit little-endian, mono) is cut into 20 ms frames. A frame
is *sound* when its level in the telephone band stands `speech_onset_db` above the line's noise
floor (`speech_hold_db` once sound has begun) and above `speech_min_dbfs`. The floor is a low
percentile of the levels heard lately, so a line's hiss or hum and the far end's loudness do not
matter. Sound shorter than `min_word_ms` is a click and counts as silence. A *tone* frame is a
sound frame whose energy sits almost all (`beep_purity`) at one frequency, and that frequency
lies between `beep_min_hz` and `beep_max_hz`.

After each frame, the first rule that holds decides:

1. a beep — tone frames for `beep_min_ms` whose frequency stays within `beep_drift_hz` of where
   it began (a voice's pitch glides, a beep's does not) → machine;
2. no sound for `initial_silence_ms` → unknown: a person who picks up and waits in silence is
   common, a machine that says nothing is rare, and an unknown call runs as for a person;
3. `greeting_machine_ms` of sound (speech, music) → machine: people answer with a word or two,
   greetings talk on;
4. sound, then `after_greeting_silence_ms` of silence → human: "Hello?" and a wait for an answer;
5. none of these by `max_analysis_ms` → unknown.

After a machine decision the same detector tells when the greeting has ended, so that a message
left on the recording is heard whole: `beep_quiet_ms` after a beep that followed speech and a
pause, unless new sound begins meanwhile (the machine records from the beep on; a tone straight
after other sound, or straight into another tone, is music, not the end); or after
`greeting_end_silence_ms` of silence after the last sound; or at `greeting_max_ms`, whatever was
heard.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from services.dialer.domain.audio_frames import band_level_dbfs, dominant_tone, samples_of

Result = Literal["human", "machine", "unknown"]
EndReason = Literal["beep", "silence", "timeout"]
SAMPLE_WIDTH = 2  # bytes per sample: signed 16-bit PCM


@dataclass(frozen=True)
class Thresholds:
    """Every number the rule uses. Times are in milliseconds of audio, levels in dB."""

    sample_rate: int = 8000
    frame_ms: int = 20
    # Levels are measured in the telephone band: hum and rumble below it say nothing of speech.
    band_low_hz: float = 300.0
    band_high_hz: float = 3400.0
    # The noise floor: this percentile of the frame levels of the last `noise_window_ms`, kept
    # between the two bounds (the upper one lets loud speech count from the very first frame,
    # before any quiet frame was heard).
    noise_percentile: float = 10.0
    noise_window_ms: int = 10_000
    floor_min_dbfs: float = -70.0
    floor_max_dbfs: float = -20.0
    speech_onset_db: float = 10.0
    speech_hold_db: float = 6.0
    speech_min_dbfs: float = -50.0
    min_word_ms: int = 80
    # The rule.
    initial_silence_ms: int = 3500
    greeting_machine_ms: int = 1500
    after_greeting_silence_ms: int = 800
    max_analysis_ms: int = 5000
    # The beep: a steady pure tone.
    beep_min_hz: float = 300.0
    beep_max_hz: float = 3000.0
    beep_purity: float = 0.8
    beep_drift_hz: float = 10.0
    beep_min_ms: int = 160
    # The end of a machine's greeting: a beep after `beep_after_quiet_ms` of quiet (a note of
    # music follows another note at once), and no new sound for `beep_quiet_ms` after it.
    beep_after_quiet_ms: int = 100
    beep_quiet_ms: int = 200
    greeting_end_silence_ms: int = 2000
    greeting_max_ms: int = 30_000

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.frame_ms <= 0 or (self.sample_rate * self.frame_ms) % 1000:
            raise ValueError("a frame must hold a whole number of samples")
        if not 0.0 <= self.noise_percentile <= 100.0:
            raise ValueError("noise_percentile must lie in 0..100")
        if not 0.0 < self.beep_min_hz < self.beep_max_hz <= self.sample_rate / 2:
            raise ValueError("the beep band must lie within 0..sample_rate/2")

    @property
    def frame_samples(self) -> int:
        return self.sample_rate * self.frame_ms // 1000

    def frames(self, ms: int) -> int:
        """The number of whole frames that covers `ms` (at least one)."""
        return max(1, math.ceil(ms / self.frame_ms))


@dataclass(frozen=True)
class Decision:
    result: Result
    decision_ms: int  # audio heard when decided, from the first sample fed
    # What the rule looked at, JSON-serialisable (plain int, float and bool only).
    features: dict[str, float | int | bool]


@dataclass(frozen=True)
class GreetingEnded:
    reason: EndReason
    at_ms: int  # audio heard when the end was known: the message starts from here


class Detector:
    """Feed it the far end's audio from the answer on; it decides once and keeps that decision.

    After a machine decision, go on feeding it to learn when the greeting ends (`greeting_ended`);
    after a human or unknown one it has nothing more to tell and no longer looks at the audio.
    """

    def __init__(self, thresholds: Thresholds = Thresholds()) -> None:
        self.thresholds = thresholds
        t = thresholds
        self._frame_bytes = t.frame_samples * SAMPLE_WIDTH
        self._word, self._beep_frames = t.frames(t.min_word_ms), t.frames(t.beep_min_ms)
        self._quiet_before_beep = t.frames(t.beep_after_quiet_ms)
        self._buffer = bytearray()
        self._previous = np.zeros(t.frame_samples)
        # The last noise_window_ms of levels, in arrival order and sorted (for the percentile).
        self._levels: deque[float] = deque(maxlen=t.frames(t.noise_window_ms))
        self._sorted_levels: list[float] = []
        self._frames = 0
        self._floor, self._peak = t.floor_max_dbfs, -math.inf
        # Sound: a pending run of loud frames becomes sound once it lasts a word.
        self._in_sound = False
        self._run = self._run_voice = 0
        self._first_sound: int | None = None
        self._last_sound = -1
        self._sound = self._voice = self._bursts = 0
        # Beep: the current run of tone frames at one frequency.
        self._tone_run, self._tone_hz, self._voice_before_tone = 0, 0.0, 0
        # Quiet before the current loud stretch, and where that stretch began.
        self._quiet_run = self._quiet_before_loud = self._quiet_before_tone = 0
        self._loud_since = 0
        self._beep_hz: float | None = None
        self._beep_over_at: int | None = None  # frame after a beep that followed speech
        self._decision: Decision | None = None
        self._ended: GreetingEnded | None = None

    @property
    def decision(self) -> Decision | None:
        return self._decision

    @property
    def greeting_ended(self) -> GreetingEnded | None:
        """When a machine's greeting ended (a beep, a long silence, the cap); None before that and
        for any other decision."""
        return self._ended

    @property
    def heard_ms(self) -> int:
        """The audio looked at so far (whole frames)."""
        return self._frames * self.thresholds.frame_ms

    def feed(self, pcm: bytes) -> Decision | None:
        """Audio that follows what was fed before, in chunks of any size; the decision once taken."""
        if self._done():
            return self._decision
        self._buffer.extend(pcm)
        whole = len(self._buffer) - len(self._buffer) % self._frame_bytes
        for start in range(0, whole, self._frame_bytes):
            self._frame(bytes(self._buffer[start:start + self._frame_bytes]))
            if self._done():
                break
        del self._buffer[:whole]
        return self._decision

    def _done(self) -> bool:
        """Nothing left to tell: the audio that follows is no longer looked at."""
        return self._ended is not None or (self._decision is not None and self._decision.result != "machine")

    def _frame(self, pcm: bytes) -> None:
        t, i = self.thresholds, self._frames
        self._frames += 1
        samples = samples_of(pcm)
        level = band_level_dbfs(samples, t.sample_rate, t.band_low_hz, t.band_high_hz)
        self._peak = max(self._peak, level)
        self._floor = min(max(self._noise_percentile(level), t.floor_min_dbfs), t.floor_max_dbfs)
        margin = t.speech_hold_db if self._in_sound else t.speech_onset_db
        loud = level >= max(self._floor + margin, t.speech_min_dbfs)
        # Over two frames (40 ms): bins fine enough to tell a beep from a voice's harmonics.
        tone = dominant_tone(np.concatenate((self._previous, samples)), t.sample_rate)
        self._previous = samples
        is_tone = loud and tone.purity >= t.beep_purity and t.beep_min_hz <= tone.hz <= t.beep_max_hz
        self._follow_tone(i, loud, is_tone, tone.hz)
        self._follow_sound(i, loud, is_tone)
        if self._decision is None:
            self._decide(i)
        self._watch_greeting_end(i)

    def _noise_percentile(self, level: float) -> float:
        if len(self._levels) == self._levels.maxlen:
            del self._sorted_levels[bisect.bisect_left(self._sorted_levels, self._levels[0])]
        self._levels.append(level)
        bisect.insort(self._sorted_levels, level)
        rank = self.thresholds.noise_percentile / 100.0 * (len(self._sorted_levels) - 1)
        return self._sorted_levels[int(rank)]  # the nearest rank below: no interpolation needed

    def _follow_tone(self, i: int, loud: bool, is_tone: bool, hz: float) -> None:
        if loud and self._quiet_run:
            self._loud_since, self._quiet_before_loud = i, self._quiet_run
        if is_tone and self._tone_run and abs(hz - self._tone_hz) <= self.thresholds.beep_drift_hz:
            self._tone_run += 1
        else:
            if (not is_tone and self._tone_run >= self._beep_frames and self._voice_before_tone >= self._word
                    and self._quiet_before_tone >= self._quiet_before_beep):
                self._beep_over_at = i
            elif is_tone:
                self._beep_over_at = None  # another tone after the beep: a tune, not the greeting's end
            self._tone_run, self._tone_hz, self._voice_before_tone = int(is_tone), hz, self._voice
            # A beep's first frame may hold only its first milliseconds: a click, not yet a tone.
            self._quiet_before_tone = self._quiet_before_loud if i - self._loud_since <= 1 else 0
        self._quiet_run = 0 if loud else self._quiet_run + 1
        if self._tone_run >= self._beep_frames and self._beep_hz is None:
            self._beep_hz = self._tone_hz

    def _follow_sound(self, i: int, loud: bool, is_tone: bool) -> None:
        if not loud:
            self._in_sound, self._run, self._run_voice = False, 0, 0
        elif self._in_sound:
            self._sound += 1
            self._voice += not is_tone
            self._last_sound = i
        else:
            self._run += 1
            self._run_voice += not is_tone
            if self._run >= self._word:
                if self._first_sound is None:
                    self._first_sound = i - self._run + 1
                self._in_sound, self._last_sound = True, i
                self._sound += self._run
                self._voice += self._run_voice
                self._bursts += 1
                self._run = self._run_voice = 0
                self._beep_over_at = None  # sound again after the beep: it was not the greeting's last

    def _silence_ms(self, i: int) -> int:
        """Since the last sound, or since the answer when there was none."""
        frames = i - self._last_sound if self._first_sound is not None else i + 1
        return frames * self.thresholds.frame_ms

    def _decide(self, i: int) -> None:
        t = self.thresholds
        now = (i + 1) * t.frame_ms
        result: Result | None = None
        if self._beep_hz is not None:
            result = "machine"
        elif self._first_sound is None and now >= t.initial_silence_ms:
            result = "unknown"
        elif self._sound * t.frame_ms >= t.greeting_machine_ms:
            result = "machine"
        elif self._first_sound is not None and self._silence_ms(i) >= t.after_greeting_silence_ms:
            result = "human"
        elif now >= t.max_analysis_ms:
            result = "unknown"
        if result is not None:
            self._decision = Decision(result=result, decision_ms=now, features=self._features(i))

    def _features(self, i: int) -> dict[str, float | int | bool]:
        frame_ms, first = self.thresholds.frame_ms, self._first_sound
        return {
            "initial_silence_ms": (first if first is not None else i + 1) * frame_ms,
            "greeting_ms": (self._last_sound - first + 1) * frame_ms if first is not None else 0,
            "sound_ms": self._sound * frame_ms,
            "speech_ms": self._voice * frame_ms,
            "bursts": self._bursts,
            "silence_ms": self._silence_ms(i),
            "beep": self._beep_hz is not None,
            "beep_hz": int(round(self._beep_hz or 0.0)),
            "noise_floor_dbfs": round(self._floor, 1),
            "peak_dbfs": round(self._peak, 1),
        }

    def _watch_greeting_end(self, i: int) -> None:
        t = self.thresholds
        now = (i + 1) * t.frame_ms
        reason: EndReason | None = None
        if self._beep_over_at is not None and i - self._beep_over_at + 1 >= t.frames(t.beep_quiet_ms):
            reason = "beep"
        elif self._first_sound is not None and self._silence_ms(i) >= t.greeting_end_silence_ms:
            reason = "silence"
        elif now >= t.greeting_max_ms:
            reason = "timeout"
        if reason is not None and self._decision is not None and self._decision.result == "machine":
            self._ended = GreetingEnded(reason=reason, at_ms=now)
