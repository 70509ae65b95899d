"""Account use cases: organizations, API keys, contact and dispatch limits, credits and single
reservations.

Every credit change is one transaction that locks the organization row first, so concurrent
reserve/settle/release calls serialize per organization and the CHECK constraints
(balance >= 0, balance - reserved >= 0) can never be hit. What a reservation may do is
domain/reservations.py; this module only runs it inside that transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from campaign_rules import contact_limits
from campaign_rules.contact_limits import ContactLimits
from kernel import errors
from kernel.clock import get_clock
from services.account.adapters import listings
from services.account.adapters import repository as repo
from services.account.domain import api_keys, dispatch_limits, organizations, reservations
from services.account.domain.credits import Balance
from services.account.domain.dispatch_limits import DispatchLimits, LimitsChange, ResolvedLimits
from services.account.domain.errors import (
    ApiKeyNotFoundError,
    OrganizationNotFoundError,
    reservation_not_found,
)
from services.account.domain.organizations import CreatedOrganization, Organization
from services.account.domain.reservations import Reservation, Settlement


class AccountService:
    def __init__(self, engine: AsyncEngine, dispatch_defaults: DispatchLimits = dispatch_limits.BUILT_IN_DEFAULTS):
        self._engine = engine
        # The limits an organization follows where it stores none (ORG_* of the environment).
        self._dispatch_defaults = dispatch_limits.check(dispatch_defaults)

    # --- organizations and keys ---

    async def create_organization(self, name: str, credits: int) -> CreatedOrganization:
        name = organizations.check_name(name)
        organizations.check_credits(credits)
        org = uuid.uuid4()
        now = get_clock().now()
        key = api_keys.issue()
        async with self._engine.begin() as conn:
            await repo.insert_organization(conn, org, name, credits, now)
            await repo.insert_api_key(conn, org, key, organizations.DEFAULT_KEY_NAME, now)
        return CreatedOrganization(Organization(str(org), name, now), key.plaintext, key.key_id)

    async def get_organization(self, organization_id: str) -> Organization:
        org = organizations.parse_id(organization_id)
        async with self._engine.connect() as conn:
            found = await repo.organization(conn, org)
        if found is None:
            raise OrganizationNotFoundError()
        return found

    async def list_organizations(self) -> list[Organization]:
        async with self._engine.connect() as conn:
            return await listings.organizations(conn)

    async def list_api_keys(self, organization_id: str) -> list[listings.ApiKeyListed]:
        org = organizations.parse_id(organization_id)
        async with self._engine.connect() as conn:
            if await repo.organization(conn, org) is None:
                raise OrganizationNotFoundError()
            return await listings.api_keys(conn, org)

    async def create_api_key(self, organization_id: str, name: str) -> api_keys.IssuedKey:
        org = organizations.parse_id(organization_id)
        name = organizations.check_key_name(name)
        key = api_keys.issue()
        async with self._engine.begin() as conn:
            await repo.existing_balance(conn, org)  # the organization must exist
            await repo.insert_api_key(conn, org, key, name, get_clock().now())
        return key

    async def revoke_api_key(self, api_key_id: str) -> None:
        async with self._engine.begin() as conn:
            revoked = await repo.revoke_api_key(conn, api_key_id or "", get_clock().now())
        if not revoked:
            raise ApiKeyNotFoundError()

    async def authenticate(self, api_key: str) -> tuple[str, str]:
        """(organization id, key id) of a live key; anything else is UnauthorizedError."""
        parsed = api_keys.parse(api_key)
        if parsed is None:
            raise errors.UnauthorizedError("Invalid API key")
        async with self._engine.connect() as conn:
            row = await repo.api_key(conn, parsed.key_id)
        if row is None or row.revoked_at is not None or not api_keys.matches(parsed.secret, row.secret_sha256):
            raise errors.UnauthorizedError("Invalid API key")
        return str(row.organization_id), parsed.key_id

    # --- contact limits ---

    async def get_contact_limits(self, organization_id: str) -> ContactLimits | None:
        org = organizations.parse_id(organization_id)
        async with self._engine.connect() as conn:
            return await repo.contact_limits(conn, org)

    async def set_contact_limits(self, organization_id: str, limits: ContactLimits | None) -> ContactLimits | None:
        """Set the cap (checked: ValidationError naming the field), or remove it with None; answers
        the stored value. Attempts already counted keep counting under the new limits."""
        org = organizations.parse_id(organization_id)
        if limits is not None:
            contact_limits.check(limits)
        async with self._engine.begin() as conn:
            if not await repo.set_contact_limits(conn, org, limits):
                raise OrganizationNotFoundError()
        return limits

    # --- dispatch limits ---

    async def get_dispatch_limits(self, organization_id: str) -> ResolvedLimits:
        org = organizations.parse_id(organization_id)
        async with self._engine.connect() as conn:
            stored = await repo.dispatch_limits(conn, org)
        return dispatch_limits.resolve(stored, self._dispatch_defaults)

    async def set_dispatch_limits(self, organization_id: str, change: LimitsChange) -> ResolvedLimits:
        """Apply the change (checked first: an invalid field writes nothing); answers the result.
        The row lock makes concurrent partial changes compose instead of overwriting each other."""
        org = organizations.parse_id(organization_id)
        dispatch_limits.check_change(change)
        async with self._engine.begin() as conn:
            stored = dispatch_limits.apply(await repo.dispatch_limits(conn, org, lock=True), change)
            await repo.set_dispatch_limits(conn, org, stored)
        return dispatch_limits.resolve(stored, self._dispatch_defaults)

    async def list_dispatch_limits(self, organization_ids: list[str]) -> dict[str, DispatchLimits]:
        """Effective limits of each known organization, keyed by the id as asked; unknown and
        malformed ids are absent."""
        asked: dict[uuid.UUID, list[str]] = {}
        for value in organization_ids:
            try:
                asked.setdefault(organizations.parse_id(value), []).append(value)
            except OrganizationNotFoundError:
                continue
        async with self._engine.connect() as conn:
            stored = await repo.many_dispatch_limits(conn, set(asked))
        return {value: dispatch_limits.resolve(limits, self._dispatch_defaults).limits
                for org, limits in stored.items() for value in asked[org]}

    # --- credits ---

    async def get_credits(self, organization_id: str) -> Balance:
        org = organizations.parse_id(organization_id)
        async with self._engine.connect() as conn:
            return await repo.existing_balance(conn, org)

    async def add_credits(self, organization_id: str, amount: int) -> Balance:
        organizations.check_top_up(amount)
        org = organizations.parse_id(organization_id)
        async with self._engine.begin() as conn:
            credits = await repo.add_credits(conn, org, amount)
        if credits is None:
            raise OrganizationNotFoundError()
        return credits

    async def reserve(self, organization_id: str, reservation_id: str, amount: int) -> Reservation:
        org = organizations.parse_id(organization_id)
        reservation_id = reservations.check_reservation_id(reservation_id)
        reservations.check_amount(amount)
        async with self._engine.begin() as conn:
            # Lock order everywhere: organization row, then reservation row.
            opening = reservations.open_reservation(await repo.existing_balance(conn, org, lock=True), amount)
            new = repo.NewReservation(reservation_id, org, amount, opening.state)
            if not await repo.insert_reservation(conn, new, get_clock().now()):
                # A repeated call answers the first outcome, with its organization's credits.
                first = await repo.reservation(conn, reservation_id)
                assert first is not None  # reservations are never deleted
                return Reservation(reservations.is_reserved(first.state),
                                   await repo.existing_balance(conn, first.organization_id))
            if opening.state == reservations.HELD:
                # The row is locked: the guarded UPDATE holds exactly what the rule decided.
                if await repo.hold(conn, org, amount) != opening.credits:
                    raise errors.ConflictError("credits changed concurrently; retry")
            return opening.answer

    async def _locked(self, conn: AsyncConnection, reservation_id: str) -> tuple[repo.ReservationRow, Balance]:
        """The reservation and its organization's credits, both locked (organization first)."""
        owner = await repo.reservation(conn, reservation_id)
        if owner is None:
            raise reservation_not_found()
        credits = await repo.existing_balance(conn, owner.organization_id, lock=True)
        row = await repo.reservation(conn, reservation_id, lock=True)
        assert row is not None  # reservations are never deleted
        return row, credits

    async def settle(self, reservation_id: str, amount: int) -> Settlement:
        reservation_id = reservations.check_reservation_id(reservation_id)
        reservations.check_amount(amount)
        async with self._engine.begin() as conn:
            row, credits = await self._locked(conn, reservation_id)
            if not reservations.can_transition(row.state, reservations.SETTLED):
                return Settlement(row.charged, credits)  # settled, released or refused: nothing changes
            charge = reservations.settle(credits, row.amount, amount).charged
            after = await repo.give_back(conn, row.organization_id, row.amount, charge)
            await repo.settle(conn, reservation_id, charge, get_clock().now())
            return Settlement(charge, after)

    async def release(self, reservation_id: str) -> Balance:
        reservation_id = reservations.check_reservation_id(reservation_id)
        async with self._engine.begin() as conn:
            row, credits = await self._locked(conn, reservation_id)
            if not reservations.can_transition(row.state, reservations.RELEASED):
                return credits
            after = await repo.give_back(conn, row.organization_id, row.amount, 0)
            await repo.release(conn, reservation_id, get_clock().now())
            return after
