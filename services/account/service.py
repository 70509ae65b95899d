"""Account use cases: organizations, API keys, credits and reservations.

Every credit change is one transaction that locks the organization row first, so
concurrent reserve/settle/release calls serialize per organization and the CHECK
constraints (balance >= 0, balance - reserved >= 0) can never be hit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import errors
from kernel.clock import get_clock
from services.account.domain import api_keys
from services.account.domain.credits import Balance, settle_charge

MAX_NAME_LENGTH = 200


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


@dataclass(frozen=True)
class Reservation:
    reserved: bool
    credits: Balance


@dataclass(frozen=True)
class Settlement:
    charged: int
    credits: Balance


def _org_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise errors.OrganizationNotFoundError() from None


def _reservation_id(value: str) -> str:
    if not value or len(value) > 200:
        raise errors.ValidationError("reservationId: must be 1 to 200 characters", field="reservationId")
    return value


def _non_negative(name: str, amount: int) -> int:
    if amount < 0:
        raise errors.ValidationError(f"{name}: must be >= 0", field=name)
    return amount


async def _lock_balance(conn: AsyncConnection, org_id: uuid.UUID) -> Balance:
    row = (await conn.execute(
        text("SELECT balance, reserved FROM organizations WHERE id = :id FOR UPDATE"), {"id": org_id},
    )).first()
    if row is None:
        raise errors.OrganizationNotFoundError()
    return Balance(row.balance, row.reserved)


async def _balance(conn: AsyncConnection, org_id: uuid.UUID) -> Balance:
    row = (await conn.execute(
        text("SELECT balance, reserved FROM organizations WHERE id = :id"), {"id": org_id},
    )).first()
    if row is None:
        raise errors.OrganizationNotFoundError()
    return Balance(row.balance, row.reserved)


class AccountService:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    # --- organizations and keys ---

    async def create_organization(self, name: str, credits: int) -> CreatedOrganization:
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise errors.ValidationError(f"name: must be 1 to {MAX_NAME_LENGTH} characters", field="name")
        _non_negative("credits", credits)
        org_id = uuid.uuid4()
        now = get_clock().now()
        key = api_keys.issue()
        async with self.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO organizations (id, name, balance, reserved, created_at) "
                "VALUES (:id, :name, :balance, 0, :now)"), {"id": org_id, "name": name, "balance": credits, "now": now})
            await self._insert_key(conn, org_id, key, "default", now)
        return CreatedOrganization(Organization(str(org_id), name, now), key.plaintext, key.key_id)

    async def get_organization(self, organization_id: str) -> Organization:
        org_id = _org_uuid(organization_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(text("SELECT id, name, created_at FROM organizations WHERE id = :id"),
                                      {"id": org_id})).first()
        if row is None:
            raise errors.OrganizationNotFoundError()
        return Organization(str(row.id), row.name, row.created_at)

    async def _insert_key(self, conn: AsyncConnection, org_id: uuid.UUID, key: api_keys.IssuedKey,
                          name: str, now: datetime) -> None:
        await conn.execute(text(
            "INSERT INTO api_keys (id, organization_id, name, secret_sha256, created_at) "
            "VALUES (:id, :org, :name, :hash, :now)"),
            {"id": key.key_id, "org": org_id, "name": name, "hash": key.secret_sha256, "now": now})

    async def create_api_key(self, organization_id: str, name: str) -> api_keys.IssuedKey:
        org_id = _org_uuid(organization_id)
        name = (name or "").strip()
        if len(name) > MAX_NAME_LENGTH:
            raise errors.ValidationError(f"name: must be at most {MAX_NAME_LENGTH} characters", field="name")
        key = api_keys.issue()
        async with self.engine.begin() as conn:
            await _balance(conn, org_id)  # the organization must exist
            await self._insert_key(conn, org_id, key, name, get_clock().now())
        return key

    async def revoke_api_key(self, api_key_id: str) -> None:
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, :now) WHERE id = :id RETURNING id"),
                {"id": api_key_id or "", "now": get_clock().now()})).first()
        if row is None:
            raise errors.ApiKeyNotFoundError()

    async def authenticate(self, api_key: str) -> tuple[str, str]:
        """(organization id, key id) of a live key; anything else is UnauthorizedError."""
        parsed = api_keys.parse(api_key)
        if parsed is None:
            raise errors.UnauthorizedError("Invalid API key")
        async with self.engine.connect() as conn:
            row = (await conn.execute(text(
                "SELECT organization_id, secret_sha256, revoked_at FROM api_keys WHERE id = :id"),
                {"id": parsed.key_id})).first()
        if row is None or row.revoked_at is not None or not api_keys.matches(parsed.secret, row.secret_sha256):
            raise errors.UnauthorizedError("Invalid API key")
        return str(row.organization_id), parsed.key_id

    # --- credits ---

    async def get_credits(self, organization_id: str) -> Balance:
        org_id = _org_uuid(organization_id)
        async with self.engine.connect() as conn:
            return await _balance(conn, org_id)

    async def add_credits(self, organization_id: str, amount: int) -> Balance:
        if amount <= 0:
            raise errors.ValidationError("amount: must be greater than 0", field="amount")
        org_id = _org_uuid(organization_id)
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(
                "UPDATE organizations SET balance = balance + :amount WHERE id = :id RETURNING balance, reserved"),
                {"id": org_id, "amount": amount})).first()
        if row is None:
            raise errors.OrganizationNotFoundError()
        return Balance(row.balance, row.reserved)

    async def reserve(self, organization_id: str, reservation_id: str, amount: int) -> Reservation:
        org_id = _org_uuid(organization_id)
        reservation_id = _reservation_id(reservation_id)
        _non_negative("amount", amount)
        async with self.engine.begin() as conn:
            # Lock order everywhere: organization row, then reservation row.
            await _lock_balance(conn, org_id)
            inserted = (await conn.execute(text(
                "INSERT INTO reservations (reservation_id, organization_id, amount, state, created_at) "
                "VALUES (:rid, :org, :amount, 'refused', :now) ON CONFLICT (reservation_id) DO NOTHING "
                "RETURNING reservation_id"),
                {"rid": reservation_id, "org": org_id, "amount": amount, "now": get_clock().now()})).first()
            if inserted is None:  # a repeated call answers the first outcome
                row = (await conn.execute(text(
                    "SELECT organization_id, state FROM reservations WHERE reservation_id = :rid"),
                    {"rid": reservation_id})).one()
                credits = await _balance(conn, row.organization_id)
                return Reservation(row.state != "refused", credits)
            updated = (await conn.execute(text(
                "UPDATE organizations SET reserved = reserved + :amount "
                "WHERE id = :id AND balance - reserved >= :amount RETURNING balance, reserved"),
                {"id": org_id, "amount": amount})).first()
            if updated is None:
                return Reservation(False, await _balance(conn, org_id))
            await conn.execute(text("UPDATE reservations SET state = 'held' WHERE reservation_id = :rid"),
                               {"rid": reservation_id})
            return Reservation(True, Balance(updated.balance, updated.reserved))

    async def _locked_reservation(self, conn: AsyncConnection, reservation_id: str):
        owner = (await conn.execute(text(
            "SELECT organization_id FROM reservations WHERE reservation_id = :rid"), {"rid": reservation_id})).first()
        if owner is None:
            raise errors.NotFoundError("Reservation not found")
        balance = await _lock_balance(conn, owner.organization_id)
        row = (await conn.execute(text(
            "SELECT organization_id, amount, state, charged FROM reservations "
            "WHERE reservation_id = :rid FOR UPDATE"), {"rid": reservation_id})).one()
        return row, balance

    async def settle(self, reservation_id: str, amount: int) -> Settlement:
        reservation_id = _reservation_id(reservation_id)
        _non_negative("amount", amount)
        async with self.engine.begin() as conn:
            row, balance = await self._locked_reservation(conn, reservation_id)
            if row.state != "held":  # settled, released or refused: nothing changes
                return Settlement(row.charged, balance)
            charge = settle_charge(amount, balance.balance, balance.reserved, row.amount)
            updated = (await conn.execute(text(
                "UPDATE organizations SET reserved = reserved - :held, balance = balance - :charge "
                "WHERE id = :id RETURNING balance, reserved"),
                {"id": row.organization_id, "held": row.amount, "charge": charge})).one()
            await conn.execute(text(
                "UPDATE reservations SET state = 'settled', charged = :charge, closed_at = :now "
                "WHERE reservation_id = :rid"), {"rid": reservation_id, "charge": charge, "now": get_clock().now()})
            return Settlement(charge, Balance(updated.balance, updated.reserved))

    async def release(self, reservation_id: str) -> Balance:
        reservation_id = _reservation_id(reservation_id)
        async with self.engine.begin() as conn:
            row, balance = await self._locked_reservation(conn, reservation_id)
            if row.state != "held":
                return balance
            updated = (await conn.execute(text(
                "UPDATE organizations SET reserved = reserved - :held WHERE id = :id RETURNING balance, reserved"),
                {"id": row.organization_id, "held": row.amount})).one()
            await conn.execute(text(
                "UPDATE reservations SET state = 'released', closed_at = :now WHERE reservation_id = :rid"),
                {"rid": reservation_id, "now": get_clock().now()})
            return Balance(updated.balance, updated.reserved)

    # --- batches: one transaction for many reservations (the dialer's hot path) ---

    async def reserve_many(self, items: list[tuple[str, str, int]]) -> list[Reservation | errors.DomainError]:
        """(organization id, reservation id, amount) items, each answered as reserve() would answer it
        alone in request order; a bad item answers its error without failing the others."""
        answers: list[Reservation | errors.DomainError | None] = [None] * len(items)
        valid: list[tuple[int, uuid.UUID, str, int]] = []
        for i, (organization_id, reservation_id, amount) in enumerate(items):
            try:
                valid.append((i, _org_uuid(organization_id), _reservation_id(reservation_id),
                              _non_negative("amount", amount)))
            except errors.DomainError as exc:
                answers[i] = exc
        if valid:
            async with self.engine.begin() as conn:
                # Lock order as everywhere: organization rows (sorted), then reservations.
                balances = await _lock_balances(conn, {v[1] for v in valid})
                existing = {r.reservation_id: (r.organization_id, r.state) for r in (await conn.execute(text(
                    "SELECT reservation_id, organization_id, state FROM reservations "
                    "WHERE reservation_id = ANY(:rids)"), {"rids": list({v[2] for v in valid})})).all()}
                fresh: list[tuple[str, uuid.UUID, int, str]] = []
                for i, org_id, reservation_id, amount in valid:
                    balance = balances.get(org_id)
                    if balance is None:
                        answers[i] = errors.OrganizationNotFoundError()
                        continue
                    if reservation_id in existing:  # a repeated call answers the first outcome
                        owner, state = existing[reservation_id]
                        credits = Balance(*balances[owner]) if owner in balances else await _balance(conn, owner)
                        answers[i] = Reservation(state != "refused", credits)
                        continue
                    state = "held" if balance[0] - balance[1] >= amount else "refused"
                    if state == "held":
                        balance[1] += amount
                    existing[reservation_id] = (org_id, state)
                    fresh.append((reservation_id, org_id, amount, state))
                    answers[i] = Reservation(state == "held", Balance(*balance))
                if fresh:
                    inserted = await conn.execute(text(
                        "INSERT INTO reservations (reservation_id, organization_id, amount, state, created_at) "
                        "SELECT r.rid, r.org, r.amount, r.state, :now FROM unnest(CAST(:rids AS text[]), "
                        "CAST(:orgs AS uuid[]), CAST(:amounts AS bigint[]), CAST(:states AS text[])) "
                        "AS r(rid, org, amount, state) ON CONFLICT (reservation_id) DO NOTHING"),
                        {"rids": [f[0] for f in fresh], "orgs": [f[1] for f in fresh],
                         "amounts": [f[2] for f in fresh], "states": [f[3] for f in fresh],
                         "now": get_clock().now()})
                    if inserted.rowcount != len(fresh):
                        # Another organization's call took one of these ids meanwhile: roll back, retry.
                        raise errors.ConflictError("reservation id taken concurrently; retry")
                    await _apply_org_deltas(conn, balances, {f[1] for f in fresh if f[3] == "held"})
        return answers  # type: ignore[return-value]

    async def settle_many(self, items: list[tuple[str, int]]) -> list[Settlement | errors.DomainError]:
        """(reservation id, amount) items, each answered as settle() would answer it alone, in order."""
        answers: list[Settlement | errors.DomainError | None] = [None] * len(items)
        valid: list[tuple[int, str, int]] = []
        for i, (reservation_id, amount) in enumerate(items):
            try:
                valid.append((i, _reservation_id(reservation_id), _non_negative("amount", amount)))
            except errors.DomainError as exc:
                answers[i] = exc
        if valid:
            rids = list({v[1] for v in valid})
            async with self.engine.begin() as conn:
                owners = (await conn.execute(text(
                    "SELECT DISTINCT organization_id FROM reservations WHERE reservation_id = ANY(:rids)"),
                    {"rids": rids})).scalars().all()
                balances = await _lock_balances(conn, set(owners))
                rows = {r.reservation_id: [r.organization_id, r.amount, r.state, r.charged] for r in (
                    await conn.execute(text(
                        "SELECT reservation_id, organization_id, amount, state, charged FROM reservations "
                        "WHERE reservation_id = ANY(:rids) ORDER BY reservation_id FOR UPDATE"),
                        {"rids": rids})).all()}
                settled: dict[str, int] = {}
                for i, reservation_id, amount in valid:
                    row = rows.get(reservation_id)
                    if row is None:
                        answers[i] = errors.NotFoundError("Reservation not found")
                        continue
                    org_id, held, state, charged = row
                    balance = balances[org_id]
                    if state == "held":
                        charged = settle_charge(amount, balance[0], balance[1], held)
                        balance[0] -= charged
                        balance[1] -= held
                        row[2], row[3] = "settled", charged
                        settled[reservation_id] = charged
                    answers[i] = Settlement(charged, Balance(*balance))
                if settled:
                    await _apply_org_deltas(conn, balances, {rows[r][0] for r in settled})
                    await conn.execute(text(
                        "UPDATE reservations r SET state = 'settled', charged = s.charged, closed_at = :now "
                        "FROM unnest(CAST(:rids AS text[]), CAST(:charged AS bigint[])) AS s(rid, charged) "
                        "WHERE r.reservation_id = s.rid"),
                        {"rids": list(settled), "charged": list(settled.values()), "now": get_clock().now()})
        return answers  # type: ignore[return-value]


async def _lock_balances(conn: AsyncConnection, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    """[balance, reserved] of each existing organization, rows locked in id order."""
    if not org_ids:
        return {}
    rows = (await conn.execute(text(
        "SELECT id, balance, reserved FROM organizations WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
        {"ids": sorted(org_ids)})).all()
    return {r.id: [r.balance, r.reserved] for r in rows}


async def _apply_org_deltas(conn: AsyncConnection, balances: dict[uuid.UUID, list[int]],
                            changed: set[uuid.UUID]) -> None:
    """Write the final balance and reserved of the locked organizations that changed."""
    ids = sorted(changed)
    await conn.execute(text(
        "UPDATE organizations o SET balance = b.balance, reserved = b.reserved "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:balances AS bigint[]), CAST(:reserved AS bigint[])) "
        "AS b(id, balance, reserved) WHERE o.id = b.id"),
        {"ids": ids, "balances": [balances[i][0] for i in ids], "reserved": [balances[i][1] for i in ids]})
