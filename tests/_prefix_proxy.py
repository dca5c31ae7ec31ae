"""A reverse proxy for the browser tests: ``http://127.0.0.1:PORT/PREFIX/…`` → ``http://127.0.0.1:UPSTREAM/…``,
as nginx's ``location /hv/ { proxy_pass http://upstream/; }`` with WebSocket upgrades passed through.

One request per connection (``Connection: close``) except upgrades, which are piped both ways;
``Location`` headers are not rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, upstream: int, prefix: str) -> None:
    try:
        head = await client_r.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        client_w.close()
        return
    first, *headers = [line for line in head.decode("latin-1").split("\r\n") if line]
    method, target, version = first.split(" ", 2)
    if not (target == prefix or target.startswith((f"{prefix}/", f"{prefix}?"))):
        client_w.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await client_w.drain()
        client_w.close()
        return
    target = target[len(prefix):]
    target = target if target.startswith("/") else f"/{target}"
    if not any(h.lower().startswith("upgrade:") for h in headers):
        headers = [h for h in headers if not h.lower().startswith("connection:")] + ["Connection: close"]
    up_r, up_w = await asyncio.open_connection("127.0.0.1", upstream)
    up_w.write(("\r\n".join([f"{method} {target} {version}", *headers]) + "\r\n\r\n").encode("latin-1"))
    await up_w.drain()
    await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))


async def _stop(server: asyncio.Server) -> None:
    """Close the listening socket and every connection still piped (the page's WebSocket)."""
    server.close()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def prefix_proxy(upstream: int, prefix: str) -> Iterator[int]:
    """Serve the proxy from a thread (its own event loop: Playwright's runs in this one) while the
    block runs; yields its port."""
    loop = asyncio.new_event_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ready = threading.Event()
    servers: list[asyncio.Server] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        servers.append(loop.run_until_complete(
            asyncio.start_server(lambda r, w: _handle(r, w, upstream, prefix), sock=sock)))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="prefix-proxy", daemon=True)
    thread.start()
    ready.wait(timeout=10)
    try:
        yield sock.getsockname()[1]
    finally:
        asyncio.run_coroutine_threadsafe(_stop(servers[0]), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
