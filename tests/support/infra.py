"""Real servers for the suite: started from the wheels on free ports, or taken from
DATABASE_URL / REDIS_URL / NATS_URL when those are set."""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from pathlib import Path

import psycopg

from kernel import migrations
from kernel.db import libpq_url
from outbound_cli.devservers import Nats, Postgres, Redis


class Infra:
    def __init__(self, root: Path):
        self.root = root
        self._counter = itertools.count(1)
        self.pg: Postgres | None = None
        self._admin_url = os.environ.get("DATABASE_URL")
        self._redis_url = os.environ.get("REDIS_URL")
        self._nats_url = os.environ.get("NATS_URL")
        self._owned: list = []

    def start(self) -> Infra:
        if not self._admin_url:
            self.pg = Postgres(self.root / "postgres", durable=False).start()
            self._owned.append(self.pg)
            self._admin_url = self.pg.url("postgres")
        return self

    def new_database(self, migrate: bool = True) -> str:
        """A fresh database with every context migrated: tests never share rows."""
        name = f"t_{next(self._counter)}_{uuid.uuid4().hex[:8]}"
        base = libpq_url(self._admin_url)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + f"/{name}"
        if migrate:
            migrations.upgrade(url)
        return url

    def new_postgres(self) -> tuple[str, Postgres]:
        """A PostgreSQL server of its own (with a migrated database), for tests that restart it."""
        server = Postgres(self.root / f"postgres-own-{next(self._counter)}", durable=False).start()
        self._owned.append(server)
        url = server.create_database("outbound")
        # As in production: a commit is acknowledged once its WAL is written, so a crash of the
        # server (not of the machine) loses no committed row.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER DATABASE outbound SET synchronous_commit = on")
        migrations.upgrade(url)
        return url, server

    def new_nats(self, own: bool = False, user: str = "", password: str = "") -> tuple[str, Nats | None]:
        """Each system gets its own JetStream unless NATS_URL names a shared one (and own is False).
        With a user, clients must log in; the URL answered carries no credentials."""
        if self._nats_url and not own:
            return self._nats_url, None
        server = Nats(Path(tempfile.mkdtemp(dir=self.root, prefix="nats-")), user=user, password=password).start()
        self._owned.append(server)
        return server.url(), server

    def new_redis(self, own: bool = False, durable: bool = False, password: str = "") -> tuple[str, Redis | None]:
        if self._redis_url and not own:
            return self._redis_url, None
        server = Redis(Path(tempfile.mkdtemp(dir=self.root, prefix="redis-")), durable=durable,
                       password=password).start()
        self._owned.append(server)
        return server.url(), server

    def stop(self) -> None:
        for server in reversed(self._owned):
            try:
                server.stop()
            except Exception:
                server.kill()
