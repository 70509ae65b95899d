"""An organization's dispatch limits: how much of the shared calling capacity it may take.

- `maxConcurrentCalls` (>= 0): calls of the organization in flight at once; 0 = no organization limit.
- `maxCallsPerSecond` (>= 0): calls it may start per second; 0 = no limit.
- `weight` (1-1000): its weight in the fair share of channels between organizations.

Invariant: every field has an effective value at all times. The organization stores each field
or nothing (None = "follow the default"); the effective value is the stored one when there is
one, else the deployment's default (`ORG_MAX_CONCURRENT_CALLS`, `ORG_MAX_CALLS_PER_SECOND`,
`ORG_WEIGHT`), so changing a default moves exactly the organizations that follow it. A change
first clears every field when it asks for a reset, then stores the fields it names; the fields it
does not name keep what they had. Values are checked before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kernel import errors

# The API's names, in the order the fields are shown.
MAX_CONCURRENT_CALLS = "maxConcurrentCalls"
MAX_CALLS_PER_SECOND = "maxCallsPerSecond"
WEIGHT = "weight"
FIELDS = (MAX_CONCURRENT_CALLS, MAX_CALLS_PER_SECOND, WEIGHT)

# The largest value the wire (int32) and the table (integer) can carry.
INT32_MAX = 2**31 - 1
WEIGHT_BOUNDS = (1, 1000)

# The environment variable holding each field's default, in field order.
DEFAULT_VARIABLES = ("ORG_MAX_CONCURRENT_CALLS", "ORG_MAX_CALLS_PER_SECOND", "ORG_WEIGHT")


@dataclass(frozen=True)
class DispatchLimits:
    """Effective limits (every field has a value)."""

    max_concurrent_calls: int
    max_calls_per_second: int
    weight: int


# The defaults where the environment sets none: no organization limit, equal weights.
BUILT_IN_DEFAULTS = DispatchLimits(max_concurrent_calls=0, max_calls_per_second=0, weight=1)


@dataclass(frozen=True)
class StoredLimits:
    """What an organization stores; None follows the default."""

    max_concurrent_calls: int | None = None
    max_calls_per_second: int | None = None
    weight: int | None = None


@dataclass(frozen=True)
class LimitsChange:
    """A request to change the stored limits: None leaves a field as it is."""

    max_concurrent_calls: int | None = None
    max_calls_per_second: int | None = None
    weight: int | None = None
    reset: bool = False


@dataclass(frozen=True)
class ResolvedLimits:
    """The effective limits and the API names of the fields that follow the default."""

    limits: DispatchLimits
    defaulted: tuple[str, ...]


def _problem(field: str, value: int) -> str | None:
    """Why `value` cannot be the field's value (None: it can)."""
    # bool is an int to Python, never to the API.
    if not isinstance(value, int) or isinstance(value, bool):
        return "must be an integer"
    if field == WEIGHT:
        low, high = WEIGHT_BOUNDS
        return None if low <= value <= high else f"must be between {low} and {high}"
    if value < 0:
        return "must be >= 0"
    return None if value <= INT32_MAX else f"must be at most {INT32_MAX}"


def check_value(field: str, value: int) -> int:
    """One field's value, unchanged when valid; else ValidationError naming the field
    (`weight: must be between 1 and 1000`)."""
    problem = _problem(field, value)
    if problem is not None:
        raise errors.ValidationError(f"{field}: {problem}", field=field)
    return value


def _values(item: StoredLimits | LimitsChange) -> tuple[int | None, int | None, int | None]:
    return item.max_concurrent_calls, item.max_calls_per_second, item.weight


def _effective_values(limits: DispatchLimits) -> tuple[int, int, int]:
    return limits.max_concurrent_calls, limits.max_calls_per_second, limits.weight


def check(limits: DispatchLimits) -> DispatchLimits:
    for field, value in zip(FIELDS, _effective_values(limits), strict=True):
        check_value(field, value)
    return limits


def check_change(change: LimitsChange) -> LimitsChange:
    """The fields a change names, checked in field order; absent ones are not looked at."""
    for field, value in zip(FIELDS, _values(change), strict=True):
        if value is not None:
            check_value(field, value)
    return change


def apply(stored: StoredLimits, change: LimitsChange) -> StoredLimits:
    """What the organization stores after `change`: reset first, then the named fields."""
    base = StoredLimits() if change.reset else stored
    merged = [new if new is not None else old
              for old, new in zip(_values(base), _values(change), strict=True)]
    return StoredLimits(*merged)


def resolve(stored: StoredLimits, defaults: DispatchLimits) -> ResolvedLimits:
    """Effective value = stored if set, else the default; `defaulted` names the latter fields."""
    def pick(own: int | None, default: int) -> int:
        return default if own is None else own

    effective = DispatchLimits(pick(stored.max_concurrent_calls, defaults.max_concurrent_calls),
                               pick(stored.max_calls_per_second, defaults.max_calls_per_second),
                               pick(stored.weight, defaults.weight))
    defaulted = tuple(field for field, own in zip(FIELDS, _values(stored), strict=True) if own is None)
    return ResolvedLimits(effective, defaulted)


def defaults_from(read: Callable[[str, str], str]) -> DispatchLimits:
    """The deployment's defaults from `read(variable, fallback)` (the service's environment).
    A value that cannot be the field's is a ValidationError naming the variable, so a
    misconfigured service refuses to start rather than dispatch under a limit nobody meant."""
    values = []
    for field, variable, fallback in zip(FIELDS, DEFAULT_VARIABLES, _effective_values(BUILT_IN_DEFAULTS),
                                         strict=True):
        text = read(variable, str(fallback)).strip()
        try:
            value = int(text)
        except ValueError:
            problem: str | None = "must be an integer"
        else:
            problem = _problem(field, value)
        if problem is not None:
            raise errors.ValidationError(f"{variable}: {problem} (got {text!r})", field=variable)
        values.append(value)
    return DispatchLimits(*values)
