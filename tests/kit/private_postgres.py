"""A PostgreSQL cluster of the test's own, which it may stop and restart: the shared server on :5432
serves every other test of the run and is never touched.

`initdb` into a temporary directory, `pg_ctl start` on a free loopback port (and a Unix socket in the
same directory), trust authentication for the `postgres` role; removed afterwards. Run as root (CI,
this machine), the binaries run as the `postgres` user through `runuser`, which owns the directory.
The binaries: HUB_TEST_PG_BIN, else the newest /usr/lib/postgresql/*/bin, else `pg_config --bindir`.

`fsync=off`: a stopped or killed server loses nothing with it (the WAL is written before a commit is
acknowledged; only an operating-system crash would need the flush), and the 2-core machine is spared
the disk flushes. Everything else is PostgreSQL's default, synchronous commit included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.kit.infra import free_port

OWNER = "postgres"


def pg_bin_dir() -> Path:
    if configured := os.environ.get("HUB_TEST_PG_BIN"):
        return Path(configured)
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if installed:
        return installed[-1].parent
    found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    return Path(found.stdout.strip())


@dataclass
class PrivatePostgres:
    """One private cluster: `stop()`, `start()` and `restart()` are what an outage or a crash does."""

    root: Path  # owned by the cluster's user: data/, the socket, the server log
    port: int
    bin_dir: Path
    run_as: str | None  # the user the binaries run as (None: this process's own)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{OWNER}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
                f"\n--- server log ---\n{self._log_tail()}"
            )

    def _log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return "(no server log)"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-U", OWNER, "-A", "trust", "-E", "UTF8", "--no-sync")

    def start_blocking(self) -> None:
        options = " ".join(
            (
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c max_connections=200",
            )
        )
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
        )

    def stop_blocking(self, mode: str = "fast") -> None:
        """`fast`: sessions cut, a clean shutdown; `immediate`: the server killed, recovery at the next start."""
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-D", str(self.data_dir), "-m", mode)

    async def start(self) -> None:
        await asyncio.to_thread(self.start_blocking)

    async def stop(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.stop_blocking, mode)

    async def restart(self, mode: str = "fast") -> float:
        """Stop and start again; returns how long the server was away (seconds)."""
        began = time.monotonic()
        await self.stop(mode)
        await self.start()
        return time.monotonic() - began

    async def create_database(self, name: str | None = None) -> str:
        """A fresh database on this cluster; its URL."""
        name = name or f"hubtest_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(self.url())
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        return self.url(name)


def _owner_ids() -> tuple[int, int] | None:
    """(uid, gid) of the cluster's user when this process is root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(OWNER)
    return entry.pw_uid, entry.pw_gid


@asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    """A started private cluster, stopped and removed afterwards whatever happened."""
    ids = _owner_ids()
    root = Path(tempfile.mkdtemp(prefix="hub-private-pg-"))
    if ids is not None:
        os.chown(root, *ids)
    pg = PrivatePostgres(root, free_port(), pg_bin_dir(), OWNER if ids is not None else None)
    try:
        await asyncio.to_thread(pg.init)
        for attempt in range(3):
            try:
                await pg.start()
                break
            except RuntimeError:  # the free port was taken in between: another one
                if attempt == 2:
                    raise
                pg.port = free_port()
        yield pg
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pg.stop_blocking, "immediate")
        shutil.rmtree(root, ignore_errors=True)
