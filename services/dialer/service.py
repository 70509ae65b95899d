"""Use cases of the DID registry, the flow library, uploaded audio and the call history."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kernel import errors, ids, paging
from kernel.clock import get_clock
from kernel.paging import PageRequest
from services.dialer.adapters import audio_codec
from services.dialer.adapters.audio_store import AudioRepository
from services.dialer.adapters.call_results import CallResults
from services.dialer.adapters.did_repository import DidRepository, DidRow
from services.dialer.adapters.flow_repository import FlowRepository, FlowRow
from services.dialer.domain.audio_uploads import AudioUpload, check_content_type, check_name, sniff_format
from services.dialer.domain.call_stats import CallBucket, check_bucket_seconds
from services.dialer.domain.errors import (
    AudioNotFoundError,
    DidNotAccessibleError,
    DidNotActiveError,
    DidNotFoundError,
    FlowNotFoundError,
)
from services.dialer.domain.flows import Flow, audio_references, validate_flow
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

    async def list_all(self, organization_id: str | None = None) -> list[DidRow]:
        """The operator's view: every DID not deleted, or those an organization may use."""
        return await self.dids.list_all(None if organization_id is None else _organization(organization_id))

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
    def __init__(self, flows: FlowRepository, audio: AudioRepository):
        self.flows = flows
        self.audio = audio

    async def create(self, organization_id: str, flow: Flow) -> FlowRow:
        org = _organization(organization_id)
        valid = validate_flow(flow)
        await self._check_audio(org, valid)
        return await self.flows.add(org, valid, get_clock().now())

    async def _check_audio(self, org: str, flow: Flow) -> None:
        """Every audio a node plays is the organization's own: the first that is not is named.
        Audio is never deleted, so a flow that passed keeps playable prompts."""
        references = audio_references(flow)
        owned = await self.audio.owned(org, {c for _, a in references if (c := ids.canonical(a))})
        for field, audio_id in references:
            if ids.canonical(audio_id) not in owned:
                raise errors.ValidationError(f"{field}: unknown audio '{audio_id}'", field=field)

    async def get(self, organization_id: str, flow_id: str) -> FlowRow:
        org = _organization(organization_id)
        fid = ids.canonical(flow_id)
        return _found(await self.flows.get(org, fid) if fid else None, FlowNotFoundError)

    async def list(self, organization_id: str, limit: int = 0, cursor: str = "") -> Page:
        org = _organization(organization_id)
        return await _page(lambda wanted: self.flows.list(org, wanted), limit, cursor)


class AudioLibrary:
    def __init__(self, audio: AudioRepository):
        self.audio = audio

    async def upload(self, organization_id: str, name: str, content_type: str, content: bytes) -> AudioUpload:
        """Check, convert to 8 kHz WAV, store: a file refused at any step stores nothing."""
        org = _organization(organization_id)
        check_content_type(content_type)
        clean_name = check_name(name)
        fmt = sniff_format(content)
        # Decoding is CPU-bound C work; off the event loop, so other calls go on meanwhile.
        converted = await asyncio.to_thread(audio_codec.convert, content, fmt)
        return await self.audio.add(org, clean_name, fmt, converted, get_clock().now())

    async def get(self, organization_id: str, audio_id: str) -> AudioUpload:
        org = _organization(organization_id)
        wanted = ids.canonical(audio_id)
        return _found(await self.audio.get(org, wanted) if wanted else None, AudioNotFoundError)


class CallHistory:
    def __init__(self, calls: CallResults):
        self.calls = calls

    async def list(self, organization_id: str, execution_id: str, limit: int = 0, cursor: str = "",
                   newest_first: bool = False) -> Page:
        org = _organization(organization_id)
        return await _page(lambda wanted: self.calls.list_calls(org, execution_id, wanted, newest_first),
                           limit, cursor)

    async def stats(self, organization_id: str, execution_id: str, bucket_seconds: int) -> list[CallBucket]:
        org = _organization(organization_id)
        return await self.calls.call_stats(org, execution_id, check_bucket_seconds(bucket_seconds))
