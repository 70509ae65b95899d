"""The answering-machine detector over the labelled set: confusion matrix, accuracy per class and
decision times; also when a machine's greeting was found to end (where a message would start).

    .venv/bin/python -m bench.amd.evaluate [--set .run/amd-set] [--json bench/results/amd.json]

Each recording is fed to a fresh Detector in 20 ms chunks, as the SIP line hands audio over. A
person is classified right when the decision is human or unknown (unknown runs the flow as for a
person); a machine only when the decision is machine. The decision time counts from the first
sample, the answer. A greeting end is right when it comes after the greeting's last sound (after
the beep's end when there is a beep), so a message left then is recorded whole.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.amd.make_set import DEFAULT_OUT, Recording, load_labels
from bench.amd.sounds import read_wav
from services.dialer.domain.answering_machine import Detector, Thresholds

RESULTS = Path(__file__).resolve().parent.parent / "results" / "amd.json"
CHUNK_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
TRUTHS = ("human", "machine")
RESULTS_OF = ("human", "machine", "unknown")
TARGETS = {"machine_accuracy": 0.95, "human_accuracy": 0.97, "median_ms": 2500, "p95_ms": 4000}


@dataclass
class Outcome:
    file: str
    truth: str
    kind: str
    result: str
    decision_ms: int
    features: dict[str, float | int | bool]
    greeting_end: str | None = None
    greeting_end_ms: int | None = None
    greeting_end_right: bool | None = None


@dataclass
class Evaluation:
    recordings: int
    confusion: dict[str, dict[str, int]]
    human_accuracy: float
    human_strict_accuracy: float   # decided human, unknown not counted as right
    machine_accuracy: float
    decision_ms: dict[str, float]  # median, p95, max over every recording
    decision_ms_by_truth: dict[str, dict[str, float]]
    greeting_end_accuracy: float | None
    message_delay_ms: dict[str, float]  # from the greeting's end (or beep's end) to the message
    wrong: list[str]
    outcomes: list[Outcome] = field(default_factory=list)

    def meets_targets(self) -> bool:
        return (self.machine_accuracy >= TARGETS["machine_accuracy"]
                and self.human_accuracy >= TARGETS["human_accuracy"]
                and self.decision_ms["median"] <= TARGETS["median_ms"]
                and self.decision_ms["p95"] <= TARGETS["p95_ms"])


def _greeting_over(recording: Recording) -> int:
    """When the machine starts recording: the beep's end, or the greeting's last word."""
    return recording.beep_end_ms if recording.beep_end_ms is not None else recording.speech_end_ms


def run_one(recording: Recording, pcm: bytes, thresholds: Thresholds) -> Outcome:
    detector = Detector(thresholds)
    for start in range(0, len(pcm), CHUNK_BYTES):
        detector.feed(pcm[start:start + CHUNK_BYTES])
    decision = detector.decision
    if decision is None:  # every recording of the set lasts past the longest analysis
        raise ValueError(f"{recording.file} ends before the detector decided")
    outcome = Outcome(recording.file, recording.label, recording.kind, decision.result, decision.decision_ms,
                      decision.features)
    ended = detector.greeting_ended
    if recording.label == "machine" and decision.result == "machine":
        # A greeting never found to end (the recording stopped first) counts as wrong.
        outcome.greeting_end_right = ended is not None and ended.at_ms >= _greeting_over(recording)
        if ended is not None:
            outcome.greeting_end, outcome.greeting_end_ms = ended.reason, ended.at_ms
    return outcome


def _spread(values: list[int]) -> dict[str, float]:
    if not values:
        return {"median": 0.0, "p95": 0.0, "max": 0.0}
    array = np.asarray(values, dtype=float)
    return {"median": float(np.median(array)), "p95": float(np.percentile(array, 95)), "max": float(np.max(array))}


def evaluate(directory: Path, thresholds: Thresholds = Thresholds()) -> Evaluation:
    outcomes = []
    labels = {r.file: r for r in load_labels(directory)}
    for recording in labels.values():
        pcm = read_wav(directory / recording.file).astype("<i2").tobytes()
        outcomes.append(run_one(recording, pcm, thresholds))
    confusion = {truth: {result: 0 for result in RESULTS_OF} for truth in TRUTHS}
    for o in outcomes:
        confusion[o.truth][o.result] += 1
    humans = sum(confusion["human"].values()) or 1
    machines = sum(confusion["machine"].values()) or 1
    ends = [o for o in outcomes if o.greeting_end_right is not None]
    delays = [o.greeting_end_ms - _greeting_over(labels[o.file]) for o in ends if o.greeting_end_ms is not None]
    return Evaluation(
        recordings=len(outcomes), confusion=confusion,
        human_accuracy=(confusion["human"]["human"] + confusion["human"]["unknown"]) / humans,
        human_strict_accuracy=confusion["human"]["human"] / humans,
        machine_accuracy=confusion["machine"]["machine"] / machines,
        decision_ms=_spread([o.decision_ms for o in outcomes]),
        decision_ms_by_truth={t: _spread([o.decision_ms for o in outcomes if o.truth == t]) for t in TRUTHS},
        greeting_end_accuracy=(sum(bool(o.greeting_end_right) for o in ends) / len(ends)) if ends else None,
        message_delay_ms=_spread(delays),
        wrong=[o.file for o in outcomes if (o.result == "machine") != (o.truth == "machine")],
        outcomes=outcomes)


def report(e: Evaluation) -> str:
    header = "truth / decision"
    lines = [f"{e.recordings} recordings", "", f"{header:<18}" + "".join(f"{r:>9}" for r in RESULTS_OF)]
    for truth in TRUTHS:
        lines.append(f"{truth:<18}" + "".join(f"{e.confusion[truth][r]:>9}" for r in RESULTS_OF))
    d = e.decision_ms
    lines += [
        "",
        f"machines right: {e.machine_accuracy:.1%} (target ≥ {TARGETS['machine_accuracy']:.0%})",
        f"people right:   {e.human_accuracy:.1%} (target ≥ {TARGETS['human_accuracy']:.0%}; "
        f"decided human, unknown not counted: {e.human_strict_accuracy:.1%})",
        f"decision time:  median {d['median']:.0f} ms (target ≤ {TARGETS['median_ms']}), "
        f"p95 {d['p95']:.0f} ms (target ≤ {TARGETS['p95_ms']}), max {d['max']:.0f} ms",
    ]
    for truth, spread in e.decision_ms_by_truth.items():
        lines.append(f"  {truth:<8} median {spread['median']:.0f} ms, p95 {spread['p95']:.0f} ms, max {spread['max']:.0f} ms")
    if e.greeting_end_accuracy is not None:
        m = e.message_delay_ms
        lines.append(f"greeting end after the greeting (and its beep): {e.greeting_end_accuracy:.1%}; message "
                     f"starts {m['median']:.0f} ms after it (median), p95 {m['p95']:.0f} ms")
    if e.wrong:
        lines.append("wrong: " + ", ".join(e.wrong))
    lines.append("targets met" if e.meets_targets() else "TARGETS NOT MET")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", dest="directory", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    evaluation = evaluate(args.directory)
    print(report(evaluation))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"set": str(args.directory), "thresholds": asdict(Thresholds()),
                                     **asdict(evaluation)}, indent=1))
    print(f"written to {args.json}")
    return 0 if evaluation.meets_targets() else 1


if __name__ == "__main__":
    sys.exit(main())
