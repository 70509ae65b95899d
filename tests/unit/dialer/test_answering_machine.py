"""The answering-machine rule on synthetic audio: silence, beeps (pure tones), speech-like bursts
(noise shaped into syllables), line noise and levels; the same audio gives the same decision
however it is cut into chunks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dialer.domain.answering_machine import Decision, Detector, GreetingEnded, Thresholds

RATE = 8000
T = Thresholds()


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * RATE // 1000)


def at_level(signal: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(signal)))) or 1.0
    return signal * (32768 * 10 ** (dbfs / 20) / rms)


def tone(hz: float, ms: int, dbfs: float = -15.0) -> np.ndarray:
    t = np.arange(ms * RATE // 1000) / RATE
    return at_level(np.sin(2 * np.pi * hz * t), dbfs)


def noise(ms: int, dbfs: float, seed: int = 0) -> np.ndarray:
    return at_level(np.random.default_rng(seed).standard_normal(ms * RATE // 1000), dbfs)


def speech(ms: int, dbfs: float = -20.0, seed: int = 1) -> np.ndarray:
    """Noise shaped like speech: words of one to three syllables of 120–250 ms (loud in their middle,
    20 dB down at their edges) with 40–120 ms between words, 30 dB down."""
    rng = np.random.default_rng(seed)
    envelope: list[np.ndarray] = []
    while sum(e.size for e in envelope) < ms * RATE // 1000:
        for _ in range(int(rng.integers(1, 4))):
            length = int(rng.integers(120, 250)) * RATE // 1000
            envelope.append(0.1 + 0.9 * np.sin(np.linspace(0, np.pi, length)))
        envelope.append(np.full(int(rng.integers(40, 120)) * RATE // 1000, 0.03))
    shape = np.concatenate(envelope)[: ms * RATE // 1000]
    return at_level(rng.standard_normal(shape.size) * shape, dbfs)


def pcm(*parts: np.ndarray, floor_dbfs: float | None = None, seed: int = 7) -> bytes:
    audio = np.concatenate(parts)
    if floor_dbfs is not None:
        audio = audio + noise(audio.size * 1000 // RATE, floor_dbfs, seed)
    return np.clip(np.round(audio), -32768, 32767).astype("<i2").tobytes()


def run(audio: bytes, chunk: int = 320) -> Detector:
    detector = Detector()
    for start in range(0, len(audio), chunk):
        detector.feed(audio[start:start + chunk])
    return detector


def decided(audio: bytes) -> Decision:
    decision = run(audio).decision
    assert decision is not None
    return decision


def test_silence_is_unknown_once_the_initial_silence_has_passed():
    decision = decided(pcm(silence(6000)))
    assert decision.result == "unknown"
    assert decision.decision_ms == T.initial_silence_ms
    assert decision.features["initial_silence_ms"] == T.initial_silence_ms
    assert decision.features["sound_ms"] == 0


def test_a_short_greeting_then_silence_is_a_person():
    decision = decided(pcm(silence(500), speech(600), silence(3000)))
    assert decision.result == "human"
    # Decided once the silence after the greeting has lasted, not before.
    assert 500 + 600 + T.after_greeting_silence_ms - 100 <= decision.decision_ms <= 500 + 600 + T.after_greeting_silence_ms + 100
    assert abs(int(decision.features["initial_silence_ms"]) - 500) <= 60
    assert decision.features["beep"] is False


def test_speech_that_goes_on_past_the_greeting_limit_is_a_machine():
    decision = decided(pcm(silence(300), speech(4000), silence(1000)))
    assert decision.result == "machine"
    assert 300 + T.greeting_machine_ms - 100 <= decision.decision_ms <= 300 + T.greeting_machine_ms + 200
    assert decision.features["beep"] is False
    assert decision.features["sound_ms"] >= T.greeting_machine_ms


def test_speech_from_the_first_sample_counts():
    assert decided(pcm(speech(4000), silence(1000))).result == "machine"
    assert decided(pcm(speech(500), silence(2000))).result == "human"


@pytest.mark.parametrize("hz", [440.0, 1000.0, 1400.0, 2000.0])
def test_a_beep_is_a_machine_as_soon_as_it_has_lasted(hz):
    decision = decided(pcm(silence(400), tone(hz, 500), silence(2000)))
    assert decision.result == "machine"
    assert decision.features["beep"] is True
    assert abs(int(decision.features["beep_hz"]) - hz) <= 20
    assert decision.decision_ms <= 400 + T.beep_min_ms + 60


def test_a_tone_shorter_than_a_beep_is_not_one():
    decision = decided(pcm(silence(400), tone(1000, 100), silence(2000)))
    assert decision.features["beep"] is False
    assert decision.result == "human"  # a short sound, then silence


def test_a_tone_outside_the_beep_band_is_not_a_beep():
    decision = decided(pcm(silence(400), tone(3200, 600), silence(4000)))
    assert decision.features["beep"] is False
    assert decision.result == "human"  # a short sound, then silence


def test_speech_like_sound_is_never_taken_for_a_beep():
    for seed in range(5):
        assert decided(pcm(silence(200), speech(4000, seed=seed))).features["beep"] is False


def test_mains_hum_is_not_sound():
    hum = tone(50, 6000, -20) + tone(150, 6000, -30)
    audio = np.concatenate((silence(500), speech(600), silence(4900))) + hum
    decision = decided(pcm(audio))
    assert decision.result == "human"


def test_clicks_shorter_than_a_word_are_silence():
    click = noise(40, -15, seed=3)
    decision = decided(pcm(silence(500), click, silence(1000), click, silence(3000)))
    assert decision.result == "unknown"
    assert decision.features["bursts"] == 0


def test_nothing_decided_by_the_maximum_analysis_time_is_unknown():
    # Words of 300 ms every second: neither long enough for a machine nor followed by a long silence.
    thresholds = Thresholds(after_greeting_silence_ms=1500, greeting_machine_ms=4000)
    detector = Detector(thresholds)
    word = np.concatenate((speech(300), silence(700)))
    detector.feed(pcm(*([word] * 8)))
    assert detector.decision is not None
    assert detector.decision.result == "unknown"
    assert detector.decision.decision_ms == thresholds.max_analysis_ms


# Every noise floor with every speech level at least 15 dB above it.
LINES = [(floor, level) for floor in (None, -65.0, -50.0, -40.0) for level in (-28.0, -18.0, -8.0)
         if floor is None or level - floor >= 15]


@pytest.mark.parametrize(("floor_dbfs", "speech_dbfs"), LINES)
def test_noise_floors_and_levels_do_not_change_the_answer(floor_dbfs, speech_dbfs):
    person = pcm(silence(700), speech(700, speech_dbfs), silence(4000), floor_dbfs=floor_dbfs)
    machine = pcm(silence(700), speech(4000, speech_dbfs), silence(1000), floor_dbfs=floor_dbfs)
    assert decided(person).result == "human"
    assert decided(machine).result == "machine"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(level=st.floats(-40, -6), snr_db=st.floats(15, 45), pause_ms=st.integers(100, 1500),
       word_ms=st.integers(200, 900), seed=st.integers(0, 1000))
def test_person_and_machine_whatever_the_line(level, snr_db, pause_ms, word_ms, seed):
    floor_dbfs = level - snr_db
    person = pcm(silence(pause_ms), speech(word_ms, level, seed), silence(4000), floor_dbfs=floor_dbfs, seed=seed)
    machine = pcm(silence(pause_ms), speech(3500, level, seed), silence(1500), floor_dbfs=floor_dbfs, seed=seed)
    assert decided(person).result == "human"
    assert decided(machine).result == "machine"


MACHINE_WITH_BEEP = pcm(silence(400), speech(2600), silence(300), tone(1000, 500), silence(3000), floor_dbfs=-60)
PERSON = pcm(silence(900), speech(500), silence(1500), speech(400), silence(3000), floor_dbfs=-55)


@settings(max_examples=40, deadline=None)
@given(audio=st.sampled_from([MACHINE_WITH_BEEP, PERSON]),
       cuts=st.lists(st.integers(1, 3000), min_size=1, max_size=60))
def test_any_split_of_the_same_audio_gives_the_same_decision(audio, cuts):
    whole = run(audio, chunk=len(audio))
    detector, start, n = Detector(), 0, 0
    while start < len(audio):
        size = cuts[n % len(cuts)]
        detector.feed(audio[start:start + size])
        start, n = start + size, n + 1
    assert detector.decision == whole.decision
    assert detector.greeting_ended == whole.greeting_ended


def test_the_decision_is_kept_once_taken():
    detector = Detector()
    first = detector.feed(pcm(silence(300), speech(2500)))
    assert first is not None and first.result == "machine"
    assert detector.feed(pcm(silence(5000))) == first
    assert detector.decision == first


def test_features_are_plain_json():
    decision = decided(MACHINE_WITH_BEEP)
    assert json.loads(json.dumps(decision.features)) == decision.features
    assert all(type(v) in (int, float, bool) for v in decision.features.values())
    assert set(decision.features) >= {"initial_silence_ms", "greeting_ms", "speech_ms", "bursts", "beep"}


def test_the_greeting_ends_just_after_the_beep_that_follows_it():
    detector = run(MACHINE_WITH_BEEP)
    beep_end = 400 + 2600 + 300 + 500
    assert detector.greeting_ended is not None
    assert detector.greeting_ended.reason == "beep"
    assert beep_end <= detector.greeting_ended.at_ms <= beep_end + T.beep_quiet_ms + 60


def test_without_a_beep_the_greeting_ends_after_a_long_silence():
    detector = run(pcm(silence(300), speech(3000), silence(4000), floor_dbfs=-60))
    speech_end = 300 + 3000
    assert detector.greeting_ended is not None
    assert detector.greeting_ended.reason == "silence"
    # The speech's last syllable fades out: its tail may already be silence.
    assert speech_end + T.greeting_end_silence_ms - 300 <= detector.greeting_ended.at_ms \
        <= speech_end + T.greeting_end_silence_ms + 100


def test_music_before_the_greeting_does_not_end_it():
    # Pure notes one after the other (each a "beep" on its own), then the greeting, then silence.
    notes = np.concatenate([tone(hz, 250) for hz in (523.0, 659.0, 784.0, 1046.0, 784.0)])
    detector = run(pcm(silence(300), notes, silence(300), speech(3000), silence(4000), floor_dbfs=-60))
    assert detector.decision is not None and detector.decision.result == "machine"
    assert detector.greeting_ended is not None
    assert detector.greeting_ended.at_ms >= 300 + 1250 + 300 + 3000


def test_a_beep_followed_by_more_greeting_is_not_its_end():
    # Speech again within beep_quiet_ms of the beep (a word lasts min_word_ms before it counts).
    greeting = [silence(300), speech(2000), silence(300), tone(1000, 400), silence(60), speech(1500, seed=2)]
    detector = run(pcm(*greeting, silence(4000), floor_dbfs=-60))
    assert detector.greeting_ended is not None
    assert detector.greeting_ended.reason == "silence"
    assert detector.greeting_ended.at_ms >= 300 + 2000 + 300 + 400 + 60 + 1500


def test_a_tone_straight_into_another_is_a_tune_not_the_end():
    tune = np.concatenate([tone(hz, 300) for hz in (1046.0, 784.0, 659.0, 523.0)])
    detector = run(pcm(silence(300), speech(2000), silence(300), tune, speech(1500, seed=2), silence(4000),
                       floor_dbfs=-60))
    assert detector.greeting_ended is not None
    assert detector.greeting_ended.at_ms >= 300 + 2000 + 300 + 1200 + 1500


def test_a_greeting_that_never_stops_ends_at_the_cap():
    detector = run(pcm(speech(T.greeting_max_ms + 2000)))
    assert detector.greeting_ended == GreetingEnded(reason="timeout", at_ms=T.greeting_max_ms)


def test_a_person_has_no_greeting_end_and_the_audio_is_no_longer_looked_at():
    detector = run(PERSON)
    assert detector.decision is not None and detector.decision.result == "human"
    assert detector.greeting_ended is None
    assert detector.heard_ms == detector.decision.decision_ms


def test_thresholds_that_cannot_cut_frames_are_refused():
    with pytest.raises(ValueError):
        Thresholds(frame_ms=0)
    with pytest.raises(ValueError):
        Thresholds(sample_rate=11025, frame_ms=20)  # 220.5 samples a frame
    with pytest.raises(ValueError):
        Thresholds(beep_max_hz=5000.0)  # above what 8 kHz audio holds
