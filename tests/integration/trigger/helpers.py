"""Reading what the trigger service did: its rows and the trigger.fired messages it published."""

from __future__ import annotations

import asyncio

import nats
import psycopg
from nats.js.errors import NotFoundError

from kernel.db import libpq_url
from outbound.trigger.v1 import events_pb2
from tests.support.system import HANG_GUARD_SECONDS


def rows(database_url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("SET search_path = trigger")
        return conn.execute(sql, params).fetchall()


def fired_messages(nats_url: str) -> list[events_pb2.TriggerFired]:
    """Every message of the TRIGGERS stream, decoded."""

    async def read() -> list[events_pb2.TriggerFired]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info("TRIGGERS")
            except NotFoundError:
                return []
            out = []
            if info.state.messages:
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    try:
                        msg = await js.get_msg("TRIGGERS", seq)
                    except NotFoundError:
                        continue
                    if msg.subject == "trigger.fired":
                        out.append(events_pb2.TriggerFired.FromString(msg.data))
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def publish(nats_url: str, subject: str, payload: bytes, msg_id: str) -> None:
    async def send() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish(subject, payload, headers={"Nats-Msg-Id": msg_id}, timeout=HANG_GUARD_SECONDS)
        finally:
            await nc.close()

    asyncio.run(send())
