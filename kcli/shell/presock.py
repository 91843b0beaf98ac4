"""TCP connections to the nodes opened before paramiko is imported (kcli.shell.headstart).

Between the TCP handshake and its banner, a node's sshd forks and re-executes itself (~20 ms);
paramiko's import takes longer than that on the client. Opening the sockets first lets the two
overlap: the banner waits in the socket's buffer, and ``SshConnection`` starts the SSH handshake on
the socket taken from here. Only for hosts reached directly (no ssh_config, so no ProxyJump)."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import Future

from kcli.core.inventory import Inventory

_early: dict[tuple[str, int], Future[socket.socket]] = {}
_lock = threading.Lock()


def start(inv: Inventory) -> None:
    """Connect to every host of ``inv`` now, one thread each (nothing is sent)."""
    if inv.ssh_config:
        return
    for h in inv.hosts:
        fut: Future[socket.socket] = Future()
        with _lock:
            if (h.address, h.port) in _early:
                continue
            _early[(h.address, h.port)] = fut

        def work(
            fut: Future[socket.socket] = fut,
            address: str = h.address,
            port: int = h.port,
            timeout: float = h.connect_timeout,
        ) -> None:
            try:
                fut.set_result(socket.create_connection((address, port), timeout=timeout))
            except BaseException as exc:  # noqa: BLE001 - the connection then opens its own socket
                fut.set_exception(exc)

        threading.Thread(target=work, name=f"kcli-tcp-{h.name}", daemon=True).start()


def take(address: str, port: int, timeout: float) -> socket.socket | None:
    """The socket opened early to ``address:port`` (once), or None: not started, or it failed (the
    caller connects as usual and reports its own error)."""
    with _lock:
        fut = _early.pop((address, port), None)
    if fut is None:
        return None
    try:
        sock = fut.result(timeout=max(0.0, timeout))
    except Exception:  # noqa: BLE001 - see above
        return None
    sock.settimeout(None)
    return sock
