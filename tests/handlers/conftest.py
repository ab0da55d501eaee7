"""What the handler tests share: a real HTTP listener on 127.0.0.1 that records what it is sent."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: Message  # names case-insensitive, as in HTTP
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Listener:
    """An HTTP listener on 127.0.0.1 that records every request; it answers ``status`` (or the next of
    ``script``), and ``stop()``/``start()`` take it down and back up on the same port."""

    status: int = 201
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = listener.script.pop(0) if listener.script else listener.status
                listener.received.append(Received(self.path, self.headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/listener"

    def accepted(self) -> list[Received]:
        """The requests answered 2xx: what the listener took."""
        return [r for r in self.received if 200 <= r.status < 300]


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    found.start()
    yield found
    found.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
