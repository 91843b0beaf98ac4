"""Service specs, endpoint resolution and ClusterIP / NodePort allocation."""

from __future__ import annotations

import pytest

from kcli.core.services import (
    AllocationError,
    ContainerPort,
    Endpoint,
    PodInfo,
    ServicePort,
    ServiceSpec,
    allocate_cluster_ip,
    allocate_node_port,
    allocate_node_ports,
    endpoints_by_service,
    ready_endpoints,
    resolve_endpoints,
)
from kcli.errors import PlanError

HTTP = ServicePort("http", "TCP", 80, "web")


def pod(
    name: str, ip: str | None, ready: bool = True, ns: str = "default", labels=None, ports=None, node="n1"
) -> PodInfo:
    return PodInfo(
        name,
        ns,
        labels if labels is not None else {"app": "web"},
        ip,
        node,
        ready,
        ports if ports is not None else (ContainerPort(8080, "web"),),
    )


def svc(*ports: ServicePort, selector=None, **kw) -> ServiceSpec:
    return ServiceSpec("default", "web", ports=ports or (HTTP,), selector=selector or {"app": "web"}, **kw)


class TestServiceSpec:
    def test_selector_mapping_is_stored_sorted_and_hashable(self):
        s = ServiceSpec("default", "web", selector={"tier": "fe", "app": "web"})
        assert s.selector == (("app", "web"), ("tier", "fe"))
        assert s.selector_dict == {"app": "web", "tier": "fe"}
        assert hash(s) == hash(ServiceSpec("default", "web", selector={"app": "web", "tier": "fe"}))

    def test_key_and_headless(self):
        assert svc().key == "default/web"
        assert svc(cluster_ip="None").headless
        assert not svc(cluster_ip="10.96.0.5").headless

    @pytest.mark.parametrize("kind", ["LoadBalancer", "ExternalName", "headless"])
    def test_unsupported_types_are_rejected(self, kind):
        with pytest.raises(ValueError, match="service type"):
            ServiceSpec("default", "web", type=kind)

    def test_bad_protocol_affinity_and_timeout_are_rejected(self):
        with pytest.raises(ValueError, match="protocol"):
            ServicePort("x", "tcp", 80, 80)
        with pytest.raises(ValueError, match="sessionAffinity"):
            svc(session_affinity="Cookie")
        with pytest.raises(ValueError, match="timeoutSeconds"):
            svc(session_affinity="ClientIP", affinity_timeout=86401)


class TestResolveEndpoints:
    def test_named_target_port_resolves_per_pod(self):
        pods = [
            pod("a", "10.244.1.5", ports=(ContainerPort(8080, "web"),)),
            pod("b", "10.244.2.7", ports=(ContainerPort(9090, "web"), ContainerPort(8080, "metrics"))),
        ]
        eps = resolve_endpoints(svc(), pods)
        assert [(e.pod, e.ip, e.port, e.port_name) for e in eps] == [
            ("a", "10.244.1.5", 8080, "http"),
            ("b", "10.244.2.7", 9090, "http"),
        ]
        assert eps[0].address == "10.244.1.5:8080"

    def test_pod_without_the_named_port_or_with_other_protocol_is_skipped(self):
        pods = [pod("a", "10.244.1.5", ports=()), pod("b", "10.244.1.6", ports=(ContainerPort(8080, "web", "UDP"),))]
        assert resolve_endpoints(svc(), pods) == ()

    def test_numeric_target_port_needs_no_container_port(self):
        eps = resolve_endpoints(svc(ServicePort("", "TCP", 80, 8080)), [pod("a", "10.244.1.5", ports=())])
        assert [(e.ip, e.port, e.port_name) for e in eps] == [("10.244.1.5", 8080, "")]

    def test_selection_rules(self):
        pods = [
            pod("ready", "10.244.1.5"),
            pod("notready", "10.244.1.6", ready=False),
            pod("noip", None),
            pod("otherns", "10.244.1.7", ns="prod"),
            pod("otherlabel", "10.244.1.8", labels={"app": "db"}),
            pod("extra-labels", "10.244.1.9", labels={"app": "web", "pod-template-hash": "abc"}),
        ]
        eps = resolve_endpoints(svc(), pods)
        assert [(e.pod, e.ready) for e in eps] == [("ready", True), ("notready", False), ("extra-labels", True)]

    def test_empty_selector_selects_nothing(self):
        assert resolve_endpoints(ServiceSpec("default", "web", ports=(HTTP,)), [pod("a", "10.244.1.5")]) == ()

    def test_several_ports_and_numeric_ip_order(self):
        s = svc(HTTP, ServicePort("dns", "UDP", 53, 5353))
        pods = [pod("b", "10.244.10.2"), pod("a", "10.244.2.2")]
        eps = resolve_endpoints(s, pods)
        assert [(e.port_name, e.ip, e.port, e.protocol) for e in eps] == [
            ("dns", "10.244.2.2", 5353, "UDP"),
            ("dns", "10.244.10.2", 5353, "UDP"),
            ("http", "10.244.2.2", 8080, "TCP"),
            ("http", "10.244.10.2", 8080, "TCP"),
        ]

    def test_ready_endpoints_filters_port_and_readiness(self):
        eps = (
            Endpoint("10.244.3.1", 80, "c", "n", True, "http"),
            Endpoint("10.244.1.1", 80, "a", "n", False, "http"),
            Endpoint("10.244.2.1", 80, "b", "n", True, "http"),
            Endpoint("10.244.2.1", 53, "b", "n", True, "dns"),
        )
        assert [e.pod for e in ready_endpoints(eps, HTTP)] == ["b", "c"]

    def test_endpoints_by_service_keys(self):
        result = endpoints_by_service([svc()], [pod("a", "10.244.1.5")])
        assert list(result) == ["default/web"] and len(result["default/web"]) == 1

    def test_ipv6_address_is_bracketed(self):
        assert Endpoint("fd00::5", 8080, "a", None, True).address == "[fd00::5]:8080"


class TestAllocateClusterIP:
    def test_dynamic_allocation_starts_above_the_static_band(self):
        # 10.96.0.0/12: static band is the lowest 256 addresses (KEP-3070), so .1 and .10 stay free
        assert allocate_cluster_ip("10.96.0.0/12", []) == "10.96.1.0"
        assert allocate_cluster_ip("10.96.0.0/12", ["10.96.1.0", "10.96.1.1"]) == "10.96.1.2"

    def test_small_cidr_band_is_16(self):
        assert allocate_cluster_ip("10.0.0.0/24", []) == "10.0.0.16"
        taken = [f"10.0.0.{i}" for i in range(16, 255)]
        assert allocate_cluster_ip("10.0.0.0/24", taken) == "10.0.0.2"  # falls back, skips .0 and .1

    def test_tiny_cidr_never_gives_network_first_or_broadcast(self):
        got = []
        for _ in range(13):
            got.append(allocate_cluster_ip("10.0.0.0/28", got))
        assert got == [f"10.0.0.{i}" for i in range(2, 15)]
        with pytest.raises(AllocationError, match="no ClusterIP left"):
            allocate_cluster_ip("10.0.0.0/28", got)

    def test_requested_free_ip_is_honoured_including_dot_one_and_dns(self):
        assert allocate_cluster_ip("10.96.0.0/12", [], "10.96.0.1") == "10.96.0.1"
        assert allocate_cluster_ip("10.96.0.0/12", ["10.96.0.1"], "10.96.0.10") == "10.96.0.10"

    def test_requested_taken_outside_or_network_address_is_an_error(self):
        with pytest.raises(AllocationError, match="already allocated"):
            allocate_cluster_ip("10.96.0.0/12", ["10.96.0.10"], "10.96.0.10")
        with pytest.raises(AllocationError, match="not in the valid range. The range of valid IPs is 10.96.0.0/12"):
            allocate_cluster_ip("10.96.0.0/12", [], "10.112.0.1")
        with pytest.raises(AllocationError, match="not in the valid range"):
            allocate_cluster_ip("10.96.0.0/12", [], "10.96.0.0")
        with pytest.raises(AllocationError, match="valid IP"):
            allocate_cluster_ip("10.96.0.0/12", [], "banana")
        assert issubclass(AllocationError, PlanError)

    def test_none_in_taken_is_ignored(self):
        assert allocate_cluster_ip("10.0.0.0/24", ["None", ""]) == "10.0.0.16"


class TestAllocateNodePort:
    def test_lowest_free_port_above_the_static_band(self):
        # 2768 ports -> static band min(max(16, 2768/32), 128) = 86 ports: 30000-30085
        assert allocate_node_port([]) == 30086
        assert allocate_node_port([30086, 30087]) == 30088

    def test_requested_port(self):
        assert allocate_node_port([30081], 30080) == 30080
        with pytest.raises(AllocationError, match="30080: provided port is already allocated"):
            allocate_node_port([30080], 30080)
        with pytest.raises(AllocationError, match="The range of valid ports is 30000-32767"):
            allocate_node_port([], 8080)

    def test_falls_back_to_static_band_then_exhausts(self):
        assert allocate_node_port(range(30086, 32768)) == 30000
        with pytest.raises(AllocationError, match="no NodePort left"):
            allocate_node_port(range(30000, 32768))
        assert allocate_node_port([], port_range=(31000, 31009)) == 31000

    def test_allocate_node_ports_fills_only_missing_ones(self):
        s = ServiceSpec(
            "default",
            "web",
            "NodePort",
            "10.96.1.0",
            (ServicePort("a", "TCP", 80, 80, 30080), ServicePort("b", "TCP", 81, 81)),
        )
        out = allocate_node_ports(s, [30086])
        assert [p.node_port for p in out.ports] == [30080, 30087]
        assert out.cluster_ip == "10.96.1.0" and out.selector == s.selector
        cluster_ip_only = svc(cluster_ip="10.96.1.0")
        assert allocate_node_ports(cluster_ip_only, []) is cluster_ip_only
