"""A TCP proxy a test controls: put it between a server and its database, then cut and restore it.

``cut()`` is the database going away as its clients see it: every open
connection is closed at once and new ones are refused (nothing listens on the
port), so a client fails fast with "connection refused" or "server closed the
connection unexpectedly". ``restore()`` listens again on the same port. The
machine's real server is never touched.

    with TcpProxy(target_port=5432, listen_port=6520) as proxy:
        ...  # point the server at 127.0.0.1:6520
        proxy.cut()
        proxy.restore()

Threads, not asyncio, so that any test (sync or async) and a benchmark can use
it alike. Loopback only.
"""
from __future__ import annotations

import select
import socket
import threading
from typing import List, Optional, Tuple

LOOPBACK = "127.0.0.1"
_POLL_SECONDS = 0.2
_CHUNK = 65536


class TcpProxy:
    """Forwards ``listen_host:listen_port`` to ``target_host:target_port`` until cut."""

    def __init__(self, target_port: int, listen_port: int = 0, target_host: str = LOOPBACK,
                 listen_host: str = LOOPBACK) -> None:
        self.target = (target_host, target_port)
        self._listen_address = (listen_host, listen_port)
        self._lock = threading.Lock()
        self._listener: Optional[socket.socket] = None
        self._acceptor: Optional[threading.Thread] = None
        self._pairs: List[Tuple[socket.socket, socket.socket]] = []
        self.accepted = 0  # connections forwarded since start

    @property
    def port(self) -> int:
        """The port clients connect to (chosen by the system when ``listen_port`` was 0)."""
        return self._listen_address[1]

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def start(self) -> TcpProxy:
        self.restore()
        return self

    def cut(self) -> None:
        """Close every open connection and refuse new ones until :meth:`restore`."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None:
            self._acceptor.join()
            self._acceptor = None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            _close(*pair)

    def restore(self) -> None:
        """Accept and forward connections again, on the same port."""
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(self._listen_address)
        listener.listen(64)
        listener.settimeout(_POLL_SECONDS)
        self._listen_address = listener.getsockname()
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), name=f"tcp-proxy-{self.port}",
                                          daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:  # closed by cut()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()  # the target is down: the client sees its connection closed
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _close(client, upstream)
                    return
                self._pairs.append((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or cut() closes both)."""
        peers = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], _POLL_SECONDS)
                for source in readable:
                    data = source.recv(_CHUNK)
                    if not data:
                        return
                    peers[source].sendall(data)
        except (OSError, ValueError):  # a socket closed by cut() (ValueError: fd -1 in select)
            return
        finally:
            with self._lock:
                if (client, upstream) in self._pairs:
                    self._pairs.remove((client, upstream))
            _close(client, upstream)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
