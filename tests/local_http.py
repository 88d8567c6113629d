"""A quiet loopback HTTP server on an ephemeral port, for tests that need a few hand-made pages."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the server answers to one GET."""

    body: bytes = b""
    content_type: str = "text/html"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    reset_after: int | None = None  # send this many bytes of the body, then reset the connection (RST)


@contextmanager
def serve(respond: Callable[[str], Reply]) -> Iterator[str]:
    """Serve ``respond(path)`` for every GET; yields the base URL (``http://127.0.0.1:PORT``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply = respond(self.path)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", f"{reply.content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.reset_after is None:
                self.wfile.write(reply.body)
                return
            self.wfile.write(reply.body[: reply.reset_after])
            self.wfile.flush()
            # linger 0: close() sends RST instead of FIN, mid-body (Content-Length promised more)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def log_message(self, *args: object) -> None:
            return None

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            # a browser that closed the connection first (a page moved on) is no error
            import sys

            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                super().handle_error(request, client_address)  # type: ignore[arg-type]

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
