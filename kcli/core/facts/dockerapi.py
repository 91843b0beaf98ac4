"""Observation sections read from the Docker Engine API instead of the docker CLI: pure.

A docker CLI call on a node costs ~35-45 ms of its CPU, almost all of it the CLI starting (see
BENCHMARKS.md); asked over the node's own socket, the same answer costs dockerd ~1-2 ms. kcli
reaches ``/var/run/docker.sock`` through the SSH connection it already has (an OpenSSH
``direct-streamlocal`` channel, kcli.shell.dockerapi): nothing runs on the node for it, and no
port is opened. Each section served this way is the one its CLI snippet prints, byte for byte
where the parsers look (``docker inspect`` prints the API's own JSON), so the parsers and the
CLI fallback (a sudo user without access to the socket, forwarding disabled in sshd) are one.

Here: which snippets the API can answer, the HTTP/1.1 requests (pipelined: all sent at once,
answered in order), an incremental response parser, and the sections built from the answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kcli.core.facts.sections import Section
from kcli.core.facts.view_script import DNS_CONTAINER, DOCKER_VERSION_SNIPPET, PODNET_SNIPPET, PODS_SNIPPET
from kcli.core.network import POD_NETWORK

SOCKET = "/var/run/docker.sock"
# `docker ps -aq --filter label=io.kcli.managed=true`: {"label":["io.kcli.managed=true"]}, URL-encoded
LIST_MANAGED = "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.kcli.managed%3Dtrue%22%5D%7D"
NETWORK = f"/networks/{POD_NETWORK}"
DNS = f"/containers/{DNS_CONTAINER}/json"
PING = "/_ping"
VERSION = "/version"  # dockerd runs runc and docker-init to report their versions: ~10 ms, asked only when needed

# snippet text → the query that answers it (a section whose snippet is anything else stays in the script)
QUERIES: dict[str, str] = {PODS_SNIPPET: "pods", PODNET_SNIPPET: "podnet", DOCKER_VERSION_SNIPPET: "version"}


class HttpError(ValueError):
    """The bytes on the socket are not an HTTP/1.1 response kcli can read."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    server: str = ""  # the Server header: dockerd answers everything with "Docker/VERSION (OS)"

    def json(self) -> object:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def message(self) -> str:
        """dockerd's error message (its JSON ``message``), else the body's text."""
        data = self.json()
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return str(data["message"])
        return self.body.decode(errors="replace").strip() or f"HTTP {self.status}"


def served(snippets: Mapping[str, str]) -> dict[str, str]:
    """Section name → query, for the sections of ``snippets`` the API answers."""
    return {name: QUERIES[text] for name, text in snippets.items() if text in QUERIES}


def request(path: str) -> bytes:
    """A GET of ``path`` on dockerd (HTTP/1.1, the connection kept open for the next one)."""
    return f"GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: kcli\r\n\r\n".encode()


def parse_response(buf: bytes, *, eof: bool = False) -> tuple[Response, bytes] | None:
    """The first response in ``buf`` and the bytes after it, or None while it is incomplete.
    Bodies by Content-Length, chunked, or (``Connection: close`` without either) up to ``eof``."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if eof:
            raise HttpError("connection closed inside a response header")
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"not an HTTP/1.1 response: {lines[0][:80]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    rest = buf[end + 4 :]
    server = headers.get("server", "")
    if status in (204, 304) or 100 <= status < 200:
        return Response(status, b"", server), rest
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _chunked(status, server, rest, eof)
    if "content-length" in headers:
        try:
            size = int(headers["content-length"])
        except ValueError as exc:
            raise HttpError(f"bad Content-Length: {headers['content-length']!r}") from exc
        if len(rest) < size:
            if eof:
                raise HttpError("connection closed inside a response body")
            return None
        return Response(status, rest[:size], server), rest[size:]
    return (Response(status, rest, server), b"") if eof else None


def _chunked(status: int, server: str, rest: bytes, eof: bool) -> tuple[Response, bytes] | None:
    body = bytearray()
    pos = 0
    while True:
        nl = rest.find(b"\r\n", pos)
        if nl < 0:
            break
        try:
            size = int(rest[pos:nl].split(b";")[0].strip(), 16)
        except ValueError as exc:
            raise HttpError(f"bad chunk size: {rest[pos:nl][:20]!r}") from exc
        start = nl + 2
        if size == 0:  # the last chunk, then trailer lines up to an empty one
            if rest[start : start + 2] == b"\r\n":
                return Response(status, bytes(body), server), rest[start + 2 :]
            trailers_end = rest.find(b"\r\n\r\n", start)
            if trailers_end < 0:
                break
            return Response(status, bytes(body), server), rest[trailers_end + 4 :]
        if len(rest) < start + size + 2:
            break
        body += rest[start : start + size]
        pos = start + size + 2
    if eof:
        raise HttpError("connection closed inside a chunked body")
    return None


# -- sections ---------------------------------------------------------------------------------


def first_requests(query: str) -> list[str]:
    """The paths a query asks first (all pipelined)."""
    if query == "pods":
        return [LIST_MANAGED, NETWORK, DNS]
    if query == "podnet":
        return [NETWORK]
    if query == "version":  # the version is in the Server header of any answer: the cheapest one
        return [PING]
    raise ValueError(f"unknown docker API query {query!r}")


def server_version(server: str) -> tuple[str, str] | None:
    """(version, OS) from dockerd's Server header ``Docker/20.10.24+dfsg1 (linux)``, else None."""
    product, _, rest = server.partition(" ")
    name, _, version = product.partition("/")
    if name != "Docker" or not version:
        return None
    return version, rest.strip("()")


def then_requests(query: str, first: Sequence[Response]) -> list[str]:
    """The paths asked after the first answers: every managed container's inspect (pods); the
    daemon's /version when its ping carried no version."""
    if query == "version":
        return [] if first[0].status != 200 or server_version(first[0].server) else [VERSION]
    if query != "pods" or first[0].status != 200:
        return []
    listed = first[0].json()
    ids = (
        [c["Id"] for c in listed if isinstance(c, dict) and isinstance(c.get("Id"), str)]
        if isinstance(listed, list)
        else []
    )
    return [f"/containers/{i}/json" for i in ids if i.isalnum()]


def section(query: str, first: Sequence[Response], then: Sequence[Response]) -> Section:
    """The section the query's CLI snippet would have printed (stderr folded in, its exit status)."""
    if query == "version":  # `docker version --format '{{json .Server}}'`: the daemon's /version object,
        ping = first[0]  # or, from the ping's Server header, the two fields of it that kcli reads
        version = server_version(ping.server) if ping.status == 200 else None
        if version:
            return Section(json.dumps({"Version": version[0], "Os": version[1]}), 0)
        answer = then[0] if then else ping
        if answer.status == 200 and isinstance(answer.json(), dict):
            return Section(json.dumps(answer.json()), 0)
        return Section(f"Error response from daemon: {answer.message()}", 1)
    if query == "podnet":
        net = first[0]
        if net.status == 200:
            return Section(json.dumps([net.json()]), 0)
        if net.status == 404:
            return Section(f"[]\nError: No such network: {POD_NETWORK}", 1)
        return Section(f"[]\nError response from daemon: {net.message()}", 1)
    listed = first[0]
    if listed.status != 200:  # `docker ps` failed: the snippet exits with its status
        return Section(f"Error response from daemon: {listed.message()}", 1)
    # `docker inspect kcli-pods kcli-dns $ids`: the objects that exist, in that order (a missing one,
    # or a container removed between the list and its inspect, is left out, as the CLI does)
    found = [r.json() for r in (*first[1:], *then) if r.status == 200]
    return Section(json.dumps([d for d in found if isinstance(d, dict)], indent=None), 0)
