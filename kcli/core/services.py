"""Services as plain data: specs, endpoint resolution and ClusterIP / NodePort allocation (pure).

The shapes follow core/v1 Service and EndpointSlice closely enough for kube-proxy's rules
(``kcli.core.iptables``) and kubectl's output; manifest parsing lives elsewhere and builds these.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kcli.errors import PlanError

SERVICE_TYPES = ("ClusterIP", "NodePort")
PROTOCOLS = ("TCP", "UDP", "SCTP")
AFFINITIES = ("None", "ClientIP")
HEADLESS = "None"
DEFAULT_AFFINITY_TIMEOUT = 10800  # core/v1 DefaultClientIPServiceAffinitySeconds
MAX_AFFINITY_TIMEOUT = 86400
NODE_PORT_RANGE = (30000, 32767)


class AllocationError(PlanError):
    """A requested ClusterIP / NodePort is taken or out of range, or the range is full."""


@dataclass(frozen=True)
class ServicePort:
    """One entry of ``spec.ports``; ``target_port`` is a number or a container port name."""

    name: str
    protocol: str
    port: int
    target_port: int | str
    node_port: int | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}")


@dataclass(frozen=True)
class ServiceSpec:
    """A v1 Service. Headless is ``cluster_ip == "None"`` (type ClusterIP), as in Kubernetes.

    ``cluster_ip`` is ``None`` until allocated. ``selector`` accepts any mapping and is stored as
    sorted ``(key, value)`` pairs so the spec stays hashable.
    """

    namespace: str
    name: str
    type: str = "ClusterIP"
    cluster_ip: str | None = None
    ports: tuple[ServicePort, ...] = ()
    selector: tuple[tuple[str, str], ...] = ()
    session_affinity: str = "None"
    affinity_timeout: int = DEFAULT_AFFINITY_TIMEOUT

    def __post_init__(self) -> None:
        if self.type not in SERVICE_TYPES:
            raise ValueError(f"service type must be one of {', '.join(SERVICE_TYPES)}, not {self.type!r}")
        if self.session_affinity not in AFFINITIES:
            raise ValueError(f"sessionAffinity must be None or ClientIP, not {self.session_affinity!r}")
        if not 0 < self.affinity_timeout <= MAX_AFFINITY_TIMEOUT:
            raise ValueError(f"sessionAffinityConfig.clientIP.timeoutSeconds must be 1..{MAX_AFFINITY_TIMEOUT}")
        object.__setattr__(self, "ports", tuple(self.ports))
        sel = self.selector.items() if isinstance(self.selector, Mapping) else self.selector
        object.__setattr__(self, "selector", tuple(sorted((str(k), str(v)) for k, v in sel)))

    @property
    def key(self) -> str:
        """``namespace/name``: the key of ``endpoints_by_service`` maps."""
        return f"{self.namespace}/{self.name}"

    @property
    def headless(self) -> bool:
        return self.cluster_ip == HEADLESS

    @property
    def selector_dict(self) -> dict[str, str]:
        return dict(self.selector)


@dataclass(frozen=True)
class ContainerPort:
    """A container port of a pod: ``name`` may be empty."""

    container_port: int
    name: str = ""
    protocol: str = "TCP"


@dataclass(frozen=True)
class PodInfo:
    """What endpoint resolution needs to know about one pod (plain data, from observation)."""

    name: str
    namespace: str
    labels: tuple[tuple[str, str], ...] = ()
    ip: str | None = None
    node: str | None = None
    ready: bool = False
    ports: tuple[ContainerPort, ...] = field(default=())

    def __post_init__(self) -> None:
        lab = self.labels.items() if isinstance(self.labels, Mapping) else self.labels
        object.__setattr__(self, "labels", tuple(sorted((str(k), str(v)) for k, v in lab)))
        object.__setattr__(self, "ports", tuple(self.ports))


@dataclass(frozen=True)
class Endpoint:
    """One backend of one service port (an EndpointSlice endpoint x port)."""

    ip: str
    port: int
    pod: str
    node: str | None
    ready: bool
    port_name: str = ""
    protocol: str = "TCP"

    @property
    def address(self) -> str:
        """``ip:port`` as ``net.JoinHostPort`` writes it (IPv6 in brackets)."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"


def endpoint_sort_key(ep: Endpoint) -> tuple[int, int, int, str]:
    """Numeric order by IP then port: the order of KUBE-SEP rules in a KUBE-SVC chain."""
    addr = ipaddress.ip_address(ep.ip)
    return (addr.version, int(addr), ep.port, ep.pod)


def selects(selector: Iterable[tuple[str, str]], labels: Iterable[tuple[str, str]]) -> bool:
    """Equality-based label selection; an empty selector selects nothing (no endpoints managed)."""
    sel = dict(selector)
    if not sel:
        return False
    lab = dict(labels)
    return all(lab.get(k) == v for k, v in sel.items())


def resolve_target_port(port: ServicePort, pod: PodInfo) -> int | None:
    """targetPort of ``port`` in ``pod``: a number as is, a name via the pod's container ports.

    A name must match a container port with the same name and protocol (``podutil.FindPort``);
    ``None`` when the pod has none, and that pod is then not an endpoint of that port.
    """
    if isinstance(port.target_port, int):
        return port.target_port
    for cp in pod.ports:
        if cp.name == port.target_port and cp.protocol == port.protocol:
            return cp.container_port
    return None


def resolve_endpoints(service: ServiceSpec, pods: Iterable[PodInfo]) -> tuple[Endpoint, ...]:
    """Endpoints of ``service``: every selected pod with an IP, one per service port it serves.

    Not-ready pods are included with ``ready=False`` (kubectl shows them as NotReadyAddresses;
    the iptables renderer skips them). Sorted by port name, then IP and port.
    """
    result: list[Endpoint] = []
    for pod in pods:
        if pod.namespace != service.namespace or not pod.ip or not selects(service.selector, pod.labels):
            continue
        for sp in service.ports:
            target = resolve_target_port(sp, pod)
            if target is None:
                continue
            result.append(Endpoint(pod.ip, target, pod.name, pod.node, pod.ready, sp.name, sp.protocol))
    return tuple(sorted(result, key=lambda e: (e.port_name, endpoint_sort_key(e))))


def ready_endpoints(endpoints: Iterable[Endpoint], port: ServicePort) -> tuple[Endpoint, ...]:
    """The ready endpoints of one service port, deduplicated and in rule order."""
    seen = {e.address: e for e in endpoints if e.ready and e.port_name == port.name}
    return tuple(sorted(seen.values(), key=endpoint_sort_key))


def allocate_cluster_ip(service_cidr: str, taken: Iterable[str], requested: str | None = None) -> str:
    """A ClusterIP from ``service_cidr``: ``requested`` if free and valid, else the lowest free
    address of the dynamic (upper) band, falling back to the static (lower) band.

    Never the network address, the IPv4 broadcast, or the first host address (``.1``, kept for
    the ``kubernetes`` service) unless requested. As in Kubernetes (KEP-3070) the lowest
    ``min(max(16, size/16), 256)`` addresses form a static band (where e.g. the DNS service's
    ``.10`` lives) that dynamic allocation uses only when the rest is full. Lowest-free rather
    than random makes plans reproducible.
    """
    net = ipaddress.ip_network(service_cidr, strict=True)
    used = {ipaddress.ip_address(t) for t in taken if t and t != HEADLESS}
    first = int(net.network_address)
    last = int(net.broadcast_address)
    if requested is not None and requested != HEADLESS:
        try:
            want = ipaddress.ip_address(requested)
        except ValueError as exc:
            raise AllocationError(f'spec.clusterIP: Invalid value: "{requested}": must be a valid IP address') from exc
        if want not in net or int(want) == first or (net.version == 4 and int(want) == last and net.num_addresses > 2):
            raise AllocationError(
                f'spec.clusterIP: Invalid value: "{requested}": provided IP is not in the valid range. '
                f"The range of valid IPs is {service_cidr}"
            )
        if want in used:
            raise AllocationError(f'spec.clusterIP: Invalid value: "{requested}": provided IP is already allocated')
        return str(want)
    size = net.num_addresses
    band = min(max(16, size // 16), 256)
    low, high = first + 2, (last - 1 if net.version == 4 else last)
    split = max(low, first + band)
    used_ints = {int(u) for u in used}
    for start, stop in ((split, high), (low, min(split - 1, high))):
        for cand in range(start, stop + 1):
            if cand not in used_ints:
                return str(ipaddress.ip_address(cand))
    raise AllocationError(f"no ClusterIP left in service CIDR {service_cidr}")


def allocate_node_port(
    taken: Iterable[int], requested: int | None = None, port_range: tuple[int, int] = NODE_PORT_RANGE
) -> int:
    """A NodePort in ``port_range``: ``requested`` if free, else the lowest free port of the
    dynamic band, then of the static band.

    The static band (KEP-3668) is the lowest ``min(max(16, size/32), 128)`` ports of the range
    (30000-30085 by default), so ports users pick by hand rarely collide with allocated ones.
    """
    lo, hi = port_range
    used = set(taken)
    if requested is not None:
        if not lo <= requested <= hi:
            raise AllocationError(
                f"spec.ports.nodePort: Invalid value: {requested}: provided port is not in the valid range. "
                f"The range of valid ports is {lo}-{hi}"
            )
        if requested in used:
            raise AllocationError(
                f"spec.ports.nodePort: Invalid value: {requested}: provided port is already allocated"
            )
        return requested
    size = hi - lo + 1
    split = lo + min(max(16, size // 32), 128)
    for start, stop in ((split, hi), (lo, min(split - 1, hi))):
        for cand in range(start, stop + 1):
            if cand not in used:
                return cand
    raise AllocationError(f"no NodePort left in range {lo}-{hi}")


def allocate_node_ports(service: ServiceSpec, taken: Iterable[int]) -> ServiceSpec:
    """``service`` with every port of a NodePort service given a node port (requested ones kept).

    ``taken`` are the node ports of all *other* services.
    """
    if service.type != "NodePort":
        return service
    used = set(taken)
    ports: list[ServicePort] = []
    for sp in service.ports:
        np = allocate_node_port(used, sp.node_port)
        used.add(np)
        ports.append(ServicePort(sp.name, sp.protocol, sp.port, sp.target_port, np))
    return ServiceSpec(
        service.namespace,
        service.name,
        service.type,
        service.cluster_ip,
        tuple(ports),
        service.selector,
        service.session_affinity,
        service.affinity_timeout,
    )


def endpoints_by_service(services: Sequence[ServiceSpec], pods: Sequence[PodInfo]) -> dict[str, tuple[Endpoint, ...]]:
    """``{service.key: resolve_endpoints(service, pods)}`` for every service."""
    return {s.key: resolve_endpoints(s, pods) for s in services}
