"""Bench set-up only: contacts written straight into the audience schema with COPY.

A million contacts through the bulk API would take minutes of set-up that measure nothing
the scenarios are about; the rows written here have the shape the audience service writes
(contacts, audiences with their members and counts, a date attribute when asked).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

CHUNK = 50_000


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def load_audiences(conn: psycopg.Connection, organization_id: str, audiences: int, contacts_each: int, *,
                   phone_prefix: str = "+2126", attribute: str | None = None,
                   first_date: datetime | None = None, date_step: timedelta = timedelta(0),
                   far_after: int | None = None, far_date: datetime | None = None) -> list[str]:
    """`audiences` new audiences of `contacts_each` new contacts each (phones prefix + serial number).

    With `attribute`, contact i gets the date first_date + i * date_step, or far_date from
    contact `far_after` on.
    """
    now = datetime.now(UTC)
    stamp = now.isoformat()
    audience_ids = [str(uuid.uuid4()) for _ in range(audiences)]
    total = audiences * contacts_each
    conn.execute("SET search_path TO audience")
    with conn.transaction():
        if attribute:
            conn.execute(
                "INSERT INTO attributes (id, organization_id, name, slug, type, created_at) "
                "VALUES (%s, %s, %s, %s, 'date', %s) ON CONFLICT (organization_id, slug) DO NOTHING",
                (str(uuid.uuid4()), organization_id, attribute, attribute, now))
        with conn.cursor() as cur:
            with cur.copy("COPY audiences (id, organization_id, name, description, contact_count, created_at,"
                          " updated_at) FROM STDIN") as copy:
                copy.write("".join(f"{a}\t{organization_id}\tbench {i}\t\t{contacts_each}\t{stamp}\t{stamp}\n"
                                   for i, a in enumerate(audience_ids)))
            for offset in range(0, total, CHUNK):
                contacts, members = [], []
                for i in range(offset, min(offset + CHUNK, total)):
                    cid = str(uuid.uuid4())
                    attrs = "{}"
                    if attribute:
                        far = far_after is not None and i >= far_after
                        value = far_date if far else first_date + date_step * i
                        attrs = json.dumps({attribute: _iso(value)})
                    contacts.append(f"{cid}\t{organization_id}\t{phone_prefix}{i:08d}\tContact {i}\tMA\t{attrs}"
                                    f"\t{stamp}\t{stamp}\n")
                    members.append(f"{audience_ids[i // contacts_each]}\t{cid}\t{stamp}\n")
                with cur.copy("COPY contacts (id, organization_id, phone, name, country, attributes, created_at,"
                              " updated_at) FROM STDIN") as copy:
                    copy.write("".join(contacts))
                with cur.copy("COPY audience_members (audience_id, contact_id, added_at) FROM STDIN") as copy:
                    copy.write("".join(members))
    for table in ("contacts", "audience_members", "audiences"):
        conn.execute(f"ANALYZE {table}")
    conn.execute("SET search_path TO public")
    return audience_ids


def load_audience(conn: psycopg.Connection, organization_id: str, count: int, **options) -> dict:
    """One audience of `count` contacts; see load_audiences for the options."""
    started = time.perf_counter()
    [audience_id] = load_audiences(conn, organization_id, 1, count, **options)
    return {"audience_id": audience_id, "contacts": count, "seconds": time.perf_counter() - started}
