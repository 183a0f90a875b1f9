"""A SOCKS5 server standing in for Tor: every CONNECT goes to the fictional web's port.

No authentication; CONNECT only; domain names (socks5h) and IPv4. The host names asked for are
recorded in ``requests`` so tests can check that ``.onion`` traffic went through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct
from collections.abc import Collection
from dataclasses import dataclass
from types import TracebackType

from tests.web.server import InThread

SUCCEEDED, GENERAL_FAILURE, HOST_UNREACHABLE, COMMAND_NOT_SUPPORTED, ADDRESS_NOT_SUPPORTED = (
    0,
    1,
    4,
    7,
    8,
)


@dataclass(frozen=True)
class SocksRequest:
    host: str
    port: int
    reply: int


class SocksServer:
    """``async with SocksServer(web.port) as socks: socks.url`` -> ``socks5h://127.0.0.1:PORT``.

    With ``known_hosts`` a name outside it gets "host unreachable", as Tor answers for a dead onion.
    """

    def __init__(
        self, target_port: int, port: int = 0, known_hosts: Collection[str] | None = None
    ) -> None:
        self.target_port = target_port
        self.requested_port = port
        self.known_hosts = known_hosts
        self.requests: list[SocksRequest] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"socks5h://127.0.0.1:{self.port}"

    @property
    def hosts(self) -> list[str]:
        return [request.host for request in self.requests]

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, "127.0.0.1", self.requested_port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> SocksServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5 or 0 not in methods:
            writer.write(b"\x05\xff")
            await writer.drain()
            return
        writer.write(b"\x05\x00")
        version, command, _, address_type = await reader.readexactly(4)
        if address_type == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif address_type == 3:
            host = (
                (await reader.readexactly((await reader.readexactly(1))[0])).decode("idna").lower()
            )
        else:
            await self._reply(writer, "", 0, ADDRESS_NOT_SUPPORTED)
            return
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != 1:
            await self._reply(writer, host, port, COMMAND_NOT_SUPPORTED)
            return
        if self.known_hosts is not None and address_type == 3 and host not in self.known_hosts:
            await self._reply(writer, host, port, HOST_UNREACHABLE)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            await self._reply(writer, host, port, GENERAL_FAILURE)
            return
        await self._reply(writer, host, port, SUCCEEDED)
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            upstream_writer.close()

    async def _reply(self, writer: asyncio.StreamWriter, host: str, port: int, code: int) -> None:
        self.requests.append(SocksRequest(host, port, code))
        writer.write(bytes([5, code, 0, 1, 127, 0, 0, 1]) + struct.pack("!H", self.target_port))
        await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()


class SocksInThread(InThread):
    """``start_socks_in_thread()``'s handle: ``port``, ``url``, ``requests``, ``hosts``."""

    server: SocksServer

    port = property(lambda self: self.server.port)
    url = property(lambda self: self.server.url)
    requests = property(lambda self: self.server.requests)
    hosts = property(lambda self: self.server.hosts)


def start_socks_in_thread(
    target_port: int, port: int = 0, known_hosts: Collection[str] | None = None
) -> SocksInThread:
    """Start a SOCKS5 server for sync code; ``stop()`` it when done."""
    return SocksInThread(SocksServer(target_port, port=port, known_hosts=known_hosts))
