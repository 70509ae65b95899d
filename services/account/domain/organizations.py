"""Organizations and the names given to them and to their API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from kernel import errors, ids
from services.account.domain.errors import OrganizationNotFoundError

MAX_NAME_LENGTH = 200
DEFAULT_KEY_NAME = "default"  # the key issued with a new organization


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class CreatedOrganization:
    organization: Organization
    api_key: str
    api_key_id: str


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise errors.ValidationError(f"name: must be 1 to {MAX_NAME_LENGTH} characters", field="name")
    return name


def check_key_name(name: str) -> str:
    """A key's name may be empty."""
    name = (name or "").strip()
    if len(name) > MAX_NAME_LENGTH:
        raise errors.ValidationError(f"name: must be at most {MAX_NAME_LENGTH} characters", field="name")
    return name


def check_credits(credits: int) -> int:
    """The credits an organization is created with."""
    if credits < 0:
        raise errors.ValidationError("credits: must be >= 0", field="credits")
    return credits


def check_top_up(amount: int) -> int:
    if amount <= 0:
        raise errors.ValidationError("amount: must be greater than 0", field="amount")
    return amount


def parse_id(value: str) -> uuid.UUID:
    """A malformed organization id is an unknown one."""
    return ids.parse(value, OrganizationNotFoundError)
