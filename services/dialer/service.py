"""Use cases of the DID registry, the flow library and the call history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kernel import errors, paging
from kernel.clock import get_clock
from services.dialer.adapters.call_repository import CallRecord, CallRepository
from services.dialer.adapters.did_repository import DidRepository, DidRow
from services.dialer.adapters.flow_repository import FlowRepository, FlowRow
from services.dialer.domain.flows import Flow, validate_flow
from services.dialer.domain.ids import as_uuid
from services.dialer.domain.phone import normalize_country, normalize_e164, number_in_country

DID_STATUSES = ("active", "inactive")


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str


def _organization(value: str) -> str:
    org = as_uuid(value)
    if org is None:
        raise errors.ValidationError("organizationId: must be a UUID", field="organizationId")
    return org


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
        did = as_uuid(did_id)
        row = await self.dids.set_status(did, status, get_clock().now()) if did else None
        if row is None:
            raise errors.DidNotFoundError()
        return row

    async def delete(self, did_id: str) -> DidRow:
        did = as_uuid(did_id)
        row = await self.dids.soft_delete(did, get_clock().now()) if did else None
        if row is None:
            raise errors.DidNotFoundError()
        return row

    async def list_available(self, organization_id: str, limit: int = 0, cursor: str = "") -> Page:
        org = _organization(organization_id)
        size = paging.page_size(limit)
        after = paging.decode(cursor, 2)
        rows = await self.dids.list_available(org, size + 1, (after[0], paging.identifier(after[1])) if after else None)
        more = len(rows) > size
        rows = rows[:size]
        return Page(rows, paging.encode(rows[-1].number, rows[-1].id) if more else "")

    async def resolve(self, organization_id: str, did_ids: Sequence[str], validate: bool) -> list[DidRow]:
        """The pool's DIDs in order. validate: the first unusable id raises, naming didPool[i]."""
        org = _organization(organization_id)
        ids = [as_uuid(d) for d in did_ids]
        found = await self.dids.get_many([d for d in ids if d])
        out: list[DidRow] = []
        seen: set[str] = set()
        for i, did_id in enumerate(ids):
            row = found.get(did_id) if did_id else None
            field = f"didPool[{i}]"
            accessible = row is not None and row.organization_id in (None, org)
            if validate:
                if row is None or row.deleted:
                    raise errors.DidNotFoundError(f"{field}: DID not found", field=field)
                if not accessible:
                    raise errors.DidNotAccessibleError(
                        f"{field}: DID is not available to this organization", field=field)
                if row.status != "active":
                    raise errors.DidNotActiveError(f"{field}: DID is not active", field=field)
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
        fid = as_uuid(flow_id)
        row = await self.flows.get(org, fid) if fid else None
        if row is None:
            raise errors.FlowNotFoundError()
        return row

    async def list(self, organization_id: str, limit: int = 0, cursor: str = "") -> Page:
        org = _organization(organization_id)
        size = paging.page_size(limit)
        rows = await self.flows.list(org, size + 1, _time_key(cursor))
        more = len(rows) > size
        rows = rows[:size]
        return Page(rows, paging.encode(rows[-1].created_at, rows[-1].id) if more else "")


class CallHistory:
    def __init__(self, calls: CallRepository):
        self.calls = calls

    async def list(self, organization_id: str, execution_id: str, limit: int = 0, cursor: str = "") -> Page:
        org = _organization(organization_id)
        size = paging.page_size(limit)
        rows: list[CallRecord] = await self.calls.list_calls(org, execution_id, size + 1, _time_key(cursor))
        more = len(rows) > size
        rows = rows[:size]
        return Page(rows, paging.encode(rows[-1].created_at, rows[-1].id) if more else "")


def _time_key(cursor: str) -> tuple[datetime, str] | None:
    key = paging.decode(cursor, 2)
    return (paging.instant(key[0]), paging.identifier(key[1])) if key else None
