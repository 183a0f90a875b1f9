"""Shared fixtures: the fictional web, real databases (SQLite, PostgreSQL), the trawler CLI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (corpus, lexicons); tests that need it skip when it is absent."""
    if not (SHARED / "corpus" / "dev.jsonl").exists():
        pytest.skip("../shared/corpus is absent: research data is not part of the repository")
    return SHARED


@pytest.fixture(scope="session")
def web() -> Iterator[object]:
    """The fictional web on 127.0.0.1, with its SOCKS5 Tor stand-in."""
    from tests.web.server import start_in_thread

    server = start_in_thread(port=0, socks_port=0)
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trawler(*args: str, data: Path | None = None, input: str | None = None,
            timeout: float = 600, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """Run the real ``trawler`` command in a subprocess (one reactor per process)."""
    command = [sys.executable, "-m", "crawler", *args]
    if data is not None:
        command += ["--data", str(data)]
    full_env = {**os.environ, **(env or {})}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        full_env.pop(name, None)
    return subprocess.run(command, cwd=ROOT, input=input, capture_output=True, text=True,
                          timeout=timeout, env=full_env, check=False)


@pytest.fixture
def run_trawler():
    return trawler


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server from Debian's package, in a temp dir, on a free port."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    base = tmp_path_factory.mktemp("pg")
    datadir, sockdir = base / "data", base / "sock"
    sockdir.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        shutil.chown(base, "postgres")
        shutil.chown(sockdir, "postgres")
        base.chmod(0o755)
        for parent in base.parents:
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o005)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(datadir), "-U", "trawler",
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                   check=True, capture_output=True)
    log = base / "log"
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w",
                    "-o", f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    try:
        subprocess.run([*prefix, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", "trawler", "trawler"], check=True, capture_output=True)
        yield f"postgresql://trawler@127.0.0.1:{port}/trawler"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast",
                        "stop"], capture_output=True)


async def own_postgres_database(postgres_url: str, prefix: str) -> str:
    """The URL of a new, empty database on the test server, for a test that must not see the
    rows other tests left in the shared one."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from crawler.store.db import normalize_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
