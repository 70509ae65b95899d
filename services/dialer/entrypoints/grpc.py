"""gRPC servicers of the dialer: proto in, use case, proto out."""

from __future__ import annotations

from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from services.dialer.entrypoints.mapping import (
    audio_proto,
    call_proto,
    call_stats_proto,
    did_proto,
    flow_from_proto,
    flow_proto,
)
from services.dialer.service import AudioLibrary, CallHistory, DidService, FlowService


class DialerServicer(dialer_pb2_grpc.DialerServiceServicer):
    def __init__(self, dids: DidService, calls: CallHistory):
        self.dids = dids
        self.calls = calls

    async def AddDid(self, request, context):
        org = request.organization_id if request.HasField("organization_id") else None
        return did_proto(await self.dids.add(request.number, request.country, org, request.inactive))

    async def SetDidStatus(self, request, context):
        return did_proto(await self.dids.set_status(request.id, request.status))

    async def DeleteDid(self, request, context):
        return did_proto(await self.dids.delete(request.id))

    async def ListAvailableDids(self, request, context):
        page = await self.dids.list_available(request.organization_id, request.limit, request.cursor)
        return dialer_pb2.ListDidsResponse(dids=[did_proto(d) for d in page.items], next_cursor=page.next_cursor)

    async def ListDids(self, request, context):
        org = request.organization_id if request.HasField("organization_id") else None
        return dialer_pb2.ListDidsResponse(dids=[did_proto(d) for d in await self.dids.list_all(org)])

    async def ResolveDids(self, request, context):
        rows = await self.dids.resolve(request.organization_id, list(request.did_ids), request.validate)
        return dialer_pb2.ListDidsResponse(dids=[did_proto(d) for d in rows])

    async def ListCalls(self, request, context):
        page = await self.calls.list(request.organization_id, request.execution_id, request.page_size,
                                     request.page_token, request.newest_first)
        return dialer_pb2.ListCallsResponse(calls=[call_proto(c) for c in page.items],
                                            next_page_token=page.next_cursor)

    async def GetCallStats(self, request, context):
        buckets = await self.calls.stats(request.organization_id, request.execution_id, request.bucket_seconds)
        return call_stats_proto(request.bucket_seconds, buckets)


class FlowServicer(dialer_pb2_grpc.FlowServiceServicer):
    def __init__(self, flows: FlowService, audio: AudioLibrary):
        self.flows = flows
        self.audio = audio

    async def CreateFlow(self, request, context):
        return flow_proto(await self.flows.create(request.organization_id, flow_from_proto(request)))

    async def GetFlow(self, request, context):
        return flow_proto(await self.flows.get(request.organization_id, request.flow_id))

    async def ListFlows(self, request, context):
        page = await self.flows.list(request.organization_id, request.limit, request.cursor)
        return dialer_pb2.ListFlowsResponse(flows=[flow_proto(f) for f in page.items], next_cursor=page.next_cursor)

    async def UploadAudio(self, request, context):
        return audio_proto(await self.audio.upload(request.organization_id, request.name, request.content_type,
                                                   request.content))

    async def GetAudio(self, request, context):
        return audio_proto(await self.audio.get(request.organization_id, request.audio_id))
