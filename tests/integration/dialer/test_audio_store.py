"""Uploaded audio against the real dialer and its PostgreSQL: converted once to 8 kHz 16-bit mono WAV
and stored per organization; flows may name only their organization's audio; a refused file stores
nothing; a call's prompt cache fetches the stored WAV once."""

from __future__ import annotations

import io
import uuid
import wave

import psycopg
import pytest

from kernel import errors
from kernel import settings as settings_module
from outbound.dialer.v1 import dialer_pb2 as pb
from services.dialer.adapters.audio_store import fetch_wav
from services.dialer.adapters.prompts import Prompts
from services.dialer.domain.audio_uploads import MAX_SECONDS
from services.dialer.domain.errors import AudioNotFoundError
from tests.integration.dialer.helpers import Stubs, rpc
from tests.support.audio_files import read_wav, rms, tone_mp3, tone_wav


@pytest.fixture(scope="module")
def dialer(system_factory):
    system = system_factory(services=["dialer"], gateway=False)
    stubs = Stubs(system)
    yield system, stubs
    stubs.close()


def org() -> str:
    return str(uuid.uuid4())


def upload(stubs: Stubs, organization: str, content: bytes, content_type: str = "audio/wav",
           name: str = "greeting") -> pb.Audio:
    return rpc(stubs.flows.UploadAudio, pb.UploadAudioRequest(
        organization_id=organization, name=name, content_type=content_type, content=content))


def stored(database_url: str, organization: str | None = None) -> list[tuple]:
    with psycopg.connect(database_url, options="-csearch_path=dialer") as conn:
        if organization is None:
            return conn.execute("SELECT id::text, organization_id::text, format, duration_ms, wav "
                                "FROM audio_files").fetchall()
        return conn.execute("SELECT id::text, organization_id::text, format, duration_ms, wav FROM audio_files "
                            "WHERE organization_id = %s", (organization,)).fetchall()


def flow_playing(organization: str, audio_id: str, on: str = "say") -> pb.CreateFlowRequest:
    spoken = (pb.FlowNode(id="a", type="say", audio_id=audio_id, next="bye") if on == "say" else
              pb.FlowNode(id="a", type="gather", audio_id=audio_id, options={"1": "bye"}, no_input="bye"))
    return pb.CreateFlowRequest(organization_id=organization, name="Played", start_node_id="a",
                                nodes=[spoken, pb.FlowNode(id="bye", type="hangup")])


@pytest.mark.parametrize("content, content_type, fmt, seconds", [
    (tone_wav(1.5, 44100, 2), "audio/wav", "wav", 1.5),
    (tone_wav(1.5, 11025, 1, width=1), "audio/x-wav", "wav", 1.5),
    (tone_mp3(2.0, 22050, 1), "audio/mpeg", "mp3", 2.0),
    (tone_mp3(2.0, 44100, 2), "application/octet-stream", "mp3", 2.0),
])
def test_upload_is_converted_to_8khz_16bit_mono_and_stored(dialer, content, content_type, fmt, seconds):
    system, stubs = dialer
    owner = org()

    audio = upload(stubs, owner, content, content_type)

    assert (audio.organization_id, audio.name, audio.format, audio.sample_rate) == (owner, "greeting", fmt, 8000)
    assert abs(audio.duration_ms / 1000 - seconds) < 0.15  # an MP3 encoder pads a frame or two
    [(audio_id, organization, stored_format, duration_ms, wav)] = stored(system.database_url, owner)
    assert (audio_id, organization, stored_format, duration_ms) == (audio.id, owner, fmt, audio.duration_ms)
    assert len(wav) == audio.size_bytes
    params, samples = read_wav(bytes(wav))
    assert (params.framerate, params.sampwidth, params.nchannels) == (8000, 2, 1)
    assert abs(params.nframes / 8000 - audio.duration_ms / 1000) < 0.05
    assert rms(samples) > 3000  # the tone survived (amplitude 8000: RMS about 5650)


def silence_wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(b"\x80" * int(seconds * 8000))
    return out.getvalue()


@pytest.mark.parametrize("content, content_type, name, field", [
    (b"", "audio/wav", "x", "body"),
    (b"OggS\x00\x02" + b"\x00" * 200, "audio/wav", "x", "body"),
    (b"just some text, not audio at all", "application/octet-stream", "x", "body"),
    (tone_wav()[:44] + b"\x00\x01", "audio/wav", "x", "body"),          # a header and no audio
    (b"RIFF\x00\x00\x00\x00WAVE" + b"\xff" * 500, "audio/wav", "x", "body"),  # WAVE without chunks
    (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 500, "audio/mpeg", "x", "body"),  # a tag, no frames
    (silence_wav(MAX_SECONDS + 1), "audio/wav", "x", "body"),
    (tone_wav(), "application/json", "x", "Content-Type"),
    (tone_wav(), "", "x", "Content-Type"),
    (tone_wav(), "audio/wav", "n" * 201, "name"),
])
def test_refused_upload_stores_nothing(dialer, content, content_type, name, field):
    system, stubs = dialer
    before = len(stored(system.database_url))

    with pytest.raises(errors.ValidationError) as info:
        upload(stubs, org(), content, content_type, name)

    assert info.value.field == field
    assert len(stored(system.database_url)) == before


def test_audio_is_seen_only_by_its_organization(dialer):
    _, stubs = dialer
    owner, other = org(), org()
    audio = upload(stubs, owner, tone_wav())

    assert rpc(stubs.flows.GetAudio, pb.GetAudioRequest(organization_id=owner, audio_id=audio.id)).id == audio.id
    for organization, audio_id in [(other, audio.id), (owner, str(uuid.uuid4())), (owner, "not-a-uuid")]:
        with pytest.raises(AudioNotFoundError):
            rpc(stubs.flows.GetAudio, pb.GetAudioRequest(organization_id=organization, audio_id=audio_id))


@pytest.mark.parametrize("on", ["say", "gather"])
def test_a_flow_plays_its_own_organizations_audio(dialer, on):
    _, stubs = dialer
    owner, other = org(), org()
    audio = upload(stubs, owner, tone_mp3(), "audio/mpeg")

    flow = rpc(stubs.flows.CreateFlow, flow_playing(owner, audio.id.upper(), on))
    assert flow.nodes[0].audio_id == audio.id.upper()
    assert not flow.nodes[0].text and not flow.nodes[0].prompt
    again = rpc(stubs.flows.GetFlow, pb.GetFlowRequest(organization_id=owner, flow_id=flow.id))
    assert again.nodes[0].audio_id == audio.id.upper()

    for organization, audio_id in [(other, audio.id), (owner, str(uuid.uuid4())), (owner, "greeting.wav")]:
        with pytest.raises(errors.ValidationError) as info:
            rpc(stubs.flows.CreateFlow, flow_playing(organization, audio_id, on))
        assert info.value.field == "nodes[0].audioId"


def test_a_flow_names_the_first_foreign_audio(dialer):
    _, stubs = dialer
    owner = org()
    mine = upload(stubs, owner, tone_wav()).id
    theirs = upload(stubs, org(), tone_wav()).id
    request = pb.CreateFlowRequest(organization_id=owner, name="Two", start_node_id="a", nodes=[
        pb.FlowNode(id="a", type="say", audio_id=mine, next="b"),
        pb.FlowNode(id="b", type="say", text="Hello", next="c"),
        pb.FlowNode(id="c", type="gather", audio_id=theirs, options={"1": "bye"}, no_input="bye"),
        pb.FlowNode(id="bye", type="hangup"),
    ])
    with pytest.raises(errors.ValidationError) as info:
        rpc(stubs.flows.CreateFlow, request)
    assert info.value.field == "nodes[2].audioId"


def test_prompt_cache_fetches_stored_audio_once(dialer, tmp_path):
    system, stubs = dialer
    audio = upload(stubs, org(), tone_mp3(), "audio/mpeg")
    fetched: list[str] = []

    def source(audio_id: str) -> bytes | None:
        fetched.append(audio_id)
        return fetch_wav(system.database_url, audio_id)

    prompts = Prompts(tmp_path, audio_source=source)
    path = prompts.audio(audio.id)
    assert path is not None and path.parent == tmp_path / "audio"
    [(_, _, _, _, wav)] = [row for row in stored(system.database_url) if row[0] == audio.id]
    assert path.read_bytes() == bytes(wav)

    assert prompts.audio(audio.id.upper()) == path
    assert Prompts(tmp_path, audio_source=source).audio(audio.id) == path
    assert fetched == [audio.id]

    assert prompts.audio(str(uuid.uuid4())) is None
    assert prompts.audio("../../etc/passwd") is None
    assert len(fetched) == 2  # the unknown id was asked for; the malformed one never reached the database


def test_prompt_cache_reads_the_database_the_settings_name(dialer, tmp_path, monkeypatch):
    system, stubs = dialer
    audio = upload(stubs, org(), tone_wav())
    monkeypatch.setenv("DATABASE_URL", system.database_url)
    settings_module.get.cache_clear()
    try:
        path = Prompts(tmp_path).audio(audio.id)
    finally:
        settings_module.get.cache_clear()
    assert path is not None
    params, samples = read_wav(path.read_bytes())
    assert params.framerate == 8000 and rms(samples) > 3000
