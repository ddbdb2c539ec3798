"""A real S3 server on loopback (moto_server), and a TCP proxy that drops connections."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start ``moto_server`` on a free port; yield its endpoint URL; stop it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP/1\.[01]\r\n")


class DroppingProxy:
    """Forwards TCP connections to ``upstream_port``; every ``drop_every``-th connection is cut
    after ``after_bytes`` bytes of the server's answer have passed (a reset part way through).

    ``requests`` lists the ``(method, target)`` of every HTTP request seen from a client (read
    from the start of each chunk received: good enough for the small requests of tests)."""

    def __init__(self, upstream_port: int, drop_every: int = 3, after_bytes: int = 60) -> None:
        self.upstream_port = upstream_port
        self.drop_every = drop_every
        self.after_bytes = after_bytes
        self.connections = 0
        self.dropped = 0
        self.enabled = True
        self.requests: list[tuple[str, str]] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            drop = self.enabled and self.connections % self.drop_every == 0
            threading.Thread(target=self._handle, args=(client, drop), daemon=True).start()

    def _handle(self, client: socket.socket, drop: bool) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        done = threading.Event()

        def pump(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
            sent = 0
            try:
                while not done.is_set():
                    data = src.recv(65536)
                    if not data:
                        break
                    if src is client:
                        self.requests += [(m.decode(), t.decode())
                                          for m, t in _REQUEST_LINE.findall(data)]
                    if limit is not None and sent + len(data) > limit:
                        dst.sendall(data[: max(0, limit - sent)])
                        self.dropped += 1
                        # An abrupt reset, as a failing network or load balancer gives.
                        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        break
                    dst.sendall(data)
                    sent += len(data)
            except OSError:
                pass
            finally:
                done.set()
                # Closing a socket does not wake a thread blocked reading it (and the
                # connection stays open while it reads): shut the reading side first.
                for s in (client, upstream):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RD)
                    with contextlib.suppress(OSError):
                        s.close()

        threading.Thread(target=pump, args=(client, upstream, None), daemon=True).start()
        pump(upstream, client, self.after_bytes if drop else None)

    def close(self) -> None:
        self._stop = True
        self._server.close()
