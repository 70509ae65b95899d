"""Use cases of the DID registry, the flow library and the call history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kernel import errors, ids, paging
from kernel.clock import get_clock
from kernel.paging import PageRequest
from services.dialer.adapters.call_results import CallResults
from services.dialer.adapters.did_repository import DidRepository, DidRow
from services.dialer.adapters.flow_repository import FlowRepository, FlowRow
from services.dialer.domain.errors import (
    DidNotAccessibleError,
    DidNotActiveError,
    DidNotFoundError,
    FlowNotFoundError,
)
from services.dialer.domain.flows import Flow, validate_flow
from services.dialer.domain.phone import normalize_country, normalize_e164, number_in_country

DID_STATUSES = ("active", "inactive")


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str


T = TypeVar("T")


def _organization(value: str) -> str:
    return ids.text(value, errors.ValidationError, field="organizationId")


def _found(row: T | None, missing: type[errors.DomainError]) -> T:
    if row is None:
        raise missing()
    return row


async def _page(read: Callable[[PageRequest], Awaitable[Sequence[Any]]], limit: int, cursor: str,
                parts: Sequence[Callable[[str], Any]] = (paging.instant, paging.identifier),
                key: Callable[[Any], tuple[Any, ...]] = lambda row: (row.created_at, row.id)) -> Page:
    """One page of a list read by `read`, sorted by `key` (whose cursor `parts` parse); by
    default oldest first."""
    wanted = paging.request(limit, cursor, *parts)
    return Page(*paging.page(await read(wanted), wanted, key=key))


class DidService:
    def __init__(self, dids: DidRepository):
        self.dids = dids

    async def add(self, number: str, country: str, organization_id: str | None, inactive: bool) -> DidRow:
        e164 = normalize_e164(number)
        if e164 is None:
            raise errors.ValidationError("number: must be an E.164 phone number", field="number")
        code = normalize_country(country)
        if code is None:
            raise errors.ValidationError("country: must be an ISO 3166 alpha-2 code", field="country")
        if not number_in_country(e164, code):
            raise errors.ValidationError(f"number: {e164} is not a number of {code}", field="number")
        org = _organization(organization_id) if organization_id else None
        return await self.dids.add(e164, code, org, "inactive" if inactive else "active", get_clock().now())

    async def set_status(self, did_id: str, status: str) -> DidRow:
        if status not in DID_STATUSES:
            raise errors.ValidationError("status: must be active or inactive", field="status")
        did = ids.canonical(did_id)
        return _found(await self.dids.set_status(did, status, get_clock().now()) if did else None, DidNotFoundError)

    async def delete(self, did_id: str) -> DidRow:
        did = ids.canonical(did_id)
        return _found(await self.dids.soft_delete(did, get_clock().now()) if did else None, DidNotFoundError)

    async def list_available(self, organization_id: str, limit: int = 0, cursor: str = "") -> Page:
        """By number."""
        org = _organization(organization_id)
        return await _page(lambda wanted: self.dids.list_available(org, wanted), limit, cursor,
                           (paging.text, paging.identifier), key=lambda row: (row.number, row.id))

    async def resolve(self, organization_id: str, did_ids: Sequence[str], validate: bool) -> list[DidRow]:
        """The pool's DIDs in order. validate: the first unusable id raises, naming didPool[i]."""
        org = _organization(organization_id)
        wanted = [ids.canonical(d) for d in did_ids]
        found = await self.dids.get_many([d for d in wanted if d])
        out: list[DidRow] = []
        seen: set[str] = set()
        for i, did_id in enumerate(wanted):
            row = found.get(did_id) if did_id else None
            field = f"didPool[{i}]"
            accessible = row is not None and row.organization_id in (None, org)
            if validate:
                if row is None or row.deleted:
                    raise DidNotFoundError(f"{field}: DID not found", field=field)
                if not accessible:
                    raise DidNotAccessibleError(f"{field}: DID is not available to this organization", field=field)
                if row.status != "active":
                    raise DidNotActiveError(f"{field}: DID is not active", field=field)
            if row is None or not accessible or row.id in seen:
                continue
            seen.add(row.id)
            out.append(row)
        return out


class FlowService:
    def __init__(self, flows: FlowRepository):
        self.flows = flows

    async def create(self, organization_id: str, flow: Flow) -> FlowRow:
        org = _organization(organization_id)
        return await self.flows.add(org, validate_flow(flow), get_clock().now())

    async def get(self, organization_id: str, flow_id: str) -> FlowRow:
        org = _organization(organization_id)
        fid = ids.canonical(flow_id)
        return _found(await self.flows.get(org, fid) if fid else None, FlowNotFoundError)

    async def list(self, organization_id: str, limit: int = 0, cursor: str = "") -> Page:
        org = _organization(organization_id)
        return await _page(lambda wanted: self.flows.list(org, wanted), limit, cursor)


class CallHistory:
    def __init__(self, calls: CallResults):
        self.calls = calls

    async def list(self, organization_id: str, execution_id: str, limit: int = 0, cursor: str = "") -> Page:
        org = _organization(organization_id)
        return await _page(lambda wanted: self.calls.list_calls(org, execution_id, wanted), limit, cursor)
