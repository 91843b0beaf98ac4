"""The nodes' Docker Engine API over the SSH connection kcli already has (kcli.core.facts.dockerapi
says why): an OpenSSH ``direct-streamlocal@openssh.com`` channel to ``/var/run/docker.sock``,
HTTP/1.1 on it, requests pipelined. Read-only: kcli asks it only what the observation's docker CLI
snippets would print; every change still runs as argv in the node's script.

When the channel cannot be opened (sshd's ``AllowStreamLocalForwarding no``, no socket there) or an
answer cannot be read, the connection reads those sections with the CLI from then on (one more
round trip, once); a refusal while docker answers the CLI is remembered for the next commands
(``known_off``). A user reaching docker through sudo keeps to the CLI. ``KCLI_DOCKER_API=0`` too."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kcli.core.facts.dockerapi import (
    HttpError,
    Response,
    first_requests,
    parse_response,
    request,
    section,
    served,
    then_requests,
)
from kcli.core.facts.sections import Section, parse_sections, render_script
from kcli.core.inventory import Host
from kcli.shell.sshlib import paramiko

if TYPE_CHECKING:
    from kcli.shell.transport import SshConnection

CHANNEL_KIND = "direct-streamlocal@openssh.com"
RECV = 256 * 1024


class ApiUnavailable(Exception):
    """The docker socket could not be reached or read over this connection. ``refused``: sshd
    refused the channel (forwarding disabled, or nothing answers at the socket: OpenSSH gives
    both the same reason code)."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


def open_unix_channel(transport: Any, path: str, timeout: float) -> paramiko.Channel:
    """A channel to the unix socket ``path`` on the server (OpenSSH's ``ssh -L x:/path``).

    paramiko's ``open_channel`` packs the extra fields of tcpip and x11 channels only; this is the
    same request with the streamlocal fields (socket path, reserved string, reserved uint32)."""
    from paramiko.channel import Channel
    from paramiko.common import cMSG_CHANNEL_OPEN
    from paramiko.message import Message

    if not transport.is_active():
        raise ApiUnavailable("SSH session not active")
    with transport.lock:
        window = transport._sanitize_window_size(None)  # noqa: SLF001 - as open_channel does
        packet = transport._sanitize_packet_size(None)  # noqa: SLF001
        chanid = transport._next_channel()  # noqa: SLF001
        m = Message()
        m.add_byte(cMSG_CHANNEL_OPEN)
        m.add_string(CHANNEL_KIND)
        m.add_int(chanid)
        m.add_int(window)
        m.add_int(packet)
        m.add_string(path)
        m.add_string("")
        m.add_int(0)
        chan: Any = Channel(chanid)
        transport._channels.put(chanid, chan)  # noqa: SLF001
        transport.channel_events[chanid] = event = threading.Event()
        transport.channels_seen[chanid] = True
        chan._set_transport(transport)  # noqa: SLF001
        chan._set_window(window, packet)  # noqa: SLF001
    transport._send_user_message(m)  # noqa: SLF001
    if not event.wait(timeout):
        raise ApiUnavailable(f"no answer opening {path} within {timeout:g}s")
    opened = transport._channels.get(chanid)  # noqa: SLF001 - None: the server refused it
    if opened is None:
        why = transport.get_exception()  # paramiko's ChannelException(code, text) for the refusal
        raise ApiUnavailable(f"the server refused a channel to {path}: {why}", refused=True)
    return cast(paramiko.Channel, opened)


class DockerApi:
    """HTTP/1.1 to dockerd on one channel, kept open; ``get`` sends its paths at once (pipelined)
    and reads the answers in order. One caller at a time (a lock)."""

    def __init__(self, chan: paramiko.Channel, timeout: float) -> None:
        self._chan = chan
        self._buf = b""
        self._timeout = timeout
        self._lock = threading.Lock()
        self.exchanges = 0  # pipelined sends answered (each one network round trip)
        self.bytes_received = 0

    def get(self, paths: Sequence[str]) -> list[Response]:
        if not paths:
            return []
        with self._lock:
            try:
                self._chan.settimeout(self._timeout)
                self._chan.sendall(b"".join(request(p) for p in paths))
                out: list[Response] = []
                while len(out) < len(paths):
                    parsed = parse_response(self._buf)
                    if parsed is not None:
                        out.append(parsed[0])
                        self._buf = parsed[1]
                        continue
                    chunk = self._chan.recv(RECV)
                    if not chunk:
                        parse_response(self._buf, eof=True)  # raises: the answer was cut short
                        raise ApiUnavailable("dockerd closed the connection")
                    self.bytes_received += len(chunk)
                    self._buf += chunk
            except (OSError, EOFError, paramiko.SSHException, HttpError) as exc:
                raise ApiUnavailable(str(exc) or type(exc).__name__) from exc
            self.exchanges += 1
            return out

    def close(self) -> None:
        self._chan.close()


def enabled() -> bool:
    return os.environ.get("KCLI_DOCKER_API", "1") != "0"


REMEMBER_OFF = 24 * 3600  # seconds a host whose sshd refuses the channel while docker answers is not asked again


def _off_mark(host: Host) -> Path:
    from kcli.shell.config import kcli_home

    return kcli_home() / "cache" / "docker-api-off" / f"{host.user}@{host.address}:{host.port}"


def known_off(host: Host) -> bool:
    """Keep to the docker CLI on ``host``: its user reaches docker through sudo (the socket is
    root's), or its sshd refused the channel while docker answered, within REMEMBER_OFF."""
    if host.sudo and host.user != "root":
        return True
    try:
        return time.time() - _off_mark(host).stat().st_mtime < REMEMBER_OFF
    except OSError:
        return False


def remember_off(host: Host) -> None:
    """sshd refused the channel though docker answered the CLI (forwarding disabled, or a socket
    elsewhere): the next commands keep to the CLI at once (no round trip lost)."""
    mark = _off_mark(host)
    try:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.write_text("refused\n")
    except OSError:
        pass


def api_sections(api: DockerApi, queries: Mapping[str, str]) -> dict[str, Section]:
    """Section name → section, for ``queries`` (name → query): two pipelined exchanges at most
    (what to inspect depends on the first answer)."""
    names = list(queries)
    firsts = [first_requests(queries[n]) for n in names]
    answers = api.get([p for paths in firsts for p in paths])
    got, pos = [], 0
    for paths in firsts:
        got.append(answers[pos : pos + len(paths)])
        pos += len(paths)
    thens = [then_requests(queries[n], first) for n, first in zip(names, got, strict=True)]
    more = api.get([p for paths in thens for p in paths])
    out, pos = {}, 0
    for n, first, paths in zip(names, got, thens, strict=True):
        out[n] = section(queries[n], first, more[pos : pos + len(paths)])
        pos += len(paths)
    return out


def read_sections(
    conn: SshConnection,
    snippets: Mapping[str, str],
    run_script: Callable[[Mapping[str, str]], dict[str, Section]],
    *,
    after: bool = False,
    fallback: Callable[[Mapping[str, str]], dict[str, Section]] | None = None,
) -> dict[str, Section]:
    """The sections of ``snippets`` on ``conn``'s host: those the docker API answers from it, the
    rest by ``run_script`` (one command on the node). ``after``: the API is asked once the script
    has finished (the script changes what it reads, or raises the fence first); else both at once.
    An API that fails falls back to running its snippets by ``fallback`` (default ``run_script``)."""
    queries = served(snippets) if enabled() and not conn.docker_api_off() else {}
    if not queries:
        return run_script(snippets)
    conn.connect()  # once, here: an unreachable host fails after one connect timeout, not two
    rest = {n: s for n, s in snippets.items() if n not in queries}
    result: dict[str, Section] = {}
    failed: list[ApiUnavailable] = []
    opened: list[DockerApi] = []
    received: list[int] = []  # added to the stats once the script's thread is done with them

    def ask(api: DockerApi) -> None:
        started, before = time.monotonic(), api.bytes_received
        try:
            result.update(api_sections(api, queries))
        except ApiUnavailable as exc:
            failed.append(exc)
        finally:
            conn.stats.api_seconds += time.monotonic() - started
            conn.stats.api_exchanges = api.exchanges
            received.append(api.bytes_received - before)

    def side() -> None:  # the channel is opened beside the script (the first one opened pays sshd's session set-up)
        api = conn.docker_api()
        if api is None:
            failed.append(ApiUnavailable("no channel to the docker socket", refused=conn.docker_api_refused))
        elif after:
            opened.append(api)
        else:
            ask(api)

    thread = threading.Thread(target=side, name=f"kcli-docker-api-{conn.host.name}", daemon=True)
    thread.start()
    try:
        sections = run_script(rest)
    finally:
        thread.join()
    if opened:
        ask(opened[0])
    conn.stats.bytes_received += sum(received)
    if failed:
        conn.docker_api_failed(failed[0])
        by_cli = (fallback or run_script)({n: snippets[n] for n in queries})
        if failed[0].refused and all(n in by_cli and by_cli[n].rc == 0 for n in queries):
            remember_off(conn.host)  # docker answers, the channel is refused: it will be again
        return {**sections, **by_cli}
    return {**sections, **result}


def script_runner(conn: SshConnection, timeout: float) -> Callable[[Mapping[str, str]], dict[str, Section]]:
    """``run_script`` for plain observations: the snippets as one ``sh -c`` on the node."""

    def run(snippets: Mapping[str, str]) -> dict[str, Section]:
        if not snippets:
            return {}
        res = conn.execute(["sh", "-c", render_script(snippets)], timeout=timeout)
        return parse_sections(res.stdout)

    return run
