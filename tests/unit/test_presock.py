"""kcli.shell.presock: the TCP connections a head start opens before paramiko is imported
(real loopback sockets)."""

from __future__ import annotations

import socket

from kcli.core.inventory import Host, Inventory
from kcli.shell import presock


def _listener() -> socket.socket:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    return srv


def test_an_early_socket_is_taken_once_and_is_connected():
    srv = _listener()
    port = srv.getsockname()[1]
    inv = Inventory(cluster="c", hosts=(Host(name="a", address="127.0.0.1", port=port),))
    presock.start(inv)
    sock = presock.take("127.0.0.1", port, timeout=5)
    assert sock is not None
    peer, _ = srv.accept()
    sock.sendall(b"SSH-2.0-x\r\n")
    assert peer.recv(64) == b"SSH-2.0-x\r\n"
    assert sock.gettimeout() is None  # paramiko sets its own timeouts
    assert presock.take("127.0.0.1", port, timeout=1) is None  # taken once
    for s in (sock, peer, srv):
        s.close()


def test_a_refused_early_socket_leaves_the_connection_to_its_own_attempt():
    srv = _listener()
    port = srv.getsockname()[1]
    srv.close()  # nothing listens there now
    presock.start(Inventory(cluster="c", hosts=(Host(name="a", address="127.0.0.1", port=port, connect_timeout=2),)))
    assert presock.take("127.0.0.1", port, timeout=5) is None


def test_hosts_behind_an_ssh_config_are_not_connected_early(tmp_path):
    inv = Inventory(
        cluster="c", hosts=(Host(name="a", address="127.0.0.1", port=9),), ssh_config=str(tmp_path / "config")
    )
    presock.start(inv)  # a ProxyJump may apply: SshConnection decides how to reach the host
    assert presock.take("127.0.0.1", 9, timeout=1) is None


def test_a_quickack_socket_acknowledges_at_once_after_every_read():
    """kcli.shell.transport.QuickAckSocket: TCP_QUICKACK is on again after each read (the kernel
    clears it), and everything else is the socket's own."""
    import pytest

    from kcli.shell.transport import QuickAckSocket

    if not hasattr(socket, "TCP_QUICKACK"):
        pytest.skip("TCP_QUICKACK is Linux's")
    srv = _listener()
    raw = socket.create_connection(srv.getsockname())
    peer, _ = srv.accept()
    sock = QuickAckSocket.wrap(raw)
    assert sock is not raw
    for payload in (b"first", b"second"):
        peer.sendall(payload)
        assert sock.recv(64) == payload
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 1
    sock.settimeout(2.5)
    assert raw.gettimeout() == 2.5 and sock.fileno() == raw.fileno()
    sock.close()
    for s in (peer, srv):
        s.close()
