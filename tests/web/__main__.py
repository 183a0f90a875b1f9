"""``python -m tests.web --port 8899 [--socks-port 9050]``: serve the fictional web, foreground."""

from __future__ import annotations

import argparse

from tests.web.server import serve_forever


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.web", description="Serve the fictional web on 127.0.0.1."
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8899,
        help="HTTP port; the server is also an HTTP proxy (default 8899)",
    )
    parser.add_argument(
        "--socks-port",
        type=int,
        default=None,
        help="also serve a SOCKS5 stand-in for Tor on this port",
    )
    args = parser.parse_args()
    serve_forever(args.port, args.socks_port)


if __name__ == "__main__":
    main()
