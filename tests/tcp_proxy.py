"""A TCP proxy on 127.0.0.1 that a test can cut: PostgreSQL "restarted" without touching it.

``cut()`` closes every proxied connection and refuses new ones (accepted, then closed at once, as a
server that is going down does); ``restore()`` forwards again. The machine's PostgreSQL itself is
never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.down = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> CuttableProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def cut(self) -> None:
        """Reset every proxied connection and refuse new ones; returns once done."""

        async def close_all() -> None:
            self.down = True
            for writer in list(self._writers):
                writer.transport.abort()  # a reset, as when the server process dies

        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(10)

    def restore(self) -> None:
        async def up() -> None:
            self.down = False

        asyncio.run_coroutine_threadsafe(up(), self._loop).result(10)

    def stop(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
