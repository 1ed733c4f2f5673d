"""A TCP listener that only counts the connections it gets: the "internal service" a rebound DNS
answer would send a client to (tests/storage/test_pinning.py, tests/accounts/test_sso_pinning.py)."""

import socket
import threading


class InternalService:
    """Listens on `address`:`port` (127.0.0.2 and the real server's port) and counts connections."""

    def __init__(self, port: int, address: str = "127.0.0.2"):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((address, port))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.connections = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stopped.set()
        self.thread.join()
        self.listener.close()
