"""The local stack's two ports, taken before anything starts.

A port is checked by binding it, and the bound, listening socket is what the server then
serves on (moto's is handed to its process), so nothing can take the port between the
check and the server: a busy port is one clear line at once, never a server that fails to
start half a minute later, nor another stack's moto answering in ours' place.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from ingestcli.errors import UsageError

HOST = "127.0.0.1"
BACKLOG = 128


class PortUnavailable(UsageError):
    """A port the local stack was asked to use is taken, or may not be bound here."""


@dataclass
class Listeners:
    """Moto's and the API's listening sockets on 127.0.0.1, until their servers take them."""

    moto: socket.socket
    api: socket.socket

    @property
    def ports(self) -> tuple[int, int]:
        return self.moto.getsockname()[1], self.api.getsockname()[1]

    def close(self) -> None:
        self.moto.close()
        self.api.close()

    @classmethod
    def adopt(cls, moto_fd: int, api_fd: int) -> Listeners:
        """The sockets a parent process bound and passed down (their file descriptors)."""
        return cls(socket.socket(fileno=moto_fd), socket.socket(fileno=api_fd))


def reserve(port: int, server: str = "moto", option: str = "--port") -> socket.socket:
    """Bind `port` on 127.0.0.1 (0: any free one) and listen; the caller owns the socket.
    SO_REUSEADDR as the servers set it (a port left in TIME_WAIT is free), never
    SO_REUSEPORT (which would share the port with whoever holds it)."""
    if not 0 <= port <= 65535:
        raise PortUnavailable(f"{option} {port} is not a port: give 1-65535, or 0 for any free")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, port))
        listener.listen(BACKLOG)
    except OSError as error:
        listener.close()
        raise PortUnavailable(_refusal(port, server, option, error)) from None
    return listener


def reserve_ports(moto_port: int, api_port: int) -> Listeners:
    """Both ports of the stack, or a PortUnavailable naming the first that cannot be had."""
    if moto_port and moto_port == api_port:
        raise PortUnavailable(
            f"--port and --api-port are both {moto_port}: give two ports (0: any free one)"
        )
    moto = reserve(moto_port, "moto", "--port")
    try:
        api = reserve(api_port, "the upload API", "--api-port")
    except BaseException:
        moto.close()
        raise
    return Listeners(moto, api)


def _refusal(port: int, server: str, option: str, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        why = "is already in use"
    elif error.errno == errno.EACCES:
        why = "needs privileges this user lacks"
    else:
        why = f"cannot be used ({error.strerror or error})"
    return (
        f"{server}'s port {port} on {HOST} ({option}) {why}: "
        f"give another with {option}, or {option} 0 for a free one"
    )
