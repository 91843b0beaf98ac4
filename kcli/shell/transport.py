"""SSH transport: one paramiko connection per host, reused; strict host keys; argv quoted once here.

Every command reaches the remote shell as ``shlex.join(argv)`` (plus ``sudo -n --`` for non-root
users), so an argument is always one literal word on the far side. Host keys are checked against
the inventory's known_hosts; unknown keys are refused unless first contact is explicitly allowed
(like OpenSSH's ``StrictHostKeyChecking=accept-new``); changed keys are always refused.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import select
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, cast

from kcli.core.inventory import Host, Inventory
from kcli.errors import CommandError, CommandTimeoutError, ConnectError, HostKeyError
from kcli.shell.sshlib import paramiko

if TYPE_CHECKING:
    from kcli.shell.dockerapi import DockerApi

CHUNK = 64 * 1024
API_TIMEOUT = 60.0  # seconds a docker API read may take (an observation's own limit)


@dataclass
class CommandResult:
    host: str
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class HostStats:
    """What one host cost: round trips (commands), bytes each way, seconds spent waiting."""

    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    connect_seconds: float = 0.0
    api_exchanges: int = 0  # pipelined docker API exchanges (kcli.shell.dockerapi), beside the commands
    api_seconds: float = 0.0


def fingerprint(key: paramiko.PKey) -> str:
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


def known_hosts_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse unknown keys, or (accept-new) record them in the known_hosts file."""

    def __init__(self, host_label: str, known_hosts: str | None, accept_new: bool) -> None:
        self.host_label = host_label
        self.known_hosts = known_hosts
        self.accept_new = accept_new

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if self.accept_new and self.known_hosts:
            line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
            with _KNOWN_HOSTS_LOCK:
                os.makedirs(os.path.dirname(self.known_hosts) or ".", exist_ok=True)
                with open(self.known_hosts, "a") as fh:
                    fh.write(line)
            return
        where = self.known_hosts or "(no known_hosts file configured)"
        raise HostKeyError(
            f"{self.host_label}: unknown host key {fingerprint(key)}: not in {where}; "
            "verify it out of band and add it, or allow first contact with --accept-new-host-keys"
        )


_KNOWN_HOSTS_LOCK = threading.Lock()


def _parse_jump(spec: str) -> tuple[str | None, str, int]:
    user = None
    if "@" in spec:
        user, spec = spec.split("@", 1)
    port = 22
    if spec.startswith("["):
        hostpart, _, rest = spec[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
        spec = hostpart
    elif spec.count(":") == 1:
        spec, p = spec.split(":")
        port = int(p)
    return user, spec, port


class QuickAckSocket:
    """A TCP socket that acknowledges what it receives at once (Linux ``TCP_QUICKACK``, which the
    kernel clears again: it is set after every read). sshd sends without TCP_NODELAY on a session
    without a terminal, so a small packet it sends while an earlier one is unacknowledged waits
    for that ACK (Nagle), and the client's delayed ACK holds it ~40 ms: measured on the sandbox,
    the first channel after authentication took 53-60 ms instead of 12 ms, on every command.
    Everything else is the socket's own (paramiko uses recv, send, settimeout, close)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._quickack()

    @classmethod
    def wrap(cls, sock: socket.socket) -> socket.socket:
        """``sock`` acknowledging at once where the platform can (else ``sock`` itself)."""
        return cast(socket.socket, cls(sock)) if hasattr(socket, "TCP_QUICKACK") else sock

    def _quickack(self) -> None:
        try:
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:  # closed meanwhile: the read that follows reports it
            pass

    def recv(self, size: int) -> bytes:
        data = self._sock.recv(size)
        self._quickack()
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _tuned(sock: socket.socket) -> socket.socket:
    """A node's TCP socket as SSH wants it: small packets sent at once, received ones acknowledged at once."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return QuickAckSocket.wrap(sock)


class _StdinWriter(threading.Thread):
    """The thread sending a command's stdin; ``error`` is what stopped it early, if anything."""

    error: Exception | None = None


class SshConnection:
    """One SSH connection to one host; ``run`` may be called from one thread at a time per channel."""

    def __init__(self, host: Host, inventory: Inventory) -> None:
        self.host = host
        self.inventory = inventory
        self.stats = HostStats()
        self._client: paramiko.SSHClient | None = None
        self._jump: SshConnection | None = None
        self._lock = threading.Lock()
        self._early: dict[Hashable, Future[Any]] = {}
        self._early_lock = threading.Lock()
        self._connect_error: Exception | None = None
        self._api: DockerApi | None = None
        self._api_off = False  # the docker API did not answer on this connection: the CLI from now on
        self._api_lock = threading.Lock()
        self.docker_api_refused = False  # sshd refused the channel to the docker socket

    # -- connection ---------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return f"{self.host.name} ({self.host.address}:{self.host.port})"

    def _ssh_config(self) -> dict:
        path = self.inventory.ssh_config
        if not path or not os.path.exists(path):
            return {}
        cfg = paramiko.SSHConfig.from_path(path)
        found = dict(cfg.lookup(self.host.name))
        if "proxyjump" not in found:
            found = dict(cfg.lookup(self.host.address))
        return found

    def start_connect(self) -> None:
        """Connect now, in a background thread; the first command waits for it, and gets its error
        if it failed (once: a later command tries again)."""

        def work() -> None:
            try:
                self.connect()
            except Exception as exc:  # noqa: BLE001 - handed to the next connect()
                self._connect_error = exc

        threading.Thread(target=work, name=f"kcli-connect-{self.host.name}", daemon=True).start()

    def connect(self) -> None:
        with self._lock:
            if self._connect_error is not None:
                exc, self._connect_error = self._connect_error, None
                raise exc
            transport = self._client.get_transport() if self._client is not None else None
            if transport is not None and transport.is_active():
                return
            started = time.monotonic()
            self._client = self._open()
            self.stats.connect_seconds += time.monotonic() - started

    def _open(self) -> paramiko.SSHClient:
        host = self.host
        timeout = host.connect_timeout
        deadline = time.monotonic() + timeout
        cfg = self._ssh_config()
        identity = host.identity_file or (cfg.get("identityfile") or [None])[0]
        sock = self._open_socket(cfg, deadline)
        client = paramiko.SSHClient()
        if self.inventory.known_hosts and os.path.exists(self.inventory.known_hosts):
            try:
                client.load_host_keys(self.inventory.known_hosts)
            except Exception as exc:  # noqa: BLE001 - corrupt file is a user error
                raise HostKeyError(f"{self.inventory.known_hosts}: cannot read known_hosts: {exc}") from exc
        client.set_missing_host_key_policy(
            _HostKeyPolicy(self.label, self.inventory.known_hosts, self.inventory.accept_new_host_keys)
        )
        remaining = max(0.2, deadline - time.monotonic())
        try:
            client.connect(
                host.address,
                port=host.port,
                username=host.user,
                key_filename=identity,
                look_for_keys=identity is None,
                allow_agent=identity is None,
                sock=sock,
                timeout=remaining,
                banner_timeout=remaining,
                auth_timeout=remaining,
                channel_timeout=max(remaining, 5.0),
            )
        except HostKeyError:
            sock.close()
            raise
        except paramiko.BadHostKeyException as exc:
            sock.close()
            raise HostKeyError(
                f"{self.label}: HOST KEY CHANGED: offered {fingerprint(exc.key)}, expected "
                f"{fingerprint(exc.expected_key)} from {self.inventory.known_hosts}; refusing to connect"
            ) from exc
        except paramiko.AuthenticationException as exc:
            sock.close()
            raise ConnectError(f"{self.label}: authentication failed for user {host.user}: {exc}") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            sock.close()
            raise ConnectError(f"{self.label}: ssh handshake failed: {exc or type(exc).__name__}") from exc
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(10)
        return client

    def _open_socket(self, cfg: dict, deadline: float):
        jump = cfg.get("proxyjump")
        if jump and jump.lower() != "none":
            return self._open_via_jump(jump.split(",")[-1].strip(), deadline)
        from kcli.shell import presock

        early = presock.take(self.host.address, self.host.port, deadline - time.monotonic())
        if early is not None:
            return _tuned(early)
        delay = 0.1
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConnectError(f"{self.label}: connect timed out after {self.host.connect_timeout:g}s")
            try:
                return _tuned(socket.create_connection((self.host.address, self.host.port), timeout=remaining))
            except TimeoutError as exc:
                raise ConnectError(f"{self.label}: connect timed out after {self.host.connect_timeout:g}s") from exc
            except OSError as exc:
                retryable = exc.errno in (errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH)
                if not retryable or time.monotonic() + delay >= deadline:
                    raise ConnectError(f"{self.label}: cannot connect: {exc.strerror or exc}") from exc
                time.sleep(delay)  # backoff: the host may be booting
                delay = min(delay * 2, 1.0)

    def _open_via_jump(self, spec: str, deadline: float) -> paramiko.Channel:
        user, address, port = _parse_jump(spec)
        jhost = Host(
            name=f"jump:{address}",
            address=address,
            port=port,
            user=user or self.host.user,
            identity_file=self.host.identity_file,
            connect_timeout=max(0.5, deadline - time.monotonic()),
        )
        jinv = Inventory(
            cluster=self.inventory.cluster,
            hosts=(jhost,),
            known_hosts=self.inventory.known_hosts,
            accept_new_host_keys=self.inventory.accept_new_host_keys,
        )
        self._jump = SshConnection(jhost, jinv)
        self._jump.connect()
        transport = self._jump._client.get_transport() if self._jump._client is not None else None
        if transport is None:  # connect() leaves an open client; this is a connection closed under us
            raise ConnectError(f"{self.label}: via jump host {address}: connection lost")
        try:
            return transport.open_channel(
                "direct-tcpip",
                (self.host.address, self.host.port),
                ("127.0.0.1", 0),
                timeout=max(0.5, deadline - time.monotonic()),
            )
        except (paramiko.SSHException, OSError) as exc:
            raise ConnectError(f"{self.label}: via jump host {address}: {exc}") from exc

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._jump is not None:
            self._jump.close()
            self._jump = None

    # -- commands -----------------------------------------------------------------------------
    def command_line(self, argv: Sequence[str]) -> str:
        """The exact string the remote shell receives: argv quoted once, sudo added when needed."""
        words = list(argv)
        if self.host.sudo and self.host.user != "root":
            words = ["sudo", "-n", "--", *words]
        return shlex.join(words)

    def start_call(self, key: Hashable, fn: Callable[[], Any]) -> None:
        """``fn()`` now, in a background thread; the next ``call(key, …)`` takes its result (or
        error), any other command or call drops it (``start`` for read-only work only)."""
        fut: Future[Any] = Future()
        with self._early_lock:
            if key in self._early:  # already under way (the command's head start)
                return
            self._early[key] = fut

        def work() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the call that takes it
                fut.set_exception(exc)

        threading.Thread(target=work, name=f"kcli-early-{self.host.name}", daemon=True).start()

    def call(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        """The result of ``start_call(key, …)`` when it was the last thing started, else ``fn()``."""
        with self._early_lock:  # a result started early is only taken by the very next command
            early = self._early.pop(key, None)
            self._early.clear()
        return early.result() if early is not None else fn()

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | IO[bytes] | None = None,
        timeout: float | None = None,
        check: bool = False,
        allowed_exit_codes: Sequence[int] = (0,),
    ) -> CommandResult:
        """Run argv on the host; stdin may be bytes or a stream (sent in chunks while reading). A
        result started early (``start_call``) is dropped: what this command changes makes it stale."""
        with self._early_lock:
            self._early.clear()
        result = self._run(argv, stdin=stdin, timeout=timeout)
        if check and result.exit_code not in allowed_exit_codes:
            raise CommandError(self.host.name, tuple(argv), result.exit_code, result.stderr)
        return result

    def execute(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        """Run argv on the host, leaving any result started early alone (for work ``call`` runs)."""
        return self._run(argv, stdin=None, timeout=timeout)

    # -- the docker API (kcli.shell.dockerapi) --------------------------------------------------
    def docker_api(self) -> DockerApi | None:
        """This host's dockerd over a channel of this connection, opened on first use; None when
        it cannot be (the observation then runs the docker CLI, kcli.shell.dockerapi)."""
        from kcli.core.facts.dockerapi import SOCKET
        from kcli.shell.dockerapi import ApiUnavailable, DockerApi, open_unix_channel

        self.connect()
        with self._api_lock:
            if self._api is not None or self._api_off:
                return self._api
            transport = self._client.get_transport() if self._client is not None else None
            try:
                if transport is None:
                    raise ApiUnavailable("not connected")
                chan = open_unix_channel(transport, SOCKET, self.host.connect_timeout)
            except ApiUnavailable as exc:
                self._api_off, self.docker_api_refused = True, exc.refused
                return None
            except (paramiko.SSHException, OSError, EOFError):
                self._api_off = True
                return None
            # reads only: an answer slower than a look's own time limit means dockerd is stuck (as `docker ps` would hang)
            self._api = DockerApi(chan, min(self.host.command_timeout, API_TIMEOUT))
            return self._api

    def docker_api_off(self) -> bool:
        """Whether the observation keeps to the docker CLI on this host: the API failed on this
        connection or lately on this host, or the user reaches docker through sudo."""
        from kcli.shell.dockerapi import known_off

        if self._api is None and not self._api_off and known_off(self.host):
            self._api_off = True
        return self._api_off

    def docker_api_failed(self, exc: BaseException) -> None:
        """The API stopped answering: the CLI from now on (this connection)."""
        with self._api_lock:
            if self._api is not None:
                self._api.close()
            self._api, self._api_off = None, True

    def _run(self, argv: Sequence[str], *, stdin: bytes | IO[bytes] | None, timeout: float | None) -> CommandResult:
        self.connect()
        assert self._client is not None
        timeout = timeout if timeout is not None else self.host.command_timeout
        cmd = self.command_line(argv)
        started = time.monotonic()
        try:
            chan = self._client.get_transport().open_session(timeout=self.host.connect_timeout)  # type: ignore[union-attr]
            chan.exec_command(cmd)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise ConnectError(f"{self.label}: connection lost: {exc or type(exc).__name__}") from exc
        self.stats.round_trips += 1
        self.stats.bytes_sent += len(cmd)
        writer = self._start_stdin(chan, stdin)
        out, err = bytearray(), bytearray()
        deadline = started + timeout
        try:
            while True:
                if chan.recv_ready():
                    out += chan.recv(CHUNK)
                    continue
                if chan.recv_stderr_ready():
                    err += chan.recv_stderr(CHUNK)
                    continue
                if chan.exit_status_ready() and (chan.eof_received or chan.closed):
                    break
                if time.monotonic() > deadline:
                    chan.close()
                    raise CommandTimeoutError(f"{self.label}: command timed out after {timeout:g}s: {cmd[:120]}")
                if not self._client.get_transport().is_active():  # type: ignore[union-attr]
                    self.close()
                    raise ConnectError(f"{self.label}: connection lost while running: {cmd[:120]}")
                select.select([chan], [], [], 0.05)
            code = chan.recv_exit_status()
        finally:
            if writer is not None:
                writer.join(timeout=1)
            chan.close()
        if writer is not None and writer.error:
            raise ConnectError(f"{self.label}: sending input failed: {writer.error}")
        self.stats.bytes_received += len(out) + len(err)
        self.stats.seconds += time.monotonic() - started
        return CommandResult(
            self.host.name,
            tuple(argv),
            code,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
            time.monotonic() - started,
        )

    def _start_stdin(self, chan: paramiko.Channel, stdin: bytes | IO[bytes] | None) -> _StdinWriter | None:
        if stdin is None:
            chan.shutdown_write()
            return None
        stats = self.stats

        def pump() -> None:
            try:
                if isinstance(stdin, (bytes, bytearray)):
                    for i in range(0, len(stdin), CHUNK):
                        chan.sendall(stdin[i : i + CHUNK])
                    stats.bytes_sent += len(stdin)
                else:
                    while chunk := stdin.read(CHUNK):
                        chan.sendall(chunk)
                        stats.bytes_sent += len(chunk)
                chan.shutdown_write()
            except Exception as exc:  # noqa: BLE001 - reported by run()
                thread.error = exc

        thread = _StdinWriter(target=pump, daemon=True)
        thread.start()
        return thread


@dataclass
class SshPool:
    """Connections for one kcli command: one per host, opened lazily, reused, closed at the end."""

    inventory: Inventory
    _conns: dict[str, SshConnection] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start_connect(self) -> None:
        """Open the connection to every host now, in the background (SshConnection.start_connect)."""
        for h in self.inventory.hosts:
            self.get(h).start_connect()

    def get(self, host: Host | str) -> SshConnection:
        h = self.inventory.host(host) if isinstance(host, str) else host
        with self._lock:
            conn = self._conns.get(h.name)
            if conn is None:
                conn = self._conns[h.name] = SshConnection(h, self.inventory)
        return conn

    def stats(self) -> dict[str, HostStats]:
        return {name: c.stats for name, c in self._conns.items()}

    def close(self) -> None:
        for c in self._conns.values():
            c.close()
        self._conns.clear()

    def __enter__(self) -> SshPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_interactive(conn: SshConnection, argv: Sequence[str], *, tty: bool, stdin: bool) -> int:
    """Run argv with the local terminal attached (``exec -it``, ``logs -f``): a real PTY when tty,
    raw local mode, stdin forwarded, output streamed; returns the remote exit code."""

    conn.connect()
    assert conn._client is not None
    chan = conn._client.get_transport().open_session(timeout=conn.host.connect_timeout)  # type: ignore[union-attr]
    old = None
    fd = sys.stdin.fileno() if stdin else None
    if tty:
        import shutil as _sh

        cols, rows = _sh.get_terminal_size((80, 24))
        chan.get_pty(term=os.environ.get("TERM", "xterm"), width=cols, height=rows)
    chan.exec_command(conn.command_line(argv))
    conn.stats.round_trips += 1
    try:
        if tty and fd is not None and os.isatty(fd):
            import termios
            import tty as _tty

            old = termios.tcgetattr(fd)
            _tty.setraw(fd)
        if not stdin:
            chan.shutdown_write()
        out = sys.stdout.buffer
        err = sys.stderr.buffer
        while True:
            rlist = [chan] + ([fd] if fd is not None else [])
            ready, _, _ = select.select(rlist, [], [], 0.2)
            if chan in ready or chan.recv_ready() or chan.recv_stderr_ready():
                if chan.recv_ready():
                    data = chan.recv(CHUNK)
                    out.write(data)
                    out.flush()
                if chan.recv_stderr_ready():
                    err.write(chan.recv_stderr(CHUNK))
                    err.flush()
            if fd is not None and fd in ready:
                data = os.read(fd, CHUNK)
                if data:
                    chan.sendall(data)
                else:
                    chan.shutdown_write()
                    fd = None
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
        return chan.recv_exit_status()
    finally:
        if old is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, old)
        chan.close()
