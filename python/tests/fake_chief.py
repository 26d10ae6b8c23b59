"""A stand-in for the chief's TensorFlow server, for tests of nodes that wait for the chief."""

from __future__ import annotations

import socket
import threading


class FakeChief:
    """A TCP server that accepts and drops connections, as the chief's TensorFlow server
    answers the watch's probes."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.socket.accept()[0].close()
            except OSError:
                return  # closed: the chief has ended

    def close(self) -> None:
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
