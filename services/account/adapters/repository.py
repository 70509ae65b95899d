"""SQL of the account context. Functions take a connection; the caller owns the transaction.

Lock order everywhere: organization rows (in id order when several), then reservation rows, so
concurrent credit changes serialize per organization and cannot deadlock. Reservation states in
SQL are written from the domain's constants, and a state change names the states it may leave
(`sources`), so the table in domain/reservations.py is the one the database obeys.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from campaign_rules.contact_limits import ContactLimits
from services.account.domain.api_keys import IssuedKey
from services.account.domain.credits import Balance
from services.account.domain.dispatch_limits import StoredLimits
from services.account.domain.errors import OrganizationNotFoundError
from services.account.domain.organizations import Organization
from services.account.domain.reservations import RELEASED, SETTLED, sources


@dataclass(frozen=True)
class ApiKeyRow:
    organization_id: uuid.UUID
    secret_sha256: bytes
    revoked_at: datetime | None


@dataclass(frozen=True)
class ReservationRow:
    reservation_id: str
    organization_id: uuid.UUID
    amount: int
    state: str
    charged: int


@dataclass(frozen=True)
class NewReservation:
    reservation_id: str
    organization_id: uuid.UUID
    amount: int
    state: str


def _states(states: Iterable[str]) -> str:
    """States as SQL literals (constants of the domain, never user input)."""
    return ", ".join(f"'{s}'" for s in states)


_RESERVATION = "SELECT reservation_id, organization_id, amount, state, charged FROM reservations "
_SETTLE = text(
    f"UPDATE reservations SET state = '{SETTLED}', charged = :charge, closed_at = :now "
    f"WHERE reservation_id = :rid AND state IN ({_states(sources(SETTLED))})")
_RELEASE = text(
    f"UPDATE reservations SET state = '{RELEASED}', closed_at = :now "
    f"WHERE reservation_id = :rid AND state IN ({_states(sources(RELEASED))})")
_SETTLE_MANY = text(
    f"UPDATE reservations r SET state = '{SETTLED}', charged = s.charged, closed_at = :now "
    "FROM unnest(CAST(:rids AS text[]), CAST(:charged AS bigint[])) AS s(rid, charged) "
    f"WHERE r.reservation_id = s.rid AND r.state IN ({_states(sources(SETTLED))})")


def _reservation(row: Row[Any]) -> ReservationRow:
    return ReservationRow(row.reservation_id, row.organization_id, row.amount, row.state, row.charged)


# --- organizations and keys ---

async def insert_organization(conn: AsyncConnection, org_id: uuid.UUID, name: str, credits: int,
                              now: datetime) -> None:
    await conn.execute(text(
        "INSERT INTO organizations (id, name, balance, reserved, created_at) "
        "VALUES (:id, :name, :balance, 0, :now)"), {"id": org_id, "name": name, "balance": credits, "now": now})


async def organization(conn: AsyncConnection, org_id: uuid.UUID) -> Organization | None:
    row = (await conn.execute(text("SELECT id, name, created_at FROM organizations WHERE id = :id"),
                              {"id": org_id})).first()
    return Organization(str(row.id), row.name, row.created_at) if row else None


async def insert_api_key(conn: AsyncConnection, org_id: uuid.UUID, key: IssuedKey, name: str,
                         now: datetime) -> None:
    await conn.execute(text(
        "INSERT INTO api_keys (id, organization_id, name, secret_sha256, created_at) "
        "VALUES (:id, :org, :name, :hash, :now)"),
        {"id": key.key_id, "org": org_id, "name": name, "hash": key.secret_sha256, "now": now})


async def revoke_api_key(conn: AsyncConnection, key_id: str, now: datetime) -> bool:
    """False for an unknown key; revoking again keeps the first revocation time."""
    row = (await conn.execute(text(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, :now) WHERE id = :id RETURNING id"),
        {"id": key_id, "now": now})).first()
    return row is not None


async def api_key(conn: AsyncConnection, key_id: str) -> ApiKeyRow | None:
    row = (await conn.execute(text(
        "SELECT organization_id, secret_sha256, revoked_at FROM api_keys WHERE id = :id"), {"id": key_id})).first()
    return ApiKeyRow(row.organization_id, row.secret_sha256, row.revoked_at) if row else None


# --- contact limits ---

async def contact_limits(conn: AsyncConnection, org_id: uuid.UUID) -> ContactLimits | None:
    """The organization's cap (None: none set); OrganizationNotFoundError when there is no such
    organization."""
    row = (await conn.execute(text(
        "SELECT contact_max_attempts, contact_per_days FROM organizations WHERE id = :id"), {"id": org_id})).first()
    if row is None:
        raise OrganizationNotFoundError()
    if row.contact_max_attempts is None:
        return None
    return ContactLimits(row.contact_max_attempts, row.contact_per_days)


async def set_contact_limits(conn: AsyncConnection, org_id: uuid.UUID, limits: ContactLimits | None) -> bool:
    """Store the cap (None removes it); False when there is no such organization."""
    row = (await conn.execute(text(
        "UPDATE organizations SET contact_max_attempts = :max_attempts, contact_per_days = :per_days "
        "WHERE id = :id RETURNING id"),
        {"id": org_id, "max_attempts": limits.max_attempts if limits else None,
         "per_days": limits.per_days if limits else None})).first()
    return row is not None


# --- dispatch limits ---

_DISPATCH = "max_concurrent_calls, max_calls_per_second, dispatch_weight"


def _stored(row: Row[Any]) -> StoredLimits:
    return StoredLimits(row.max_concurrent_calls, row.max_calls_per_second, row.dispatch_weight)


async def dispatch_limits(conn: AsyncConnection, org_id: uuid.UUID, *, lock: bool = False) -> StoredLimits:
    """What the organization stores (None: the default); OrganizationNotFoundError when there is
    no such organization."""
    row = (await conn.execute(text(
        f"SELECT {_DISPATCH} FROM organizations WHERE id = :id" + (" FOR UPDATE" if lock else "")),
        {"id": org_id})).first()
    if row is None:
        raise OrganizationNotFoundError()
    return _stored(row)


async def set_dispatch_limits(conn: AsyncConnection, org_id: uuid.UUID, stored: StoredLimits) -> None:
    await conn.execute(text(
        "UPDATE organizations SET max_concurrent_calls = :concurrent, max_calls_per_second = :cps, "
        "dispatch_weight = :weight WHERE id = :id"),
        {"id": org_id, "concurrent": stored.max_concurrent_calls, "cps": stored.max_calls_per_second,
         "weight": stored.weight})


async def many_dispatch_limits(conn: AsyncConnection, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, StoredLimits]:
    """What each existing organization of `org_ids` stores, in one query."""
    if not org_ids:
        return {}
    rows = (await conn.execute(text(f"SELECT id, {_DISPATCH} FROM organizations WHERE id = ANY(:ids)"),
                               {"ids": sorted(org_ids)})).all()
    return {r.id: _stored(r) for r in rows}


# --- credits of one organization ---

async def balance(conn: AsyncConnection, org_id: uuid.UUID, *, lock: bool = False) -> Balance | None:
    row = (await conn.execute(text(
        "SELECT balance, reserved FROM organizations WHERE id = :id" + (" FOR UPDATE" if lock else "")),
        {"id": org_id})).first()
    return Balance(row.balance, row.reserved) if row else None


async def add_credits(conn: AsyncConnection, org_id: uuid.UUID, amount: int) -> Balance | None:
    row = (await conn.execute(text(
        "UPDATE organizations SET balance = balance + :amount WHERE id = :id RETURNING balance, reserved"),
        {"id": org_id, "amount": amount})).first()
    return Balance(row.balance, row.reserved) if row else None


async def hold(conn: AsyncConnection, org_id: uuid.UUID, amount: int) -> Balance | None:
    """Set `amount` aside; None when the available credits do not cover it."""
    row = (await conn.execute(text(
        "UPDATE organizations SET reserved = reserved + :amount "
        "WHERE id = :id AND balance - reserved >= :amount RETURNING balance, reserved"),
        {"id": org_id, "amount": amount})).first()
    return Balance(row.balance, row.reserved) if row else None


async def give_back(conn: AsyncConnection, org_id: uuid.UUID, held: int, charge: int) -> Balance:
    """Return `held` reserved credits, taking `charge` from the balance."""
    row = (await conn.execute(text(
        "UPDATE organizations SET reserved = reserved - :held, balance = balance - :charge "
        "WHERE id = :id RETURNING balance, reserved"), {"id": org_id, "held": held, "charge": charge})).one()
    return Balance(row.balance, row.reserved)


# --- one reservation ---

async def insert_reservation(conn: AsyncConnection, new: NewReservation, now: datetime) -> bool:
    """False when the id is taken (after waiting for a concurrent insert of it to finish)."""
    row = (await conn.execute(text(
        "INSERT INTO reservations (reservation_id, organization_id, amount, state, created_at) "
        "VALUES (:rid, :org, :amount, :state, :now) ON CONFLICT (reservation_id) DO NOTHING "
        "RETURNING reservation_id"),
        {"rid": new.reservation_id, "org": new.organization_id, "amount": new.amount, "state": new.state,
         "now": now})).first()
    return row is not None


async def reservation(conn: AsyncConnection, reservation_id: str, *, lock: bool = False) -> ReservationRow | None:
    row = (await conn.execute(text(_RESERVATION + "WHERE reservation_id = :rid" + (" FOR UPDATE" if lock else "")),
                              {"rid": reservation_id})).first()
    return _reservation(row) if row else None


async def settle(conn: AsyncConnection, reservation_id: str, charge: int, now: datetime) -> None:
    await conn.execute(_SETTLE, {"rid": reservation_id, "charge": charge, "now": now})


async def release(conn: AsyncConnection, reservation_id: str, now: datetime) -> None:
    await conn.execute(_RELEASE, {"rid": reservation_id, "now": now})


# --- batches ---

async def lock_balances(conn: AsyncConnection, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, Balance]:
    """The credits of each existing organization, rows locked in id order."""
    if not org_ids:
        return {}
    rows = (await conn.execute(text(
        "SELECT id, balance, reserved FROM organizations WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
        {"ids": sorted(org_ids)})).all()
    return {r.id: Balance(r.balance, r.reserved) for r in rows}


async def write_balances(conn: AsyncConnection, balances: dict[uuid.UUID, Balance]) -> None:
    """Write the final balance and reserved of locked organizations."""
    ids = sorted(balances)
    await conn.execute(text(
        "UPDATE organizations o SET balance = b.balance, reserved = b.reserved "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:balances AS bigint[]), CAST(:reserved AS bigint[])) "
        "AS b(id, balance, reserved) WHERE o.id = b.id"),
        {"ids": ids, "balances": [balances[i].balance for i in ids],
         "reserved": [balances[i].reserved for i in ids]})


async def reservations(conn: AsyncConnection, reservation_ids: Iterable[str]) -> dict[str, ReservationRow]:
    rows = (await conn.execute(text(_RESERVATION + "WHERE reservation_id = ANY(:rids)"),
                               {"rids": list(reservation_ids)})).all()
    return {r.reservation_id: _reservation(r) for r in rows}


async def reservation_owners(conn: AsyncConnection, reservation_ids: list[str]) -> set[uuid.UUID]:
    return set((await conn.execute(text(
        "SELECT DISTINCT organization_id FROM reservations WHERE reservation_id = ANY(:rids)"),
        {"rids": reservation_ids})).scalars().all())


async def lock_reservations(conn: AsyncConnection, reservation_ids: list[str]) -> dict[str, ReservationRow]:
    """The reservations of these ids, rows locked in id order."""
    rows = (await conn.execute(text(
        _RESERVATION + "WHERE reservation_id = ANY(:rids) ORDER BY reservation_id FOR UPDATE"),
        {"rids": reservation_ids})).all()
    return {r.reservation_id: _reservation(r) for r in rows}


async def insert_reservations(conn: AsyncConnection, new: list[NewReservation], now: datetime) -> int:
    """How many were inserted: an id already taken is skipped."""
    inserted = await conn.execute(text(
        "INSERT INTO reservations (reservation_id, organization_id, amount, state, created_at) "
        "SELECT r.rid, r.org, r.amount, r.state, :now FROM unnest(CAST(:rids AS text[]), "
        "CAST(:orgs AS uuid[]), CAST(:amounts AS bigint[]), CAST(:states AS text[])) "
        "AS r(rid, org, amount, state) ON CONFLICT (reservation_id) DO NOTHING"),
        {"rids": [n.reservation_id for n in new], "orgs": [n.organization_id for n in new],
         "amounts": [n.amount for n in new], "states": [n.state for n in new], "now": now})
    return int(inserted.rowcount)


async def settle_many(conn: AsyncConnection, charged: dict[str, int], now: datetime) -> None:
    await conn.execute(_SETTLE_MANY, {"rids": list(charged), "charged": list(charged.values()), "now": now})


async def existing_balance(conn: AsyncConnection, org: uuid.UUID, *, lock: bool = False) -> Balance:
    """The organization's balance; OrganizationNotFoundError when there is no such organization."""
    credits = await balance(conn, org, lock=lock)
    if credits is None:
        raise OrganizationNotFoundError()
    return credits
