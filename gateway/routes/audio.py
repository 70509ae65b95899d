"""/api/audio: WAV and MP3 files a flow's say and gather nodes may play instead of text."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiResponse
from outbound.dialer.v1 import dialer_pb2

router = APIRouter(tags=["audio"])

# The file is the raw request body (no multipart): the body limit applies to it as to any body.
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The WAV or MP3 file itself",
        "content": {media: {"schema": {"type": "string", "format": "binary"}}
                    for media in ("audio/wav", "audio/mpeg", "application/octet-stream")},
    },
}


class AudioResponse(ApiResponse):
    id: str
    organization_id: str
    name: str
    format: str
    duration_seconds: float
    sample_rate: int
    size_bytes: int
    created_at: str


def audio_json(audio: dialer_pb2.Audio) -> AudioResponse:
    return AudioResponse(id=audio.id, organization_id=audio.organization_id, name=audio.name, format=audio.format,
                         duration_seconds=audio.duration_ms / 1000, sample_rate=audio.sample_rate, size_bytes=audio.size_bytes,
                         created_at=audio.created_at)


@router.post("/audio", status_code=201, response_model=AudioResponse, openapi_extra=_UPLOAD_BODY)
async def upload_audio(request: Request, name: str = Query("", description="A label for the file, ≤ 200 characters"),
                       org: str = Depends(organization_id), stubs: Clients = Depends(clients)) -> AudioResponse:
    """Upload a WAV or MP3 file as the raw body (`Content-Type: audio/wav`, `audio/mpeg` or
    `application/octet-stream`). It is converted once to 8 kHz 16-bit mono WAV and stored; a
    flow's `say` or `gather` node plays it when it names the answered `id` as `audioId`. The
    format is read from the file itself: anything but a playable WAV or MP3 (at most 600 s) is a
    400 ValidationError and nothing is stored."""
    content = await request.body()
    audio = await call(stubs.flows.UploadAudio, dialer_pb2.UploadAudioRequest(
        organization_id=org, name=name, content_type=request.headers.get("content-type", ""), content=content))
    return audio_json(audio)


@router.get("/audio/{audio_id}", response_model=AudioResponse)
async def get_audio(audio_id: str, org: str = Depends(organization_id),
                    stubs: Clients = Depends(clients)) -> AudioResponse:
    """An uploaded audio's description (404 AudioNotFoundError for another organization's)."""
    return audio_json(await call(stubs.flows.GetAudio, dialer_pb2.GetAudioRequest(organization_id=org,
                                                                                  audio_id=audio_id)))
