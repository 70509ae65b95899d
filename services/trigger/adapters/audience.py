"""The audience service as the trigger context needs it: attribute values in, output audience members out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from kernel import errors, rpc
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc

STREAM_BATCH = 5000
# Members added per AddAudienceMembers call.
MEMBERS_BATCH = 1000
# The audience service's errors, recognised by name.
AUDIENCE_NOT_FOUND = "AudienceNotFoundError"
ATTRIBUTE_NOT_FOUND = "AttributeNotFoundError"


class AudienceClient:
    def __init__(self, address: str):
        self._channel = rpc.channel(address)
        self._stub = audience_pb2_grpc.AudienceServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def attribute_values(self, organization_id: str, slug: str
                               ) -> AsyncIterator[Sequence[audience_pb2.AttributeValue]]:
        """Every contact of the organization whose attribute is set, page by page."""
        request = audience_pb2.StreamAttributeValuesRequest(
            organization_id=organization_id, attribute_slug=slug, batch_size=STREAM_BATCH)
        async for batch in rpc.stream(self._stub.StreamAttributeValues, request, timeout=600):
            yield batch.values

    async def add_members(self, organization_id: str, audience_id: str, contact_ids: Sequence[str]) -> None:
        """Add contacts to the output audience (idempotent). A contact deleted meanwhile is skipped."""
        for start in range(0, len(contact_ids), MEMBERS_BATCH):
            chunk = list(contact_ids[start:start + MEMBERS_BATCH])
            try:
                await self._add(organization_id, audience_id, chunk)
            except errors.NotFoundError as exc:
                if errors.is_named(exc, AUDIENCE_NOT_FOUND):
                    return
                for contact_id in chunk:
                    try:
                        await self._add(organization_id, audience_id, [contact_id])
                    except errors.NotFoundError as one:
                        if errors.is_named(one, AUDIENCE_NOT_FOUND):
                            return

    async def _add(self, organization_id: str, audience_id: str, contact_ids: list[str]) -> None:
        await rpc.call(self._stub.AddAudienceMembers, audience_pb2.AudienceMembersRequest(
            organization_id=organization_id, audience_id=audience_id, contact_ids=contact_ids))
