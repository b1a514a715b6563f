"""The offline guard: in every Python process of the test suite (the server subprocesses
included, through PYTHONPATH), refuse and record any network connection that would leave
this machine. Loopback and Unix sockets stay allowed.

Active only when FOCAL_OFFLINE_GUARD=1; attempts are appended to FOCAL_OFFLINE_LOG.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import traceback

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%", 1)[0]
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_numeric(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _record(what: str) -> None:
    path = os.environ.get("FOCAL_OFFLINE_LOG")
    stack = "".join(traceback.format_stack(limit=8)[:-2])
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"pid {os.getpid()}: {what}\n{stack}\n")


def _refuse(what: str) -> OSError:
    _record(what)
    return ConnectionRefusedError(f"offline guard: {what} refused (nothing may leave the machine)")


def install() -> None:
    if getattr(socket, "_focal_guard", False):
        return
    socket._focal_guard = True  # type: ignore[attr-defined]
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: object) -> None:
        inet = sock.family in (socket.AF_INET, socket.AF_INET6)
        if inet and isinstance(address, tuple) and not _is_local(address[0]):
            raise _refuse(f"connection to {address[0]}:{address[1]}")

    def connect(self, address):  # type: ignore[no-untyped-def]
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):  # type: ignore[no-untyped-def]
        check(self, address)
        return real_connect_ex(self, address)

    def sendto(self, data, *args):  # type: ignore[no-untyped-def]
        check(self, args[-1])
        return real_sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        # A numeric address needs no lookup (connect checks it); a name would ask DNS.
        if not _is_local(host) and not _is_numeric(host):
            raise socket.gaierror(socket.EAI_NONAME, str(_refuse(f"name lookup of {host}")))
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


if os.environ.get("FOCAL_OFFLINE_GUARD") == "1":
    install()
