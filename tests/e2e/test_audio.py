"""/api/audio through the gateway: WAV and MP3 uploads converted to 8 kHz WAV, played by flows of
the same organization, bad files refused with nothing stored, and a campaign whose flow plays
uploaded audio (the simulated carrier walks its nodes like any other)."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.audio_files import read_wav, rms, tone_mp3, tone_wav
from tests.support.campaigns import SIM_RULES, Tenant
from tests.support.system import System

pytestmark = pytest.mark.e2e

AUDIO_KEYS = {"id", "organizationId", "name", "format", "durationSeconds", "sampleRate", "sizeBytes", "createdAt"}


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(clock_speed=60, sim_rules={**SIM_RULES, "default": {
        "outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 5, "digits": ["1"]}})


def stored_count(system: System) -> int:
    with psycopg.connect(system.database_url, options="-csearch_path=dialer") as conn:
        return conn.execute("SELECT count(*) FROM audio_files").fetchone()[0]


def stored_wav(system: System, audio_id: str) -> bytes:
    with psycopg.connect(system.database_url, options="-csearch_path=dialer") as conn:
        return bytes(conn.execute("SELECT wav FROM audio_files WHERE id = %s", (audio_id,)).fetchone()[0])


def upload(org, content: bytes, content_type: str, name: str | None = None):
    return org.post("/audio", content=content, headers={"content-type": content_type},
                    params={"name": name} if name is not None else None)


def audio_flow(say_audio: str, gather_audio: str) -> dict:
    return {"name": "Recorded", "startNodeId": "welcome", "nodes": [
        {"id": "welcome", "type": "say", "audioId": say_audio, "next": "menu"},
        {"id": "menu", "type": "gather", "audioId": gather_audio, "options": {"1": "confirm"}, "noInput": "bye"},
        {"id": "confirm", "type": "say", "text": "Thanks", "next": "bye"},
        {"id": "bye", "type": "hangup"},
    ]}


def test_wav_and_mp3_upload_and_play_in_a_flow(system):
    org = system.create_org()

    wav = upload(org, tone_wav(1.5, 44100, 2), "audio/wav", "welcome.wav")
    mp3 = upload(org, tone_mp3(2.0), "audio/mpeg", "menu.mp3")

    assert wav.status_code == 201, wav.text
    assert mp3.status_code == 201, mp3.text
    for answer, fmt, seconds in [(wav, "wav", 1.5), (mp3, "mp3", 2.0)]:
        body = answer.json()
        assert set(body) == AUDIO_KEYS
        assert (body["organizationId"], body["format"], body["sampleRate"]) == (org.id, fmt, 8000)
        assert abs(body["durationSeconds"] - seconds) < 0.15 and body["createdAt"].endswith("Z")
        assert org.get(f"/audio/{body['id']}").json() == body
        params, samples = read_wav(stored_wav(system, body["id"]))
        assert (params.framerate, params.sampwidth, params.nchannels) == (8000, 2, 1) and rms(samples) > 3000
    assert wav.json()["name"] == "welcome.wav" and mp3.json()["name"] == "menu.mp3"

    flow = org.post("/flows", json=audio_flow(wav.json()["id"], mp3.json()["id"]))

    assert flow.status_code == 201, flow.text
    nodes = flow.json()["nodes"]
    assert nodes[0] == {"id": "welcome", "type": "say", "audioId": wav.json()["id"], "next": "menu"}
    assert nodes[1] == {"id": "menu", "type": "gather", "audioId": mp3.json()["id"], "options": {"1": "confirm"},
                        "timeoutSeconds": 5, "noInput": "bye"}
    assert nodes[2] == {"id": "confirm", "type": "say", "text": "Thanks", "next": "bye"}
    assert org.get(f"/flows/{flow.json()['id']}").json() == flow.json()


def test_another_organizations_audio_is_not_found_and_cannot_be_played(system):
    owner, other = system.create_org(), system.create_org()
    audio_id = upload(owner, tone_wav(), "audio/wav").json()["id"]

    seen = other.get(f"/audio/{audio_id}")
    assert seen.status_code == 404 and seen.json()["error"] == "AudioNotFoundError"
    refused = other.post("/flows", json=audio_flow(audio_id, audio_id))
    assert refused.status_code == 400
    assert refused.json()["error"] == "ValidationError"
    assert refused.json()["message"].startswith("nodes[0].audioId: unknown audio")
    assert other.get("/audio/not-a-uuid").status_code == 404


@pytest.mark.parametrize("node, field", [
    ({"id": "a", "type": "say", "text": "Hello", "audioId": "AUDIO", "next": "bye"}, "nodes[0].audioId"),
    ({"id": "a", "type": "say", "next": "bye"}, "nodes[0].text"),
    ({"id": "a", "type": "gather", "prompt": "Press 1", "audioId": "AUDIO", "options": {"1": "bye"},
      "noInput": "bye"}, "nodes[0].audioId"),
    ({"id": "a", "type": "transfer", "to": "+212600000001", "audioId": "AUDIO", "next": "bye"}, "nodes[0].audioId"),
])
def test_a_node_plays_exactly_one_of_text_and_audio(system, node, field):
    org = system.create_org()
    audio_id = upload(org, tone_wav(), "audio/wav").json()["id"]
    node = {k: (audio_id if v == "AUDIO" else v) for k, v in node.items()}
    answer = org.post("/flows", json={"name": "x", "startNodeId": "a", "nodes": [node, {"id": "bye", "type": "hangup"}]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "ValidationError" and answer.json()["message"].startswith(f"{field}:")


@pytest.mark.parametrize("content, content_type, status, error, starts", [
    (b"not audio at all", "audio/wav", 400, "ValidationError", "body:"),
    (b"OggS\x00\x02" + bytes(300), "audio/ogg", 400, "ValidationError", "Content-Type:"),
    (b"OggS\x00\x02" + bytes(300), "application/octet-stream", 400, "ValidationError", "body:"),
    (b"fLaC\x00\x00\x00\x22" + bytes(300), "audio/mpeg", 400, "ValidationError", "body:"),
    (b"", "audio/wav", 400, "ValidationError", "body:"),
    (b'{"file": "greeting.wav"}', "application/json", 400, "ValidationError", "Content-Type:"),
    (b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\nRIFF\r\n--x--\r\n", "multipart/form-data; boundary=x",
     400, "ValidationError", "Content-Type:"),
    (tone_wav(15.0, 44100, 2), "audio/wav", 413, "PayloadTooLargeError", "Body larger than"),
])
def test_bad_file_is_refused_and_nothing_is_stored(system, content, content_type, status, error, starts):
    org = system.create_org()
    before = stored_count(system)

    answer = upload(org, content, content_type)

    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error and answer.json()["message"].startswith(starts), answer.json()
    assert stored_count(system) == before


def test_a_campaign_plays_a_flow_of_uploaded_audio(system):
    tenant = Tenant(system)
    org = tenant.org
    wav = upload(org, tone_wav(), "audio/wav").json()["id"]
    mp3 = upload(org, tone_mp3(), "audio/mpeg").json()["id"]
    flow = org.post("/flows", json=audio_flow(wav, mp3))
    assert flow.status_code == 201, flow.text
    tenant.flow_id = flow.json()["id"]

    execution_id = tenant.launch(tenant.program(tenant.audience(3))["id"])
    done = tenant.wait_status(execution_id, "completed")

    assert done["contactsCompleted"] == 3
    calls = tenant.calls(execution_id)
    assert [c["outcome"] for c in calls] == ["answered"] * 3
    assert all(c["nodeIds"] == ["welcome", "menu", "confirm", "bye"] for c in calls), calls
