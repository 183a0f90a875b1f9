"""The fictional web server: many virtual hosts on one 127.0.0.1 port, also an HTTP forward proxy.

A request with an absolute URI (``GET http://shop.example/ HTTP/1.1``, as clients send to a proxy)
is answered from the host in the URI; an origin-form request from the ``Host`` header. It is a
small HTTP/1.1 server of its own (keep-alive, no chunked request bodies) rather than aiohttp's,
so that the raw request line decides proxy vs direct and ``CONNECT`` gets a proper 405 instead
of a routing 404: every fictional site is plain http.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.web.catalog import load_sites, site_dir

if TYPE_CHECKING:
    from tests.web.socks import SocksServer

REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
TEXT_TYPES = {".html": "text/html", ".htm": "text/html", ".txt": "text/plain"}
LOCAL_NAMES = {"127.0.0.1", "localhost"}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebRequest:
    """One request as the server saw it.

    ``via`` is ``proxy`` (absolute URI), ``direct`` (origin form, ``Host`` header) or ``connect``.
    """

    method: str
    host: str
    path: str
    via: str
    status: int
    headers: dict[str, str]


Handler = Callable[[str, str, dict[str, str]], Awaitable[Response]]


def html_page(status: int, title: str, text: str) -> Response:
    title, text = escape(title), escape(text)
    body = f"<!DOCTYPE html><html><head><title>{title}</title></head>"
    body += f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    return Response(status, body.encode())


def normalize_query(query: str) -> str:
    return urlencode(sorted(parse_qsl(query, keep_blank_values=True)))


class StaticSite:
    """A site served from its directory: files by path, plus ``routes`` for query-string URLs.

    A route key is ``path?query`` (query order does not matter) or a prefix ending in ``*``.
    """

    def __init__(self, name: str, meta: dict[str, Any]) -> None:
        self.name = name
        self.root = site_dir(name).resolve()
        self.charset: str = meta.get("charset", "utf-8")
        self.header_charset: str = meta.get("header_charset", self.charset)
        self.routes: dict[str, str] = {}
        self.prefix_routes: list[tuple[str, str]] = []
        self.routed_paths: set[str] = set()
        for url, file in (meta.get("routes") or {}).items():
            if url.endswith("*"):
                self.prefix_routes.append((url[:-1], file))
                continue
            path, _, query = url.partition("?")
            self.routes[f"{path}?{normalize_query(query)}"] = file
            self.routed_paths.add(path)
        self._cache: dict[Path, Response] = {}

    async def __call__(self, method: str, target: str, headers: dict[str, str]) -> Response:
        path, _, query = target.partition("?")
        file = self.routes.get(f"{path}?{normalize_query(query)}")
        if file is None:
            file = next(
                (file for prefix, file in self.prefix_routes if target.startswith(prefix)), None
            )
        if file is None and path in self.routed_paths:
            return self.not_found()
        found = self.root / file if file else self.find(path)
        if found is None:
            return self.not_found()
        if found not in self._cache:
            self._cache[found] = self.load(found)
        return self._cache[found]

    def find(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        candidates = (
            [relative + "index.html"]
            if path.endswith("/")
            else [relative, relative + ".html", relative + "/index.html"]
        )
        for candidate in candidates:
            file = (self.root / candidate).resolve()
            if file.is_file() and file.is_relative_to(self.root) and file.name != "site.yaml":
                return file
        return None

    def load(self, file: Path) -> Response:
        data = file.read_bytes()
        kind = TEXT_TYPES.get(file.suffix)
        if kind is None:
            return Response(
                body=data,
                content_type=mimetypes.guess_type(file.name)[0] or "application/octet-stream",
            )
        if self.charset != "utf-8":
            data = data.decode("utf-8").encode(self.charset, errors="xmlcharrefreplace")
        return Response(
            body=data,
            content_type=f"{kind}; charset={self.header_charset}" if self.header_charset else kind,
        )

    def not_found(self) -> Response:
        return html_page(
            404, "404 Not Found", f"The page you requested was not found on {self.name}."
        )


def build_handlers() -> dict[str, Handler]:
    """Host name -> handler for every site; dynamic sites (``dynamic: edge``) are Python code."""
    from tests.web import dynamic

    handlers: dict[str, Handler] = {}
    for name, meta in load_sites().items():
        handler: Handler = (
            dynamic.HANDLERS[meta["dynamic"]] if "dynamic" in meta else StaticSite(name, meta)
        )
        for host in meta["hosts"]:
            handlers[host] = handler
    return handlers


class FictionalWeb:
    """The server; ``async with FictionalWeb(port=0) as web`` then use ``web.proxy_url``.

    With ``socks_port`` (0 = any free port) a SOCKS5 server standing in for Tor starts beside it.
    """

    def __init__(self, port: int = 0, socks_port: int | None = None) -> None:
        self.requested_port = port
        self.socks_port = socks_port
        self.handlers = build_handlers()
        self.requests: list[WebRequest] = []
        self.port = 0
        self.socks: SocksServer | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._answered = 0  # requests that got past the gate
        self._held_from: int | None = None
        self._gate = asyncio.Event()
        self._gate.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    proxy_url = url

    @property
    def socks_url(self) -> str:
        if self.socks is None:
            raise RuntimeError(
                "started without socks_port; pass socks_port=0 to get a SOCKS5 server"
            )
        return self.socks.url

    def hosts(self) -> list[str]:
        return sorted(self.handlers)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, "127.0.0.1", self.requested_port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.socks_port is not None:
            from tests.web.socks import SocksServer

            self.socks = SocksServer(
                self.port, port=self.socks_port, known_hosts=set(self.handlers)
            )
            await self.socks.start()

    async def close(self) -> None:
        if self.socks is not None:
            await self.socks.close()
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> FictionalWeb:
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
            while await self._exchange(reader, writer):
                pass
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request, write its response; False when the connection should end."""
        line = await reader.readline()
        if not line.strip():
            return False
        parts = line.decode("latin-1").split()
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            key, _, value = header.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if len(parts) != 3:
            await self._write(
                writer, "HEAD", html_page(400, "400 Bad Request", "Malformed request line."), False
            )
            return False
        method, target, version = parts
        if length := int(headers.get("content-length", "0") or 0):
            await reader.readexactly(length)
        connection = (headers.get("connection") or headers.get("proxy-connection") or "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        keep_alive = keep_alive and method != "CONNECT"
        response = await self.respond(method, target, headers)
        await self._write(writer, method, response, keep_alive)
        return keep_alive

    def hold(self, after: int = 0) -> None:
        """Answer ``after`` more requests, then keep every later one waiting until :meth:`release`.

        Tests use it to stop a crawl's progress at a known point instead of racing a timer.
        """
        self._held_from = self._answered + after
        self._gate.clear()

    def release(self) -> None:
        """Let held and later requests through."""
        self._held_from = None
        self._gate.set()

    async def respond(self, method: str, target: str, headers: dict[str, str]) -> Response:
        """Answer one request and record it in ``self.requests``."""
        while self._held_from is not None and self._answered >= self._held_from:
            await self._gate.wait()
        self._answered += 1
        if method == "CONNECT":
            host, via, path = target.rpartition(":")[0], "connect", ""
            response = html_page(
                405,
                "405 Method Not Allowed",
                "This proxy does not tunnel; every site is plain http.",
            )
            response.headers["Allow"] = "GET, HEAD, POST"
        else:
            if target.startswith(("http://", "https://")):
                parts = urlsplit(target)
                host, via = parts.hostname or "", "proxy"
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            else:
                host, via, path = (
                    urlsplit(f"//{headers.get('host', '')}").hostname or "",
                    "direct",
                    target,
                )
            host = host.rstrip(".")
            response = await self._dispatch(method, host, path, headers, via)
        self.requests.append(WebRequest(method, host, path, via, response.status, headers))
        return response

    async def _dispatch(
        self, method: str, host: str, path: str, headers: dict[str, str], via: str
    ) -> Response:
        if not path.startswith("/"):
            return html_page(
                400, "400 Bad Request", "Request target must be a path or an absolute http URI."
            )
        handler = self.handlers.get(host)
        if handler is not None:
            return await handler(method, path, headers)
        if host in LOCAL_NAMES and via == "direct":
            links = "".join(f'<li><a href="http://{h}/">{h}</a></li>' for h in self.hosts())
            return Response(
                body=f"<!DOCTYPE html><title>fictional web</title><ul>{links}</ul>".encode()
            )
        if via == "proxy":
            return html_page(502, "502 Bad Gateway", f"Unknown host: {host}")
        return html_page(404, "404 Not Found", f"No site is served for host {host!r}.")

    @staticmethod
    async def _write(
        writer: asyncio.StreamWriter, method: str, response: Response, keep_alive: bool
    ) -> None:
        head = [
            f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}",
            f"Date: {formatdate(usegmt=True)}",
            "Server: fictional-web",
            f"Content-Length: {len(response.body)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
        ]
        if response.content_type:
            head.append(f"Content-Type: {response.content_type}")
        head += [f"{key}: {value}" for key, value in response.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if method != "HEAD":
            writer.write(response.body)
        await writer.drain()


class InThread:
    """Runs an async server (``start``/``close``) on its own event loop in a daemon thread."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=type(server).__name__, daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(server.start(), self._loop).result(timeout=30)

    def stop(self) -> None:
        if not self._loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self.server.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> InThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WebInThread(InThread):
    """``start_in_thread()``'s handle: :class:`FictionalWeb`'s attributes plus ``stop()``."""

    server: FictionalWeb

    port = property(lambda self: self.server.port)
    url = property(lambda self: self.server.url)
    proxy_url = property(lambda self: self.server.proxy_url)
    socks_url = property(lambda self: self.server.socks_url)
    socks = property(lambda self: self.server.socks)
    requests = property(lambda self: self.server.requests)

    def hold(self, after: int = 0) -> None:
        """:meth:`FictionalWeb.hold`, from the calling thread."""
        self._on_loop(self.server.hold, after)

    def release(self) -> None:
        """:meth:`FictionalWeb.release`, from the calling thread."""
        self._on_loop(self.server.release)

    def _on_loop(self, function: Any, *args: Any) -> None:
        async def call() -> None:
            function(*args)

        asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=30)


def start_in_thread(port: int = 0, socks_port: int | None = None) -> WebInThread:
    """Start the fictional web for sync code: ``web = start_in_thread(); ...; web.stop()``."""
    return WebInThread(FictionalWeb(port=port, socks_port=socks_port))


def serve_forever(port: int, socks_port: int | None = None) -> None:
    """Serve in the foreground until interrupted (``python -m tests.web``)."""

    async def main() -> None:
        async with FictionalWeb(port=port, socks_port=socks_port) as web:
            print(f"fictional web: {len(web.handlers)} hosts, proxy {web.proxy_url}", flush=True)
            if web.socks is not None:
                print(f"SOCKS5 (Tor stand-in): {web.socks_url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
