"""Proto <-> dialer types for the gRPC servicers."""

from __future__ import annotations

from kernel.timefmt import iso
from outbound.dialer.v1 import dialer_pb2
from services.dialer.adapters.audio_codec import SAMPLE_RATE
from services.dialer.adapters.did_repository import DidRow
from services.dialer.adapters.flow_repository import FlowRow
from services.dialer.domain.attempts import CallRecord
from services.dialer.domain.audio_uploads import AudioUpload
from services.dialer.domain.call_stats import CallBucket
from services.dialer.domain.flows import Flow, FlowNode


def did_proto(row: DidRow) -> dialer_pb2.Did:
    did = dialer_pb2.Did(id=row.id, number=row.number, country=row.country, status=row.status,
                         deleted=row.deleted, created_at=iso(row.created_at))
    if row.organization_id:
        did.organization_id = row.organization_id
    return did


def node_proto(node: FlowNode) -> dialer_pb2.FlowNode:
    return dialer_pb2.FlowNode(id=node.id, type=node.type, text=node.text, next=node.next, prompt=node.prompt,
                               options=dict(node.options), timeout_seconds=node.timeout_seconds,
                               no_input=node.no_input, to=node.to, audio_id=node.audio_id)


def flow_proto(row: FlowRow) -> dialer_pb2.Flow:
    return dialer_pb2.Flow(id=row.id, organization_id=row.organization_id, name=row.flow.name,
                           start_node_id=row.flow.start_node_id, nodes=[node_proto(n) for n in row.flow.nodes],
                           created_at=iso(row.created_at))


def flow_from_proto(request: dialer_pb2.CreateFlowRequest) -> Flow:
    nodes = tuple(
        FlowNode(id=n.id, type=n.type, text=n.text, next=n.next, prompt=n.prompt, options=dict(n.options),
                 timeout_seconds=n.timeout_seconds, no_input=n.no_input, to=n.to, audio_id=n.audio_id)
        for n in request.nodes
    )
    return Flow(name=request.name, start_node_id=request.start_node_id, nodes=nodes)


def audio_proto(upload: AudioUpload) -> dialer_pb2.Audio:
    return dialer_pb2.Audio(id=upload.id, organization_id=upload.organization_id, name=upload.name,
                            format=upload.format, duration_ms=upload.duration_ms, size_bytes=upload.size_bytes,
                            created_at=iso(upload.created_at), sample_rate=SAMPLE_RATE)


def call_proto(record: CallRecord) -> dialer_pb2.CallRecord:
    return dialer_pb2.CallRecord(
        id=record.id, attempt_id=record.attempt_id, execution_id=record.execution_id,
        contact_id=record.contact_id, phone=record.phone, attempt=record.attempt, did_id=record.did_id or "",
        did_number=record.did_number or "", outcome=record.outcome or "", started_at=iso(record.started_at),
        answered_at=iso(record.answered_at), ended_at=iso(record.ended_at), talk_seconds=record.talk_seconds,
        node_ids=list(record.node_ids), sip_code=record.sip_code, q850_cause=record.q850_cause,
        amd=(dialer_pb2.AmdDecision(result=record.amd.result, decision_ms=record.amd.decision_ms)
             if record.amd is not None else None))


def call_stats_proto(bucket_seconds: int, buckets: list[CallBucket]) -> dialer_pb2.CallStats:
    return dialer_pb2.CallStats(bucket_seconds=bucket_seconds, buckets=[
        dialer_pb2.CallStatsBucket(start=iso(b.start), total=b.total, outcomes=b.outcomes) for b in buckets])
