"""Uploaded audio in PostgreSQL: metadata and the converted WAV, written once, read by organization.

A call plays an audio by id alone (its flow was checked against the organization when it was
created), so `fetch_wav` reads by id; everything a client reaches is scoped by organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

import psycopg
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import ids
from kernel import settings as settings_module
from kernel.db import libpq_url
from services.dialer.adapters.audio_codec import Converted
from services.dialer.domain.audio_uploads import AudioUpload

SCHEMA = "dialer"
_COLUMNS = "id::text, organization_id::text, name, format, duration_ms, octet_length(wav), created_at"


def _upload(r) -> AudioUpload:
    return AudioUpload(id=r[0], organization_id=r[1], name=r[2], format=r[3], duration_ms=r[4],
                       size_bytes=r[5], created_at=r[6])


class AudioRepository:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def add(self, organization_id: str, name: str, fmt: str, converted: Converted,
                  now: datetime) -> AudioUpload:
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(f"""
                INSERT INTO audio_files (id, organization_id, name, format, duration_ms, wav, created_at)
                VALUES (:id, :org, :name, :format, :duration, :wav, :now)
                RETURNING {_COLUMNS}"""), {
                "id": str(uuid.uuid4()), "org": organization_id, "name": name, "format": fmt,
                "duration": converted.duration_ms, "wav": converted.wav, "now": now})).one()
        return _upload(row)

    async def get(self, organization_id: str, audio_id: str) -> AudioUpload | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(text(f"""
                SELECT {_COLUMNS} FROM audio_files WHERE id = :id AND organization_id = :org"""),
                {"id": audio_id, "org": organization_id})).first()
        return _upload(row) if row else None

    async def owned(self, organization_id: str, audio_ids: Collection[str]) -> set[str]:
        """Those of `audio_ids` (canonical UUIDs) that are the organization's audio."""
        if not audio_ids:
            return set()
        query = text("""SELECT id::text FROM audio_files WHERE organization_id = :org AND id = ANY(:ids)""")
        query = query.bindparams(bindparam("ids", type_=ARRAY(UUID(as_uuid=False))))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query, {"org": organization_id, "ids": list(audio_ids)})).all()
        return {r[0] for r in rows}


def fetch_wav(database_url: str, audio_id: str) -> bytes | None:
    """The converted WAV of an audio by id (blocking: called from a prompt cache miss); None when
    there is none."""
    wanted = ids.canonical(audio_id)
    if wanted is None:
        return None
    with psycopg.connect(libpq_url(database_url), options=f"-csearch_path={SCHEMA},public",
                         connect_timeout=10) as conn:
        row = conn.execute("SELECT wav FROM audio_files WHERE id = %s", (wanted,)).fetchone()
    return bytes(row[0]) if row else None


def fetch_wav_from_settings(audio_id: str) -> bytes | None:
    """`fetch_wav` on the database this process's settings name."""
    return fetch_wav(settings_module.get().database_url, audio_id)
