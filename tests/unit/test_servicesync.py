"""kcli.core.servicesync: allocations kept in state, kubelet's service env, node-local DNS records,
endpoint records, and the per-node kube-proxy rules with their drift."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

from kcli.core import iptables as ipt
from kcli.core.objects import build_object
from kcli.core.services import AllocationError, Endpoint, ServicePort, ServiceSpec
from kcli.core.servicesync import (
    allocate,
    current_services,
    dns_args,
    dns_container_lines,
    dns_hosts,
    endpoints_from_record,
    endpoints_record,
    hairpin_line,
    node_rules,
    pod_dns_args,
    pod_infos,
    probe_script,
    rules_lines,
    service_env,
    udp_cleanup_lines,
)

CIDR = "10.96.0.0/12"  # dynamic band starts at 10.96.1.0 (static band: the lowest 256)
POD_CIDR = "10.244.0.0/16"


def svc(name: str, ns: str = "default", **spec):
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    spec.setdefault("selector", {"app": name})
    return build_object(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    )


def by_name(specs):
    return {s.name: s for s in specs}


# --------------------------------------------------------------------------- allocation


class TestAllocate:
    def test_fresh_allocation_and_record(self):
        specs, record, warnings = allocate(
            [svc("web"), svc("np", type="NodePort"), svc("hl", clusterIP="None"), svc("dns", clusterIP="10.96.0.10")],
            {},
            CIDR,
        )
        assert [s.name for s in specs] == ["dns", "hl", "np", "web"]  # sorted by namespace/name
        assert record == {
            "default/dns": {"clusterIP": "10.96.0.10", "type": "ClusterIP"},
            "default/hl": {"clusterIP": "None", "type": "ClusterIP"},
            "default/np": {"clusterIP": "10.96.1.0", "type": "NodePort", "nodePorts": {"http": 30086}},
            "default/web": {"clusterIP": "10.96.1.1", "type": "ClusterIP"},
        }
        assert warnings == []
        s = by_name(specs)
        assert s["np"] == ServiceSpec(
            "default", "np", "NodePort", "10.96.1.0", (ServicePort("http", "TCP", 80, 8080, 30086),), {"app": "np"}
        )
        assert s["hl"].headless and s["hl"].ports[0].node_port is None
        assert s["web"].ports == (ServicePort("http", "TCP", 80, 8080, None),)

    def test_recorded_allocations_are_kept(self):
        recorded = {
            "default/web": {"clusterIP": "10.96.7.7", "type": "ClusterIP"},
            "default/np": {"clusterIP": "10.96.8.8", "type": "NodePort", "nodePorts": {"http": 31234}},
        }
        specs, record, _ = allocate([svc("web"), svc("np", type="NodePort"), svc("new")], recorded, CIDR)
        assert record["default/web"] == recorded["default/web"]
        assert record["default/np"] == recorded["default/np"]
        assert record["default/new"]["clusterIP"] == "10.96.1.0"
        assert by_name(specs)["np"].ports[0].node_port == 31234

    def test_repeated_calls_are_stable(self):
        services = [
            svc("a", type="NodePort", ports=[{"name": "x", "port": 1}, {"name": "y", "port": 2, "protocol": "UDP"}]),
            svc("b"),
            svc("c", type="LoadBalancer"),
        ]
        specs1, rec1, _ = allocate(services, {}, CIDR)
        specs2, rec2, _ = allocate(services, rec1, CIDR)
        assert rec1 == rec2 and specs1 == specs2
        assert rec1["default/a"]["nodePorts"] == {"x": 30086, "y": 30087}

    def test_unnamed_port_is_keyed_by_port_and_protocol(self):
        _, record, _ = allocate([svc("np", type="NodePort", ports=[{"port": 53, "protocol": "UDP"}])], {}, CIDR)
        assert record["default/np"]["nodePorts"] == {"53/UDP": 30086}

    def test_requested_ip_and_node_port_are_honoured(self):
        recorded = {"default/web": {"clusterIP": "10.96.7.7", "type": "NodePort", "nodePorts": {"http": 31000}}}
        specs, record, _ = allocate(
            [
                svc(
                    "web",
                    type="NodePort",
                    clusterIP="10.96.0.20",
                    ports=[{"name": "http", "port": 80, "nodePort": 30500}],
                ),
                svc("other"),
            ],
            recorded,
            CIDR,
        )
        assert record["default/web"] == {"clusterIP": "10.96.0.20", "type": "NodePort", "nodePorts": {"http": 30500}}
        assert record["default/other"]["clusterIP"] == "10.96.1.0"
        _, record2, _ = allocate(
            [
                svc(
                    "web",
                    type="NodePort",
                    clusterIP="10.96.0.20",
                    ports=[{"name": "http", "port": 80, "nodePort": 30500}],
                )
            ],
            record,
            CIDR,
        )
        assert record2["default/web"] == record["default/web"]

    def test_requested_ip_owned_by_another_service_is_refused(self):
        recorded = {"default/a": {"clusterIP": "10.96.0.50", "type": "ClusterIP"}}
        with pytest.raises(AllocationError, match='"10.96.0.50": provided IP is already allocated'):
            allocate([svc("a"), svc("b", clusterIP="10.96.0.50")], recorded, CIDR)
        with pytest.raises(AllocationError, match="not in the valid range"):
            allocate([svc("b", clusterIP="10.200.0.1")], {}, CIDR)

    def test_load_balancer_becomes_node_port_with_a_warning(self):
        specs, record, warnings = allocate([svc("lb", type="LoadBalancer")], {}, CIDR)
        assert specs[0].type == "NodePort" and specs[0].ports[0].node_port == 30086
        assert record == {"default/lb": {"clusterIP": "10.96.1.0", "type": "NodePort", "nodePorts": {"http": 30086}}}
        assert warnings == ["service default/lb: type LoadBalancer has no load balancer here; treated as NodePort"]

    def test_external_name_is_skipped_with_a_warning(self):
        specs, record, warnings = allocate(
            [svc("ext", "prod", type="ExternalName", externalName="db.example.com", ports=[], selector={}), svc("web")],
            {},
            CIDR,
        )
        assert [s.name for s in specs] == ["web"] and list(record) == ["default/web"]
        assert warnings == ["service prod/ext: type ExternalName is not supported; skipped"]

    def test_removed_services_release_their_addresses(self):
        recorded = {
            "default/gone": {"clusterIP": "10.96.1.0", "type": "NodePort", "nodePorts": {"http": 30086}},
            "default/kept": {"clusterIP": "10.96.1.1", "type": "ClusterIP"},
        }
        specs, record, _ = allocate([svc("kept"), svc("fresh", type="NodePort")], recorded, CIDR)
        assert record == {
            "default/fresh": {"clusterIP": "10.96.1.0", "type": "NodePort", "nodePorts": {"http": 30086}},
            "default/kept": {"clusterIP": "10.96.1.1", "type": "ClusterIP"},
        }

    def test_an_address_given_up_by_a_changed_request_is_reusable(self):
        recorded = {"default/a": {"clusterIP": "10.96.1.0", "type": "ClusterIP"}}
        _, record, _ = allocate([svc("a", clusterIP="10.96.0.30"), svc("b")], recorded, CIDR)
        assert record["default/a"]["clusterIP"] == "10.96.0.30"
        assert record["default/b"]["clusterIP"] == "10.96.1.0"

    def test_requested_ip_wins_over_a_dynamic_allocation_in_the_same_apply(self):
        _, record, _ = allocate([svc("a"), svc("b", clusterIP="10.96.1.0")], {}, CIDR)
        assert record["default/b"]["clusterIP"] == "10.96.1.0"
        assert record["default/a"]["clusterIP"] != "10.96.1.0"


# --------------------------------------------------------------------------- service env


class TestServiceEnv:
    SPECS = [
        ServiceSpec("default", "my-db", "ClusterIP", "10.96.0.40", (ServicePort("", "TCP", 5432, 5432),), {"a": "b"}),
        ServiceSpec(
            "default",
            "web",
            "NodePort",
            "10.96.1.2",
            (ServicePort("http", "TCP", 80, 8080, 30080), ServicePort("dns-udp", "UDP", 53, 53, 30053)),
            {"a": "b"},
        ),
        ServiceSpec("default", "hl", "ClusterIP", "None", (ServicePort("x", "TCP", 1, 1),), {"a": "b"}),
        ServiceSpec("default", "unallocated", "ClusterIP", None, (ServicePort("x", "TCP", 1, 1),), {"a": "b"}),
        ServiceSpec("default", "noports", "ClusterIP", "10.96.0.41", (), {"a": "b"}),
        ServiceSpec("other", "web", "ClusterIP", "10.96.0.42", (ServicePort("http", "TCP", 80, 80),), {"a": "b"}),
    ]

    def test_exact_kubelet_variables(self):
        assert service_env(self.SPECS, "default") == [
            ("MY_DB_SERVICE_HOST", "10.96.0.40"),
            ("MY_DB_SERVICE_PORT", "5432"),
            ("MY_DB_PORT", "tcp://10.96.0.40:5432"),
            ("MY_DB_PORT_5432_TCP", "tcp://10.96.0.40:5432"),
            ("MY_DB_PORT_5432_TCP_PROTO", "tcp"),
            ("MY_DB_PORT_5432_TCP_PORT", "5432"),
            ("MY_DB_PORT_5432_TCP_ADDR", "10.96.0.40"),
            ("WEB_SERVICE_HOST", "10.96.1.2"),
            ("WEB_SERVICE_PORT", "80"),
            ("WEB_SERVICE_PORT_HTTP", "80"),
            ("WEB_SERVICE_PORT_DNS_UDP", "53"),
            ("WEB_PORT", "tcp://10.96.1.2:80"),
            ("WEB_PORT_80_TCP", "tcp://10.96.1.2:80"),
            ("WEB_PORT_80_TCP_PROTO", "tcp"),
            ("WEB_PORT_80_TCP_PORT", "80"),
            ("WEB_PORT_80_TCP_ADDR", "10.96.1.2"),
            ("WEB_PORT_53_UDP", "udp://10.96.1.2:53"),
            ("WEB_PORT_53_UDP_PROTO", "udp"),
            ("WEB_PORT_53_UDP_PORT", "53"),
            ("WEB_PORT_53_UDP_ADDR", "10.96.1.2"),
        ]

    def test_other_namespaces_only_see_their_own(self):
        assert [k for k, _ in service_env(self.SPECS, "other")][:2] == ["WEB_SERVICE_HOST", "WEB_SERVICE_PORT"]
        assert dict(service_env(self.SPECS, "other"))["WEB_SERVICE_HOST"] == "10.96.0.42"
        assert service_env(self.SPECS, "empty") == []


# --------------------------------------------------------------------------- DNS


def ep(
    ip: str, ready: bool = True, port: int = 8080, name: str = "http", proto: str = "TCP", pod: str = "p"
) -> Endpoint:
    return Endpoint(ip, port, pod, "n1", ready, name, proto)


class TestDns:
    WEB = ServiceSpec("prod", "web", "ClusterIP", "10.96.1.2", (ServicePort("http", "TCP", 80, 8080),), {"a": "b"})
    DB = ServiceSpec(
        "prod",
        "db",
        "ClusterIP",
        "None",
        (ServicePort("pg", "TCP", 5432, 5432), ServicePort("metrics", "TCP", 9187, 9187)),
        {"a": "c"},
    )

    def test_hosts_records(self):
        eps = {
            self.DB.key: (
                ep("10.244.2.5", port=5432, name="pg"),
                ep("10.244.2.5", port=9187, name="metrics"),
                ep("10.244.1.3", port=5432, name="pg"),
                ep("10.244.1.9", ready=False, port=5432, name="pg"),
            ),
            self.WEB.key: (ep("10.244.1.4", ready=False),),
        }
        assert dns_hosts([self.WEB, self.DB], eps) == (
            "# Written by kcli: cluster DNS records (dnsmasq --hostsdir reloads it on change)\n"
            "10.96.1.2 web.prod.svc.cluster.local\n"
            "10.244.1.3 db.prod.svc.cluster.local\n"
            "10.244.2.5 db.prod.svc.cluster.local\n"
        )

    def test_a_pod_with_this_service_as_subdomain_gets_its_own_record(self):
        eps = {
            self.DB.key: (
                ep("10.244.2.5", port=5432, name="pg", pod="db-0"),
                ep("10.244.2.5", port=9187, name="metrics", pod="db-0"),
                ep("10.244.1.3", port=5432, name="pg", pod="db-1"),
                ep("10.244.1.9", ready=False, port=5432, name="pg", pod="db-2"),
                ep("10.244.1.7", port=5432, name="pg", pod="other"),
            )
        }
        hosts = {
            ("prod", "db-0"): "db-0.db",
            ("prod", "db-1"): "db-1.db",
            ("prod", "db-2"): "db-2.db",
            ("prod", "other"): "other.elsewhere",
        }
        assert dns_hosts([self.DB], eps, hosts).splitlines()[1:] == [
            "10.244.1.3 db.prod.svc.cluster.local",
            "10.244.1.7 db.prod.svc.cluster.local",
            "10.244.2.5 db.prod.svc.cluster.local",
            "10.244.2.5 db-0.db.prod.svc.cluster.local",
            "10.244.1.3 db-1.db.prod.svc.cluster.local",
        ]  # not ready: none

    def test_headless_without_ready_pods_and_unallocated_have_no_records(self):
        unallocated = ServiceSpec("prod", "x", "ClusterIP", None, (ServicePort("http", "TCP", 80, 80),), {"a": "b"})
        assert dns_hosts([self.DB, unallocated], {}).splitlines() == [
            "# Written by kcli: cluster DNS records (dnsmasq --hostsdir reloads it on change)"
        ]

    def test_dns_args(self):
        assert dns_args("prod", "10.244.3.0/24") == [
            "--dns",
            "10.244.3.1",
            "--dns-search",
            "prod.svc.cluster.local",
            "--dns-search",
            "svc.cluster.local",
            "--dns-search",
            "cluster.local",
            "--dns-option",
            "ndots:5",
        ]

    def test_dns_container_listens_on_the_pod_gateway(self):
        (line,) = dns_container_lines("10.244.3.0/24")
        assert line.startswith("docker inspect kcli-dns >/dev/null 2>&1 || docker run -d --name kcli-dns ")
        assert " --listen-address=10.244.3.1 " in line and " -v /var/lib/kcli/dns:/etc/kcli-dns:ro " in line
        assert line.endswith(" >/dev/null")


# --------------------------------------------------------------------------- endpoints


class TestEndpoints:
    SVC = ServiceSpec(
        "default",
        "dns",
        "ClusterIP",
        "10.96.0.10",
        (ServicePort("dns", "UDP", 53, 53), ServicePort("dns-tcp", "TCP", 53, 53)),
        {"a": "b"},
    )

    def eps(self):
        return {
            self.SVC.key: (
                ep("10.244.2.2", port=53, name="dns", proto="UDP", pod="b"),
                ep("10.244.1.2", port=53, name="dns", proto="UDP", pod="a"),
                ep("10.244.1.2", port=53, name="dns-tcp", pod="a"),
                ep("10.244.3.3", ready=False, port=53, name="dns", proto="UDP", pod="c"),
            )
        }

    def test_record(self):
        assert endpoints_record([self.SVC], self.eps()) == {
            "default/dns": {"dns/UDP": ["10.244.1.2:53", "10.244.2.2:53"], "dns-tcp/TCP": ["10.244.1.2:53"]}
        }

    def test_round_trip_keeps_ready_addresses(self):
        back = endpoints_from_record(endpoints_record([self.SVC], self.eps()))
        assert back == {
            "default/dns": [
                Endpoint("10.244.1.2", 53, "", "", True, "dns", "UDP"),
                Endpoint("10.244.2.2", 53, "", "", True, "dns", "UDP"),
                Endpoint("10.244.1.2", 53, "", "", True, "dns-tcp", "TCP"),
            ]
        }
        assert endpoints_record([self.SVC], back) == endpoints_record([self.SVC], self.eps())

    def test_unnamed_port_and_service_without_endpoints(self):
        s = ServiceSpec("default", "x", "ClusterIP", "10.96.0.11", (ServicePort("", "TCP", 80, 8080),), {"a": "b"})
        rec = endpoints_record([s], {s.key: (ep("10.244.1.2", name=""),)})
        assert rec == {"default/x": {"/TCP": ["10.244.1.2:8080"]}}
        assert endpoints_from_record(rec) == {"default/x": [Endpoint("10.244.1.2", 8080, "", "", True, "", "TCP")]}
        assert endpoints_record([s], {}) == {"default/x": {"/TCP": []}}
        assert endpoints_from_record({"default/x": {"/TCP": []}}) == {}

    def test_udp_cleanup_for_a_removed_endpoint(self):
        old = self.eps()
        new = {self.SVC.key: tuple(e for e in old[self.SVC.key] if e.pod != "b")}
        assert udp_cleanup_lines([self.SVC], old, new) == [
            "conntrack -D -p udp --orig-dst 10.96.0.10 --dst-nat 10.244.2.2 >/dev/null 2>&1 || true"
        ]
        assert udp_cleanup_lines([self.SVC], old, old) == []

    def test_pod_infos_and_current_services(self):
        def view(name, ip, ready, labels):
            return SimpleNamespace(
                name=name,
                namespace="default",
                labels=labels,
                ip=ip,
                node="n1",
                observed=SimpleNamespace(ready=ready),
                ports=({"containerPort": 8080, "name": "http", "protocol": "TCP"},),
            )

        views = [
            view("w1", "10.244.1.5", True, {"app": "web"}),
            view("w2", "10.244.1.6", False, {"app": "web"}),
            view("w3", "", True, {"app": "web"}),
            view("o", "10.244.1.7", True, {"app": "other"}),
        ]
        infos = pod_infos(views)
        assert [(p.name, p.ip, p.ready) for p in infos] == [
            ("w1", "10.244.1.5", True),
            ("w2", "10.244.1.6", False),
            ("o", "10.244.1.7", True),
        ]
        assert infos[0].labels == (("app", "web"),) and infos[0].ports[0].name == "http"
        web = svc("web", ports=[{"name": "http", "port": 80, "targetPort": "http"}])
        specs, eps = current_services(
            [web, build_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})],
            {"default/web": {"clusterIP": "10.96.4.4", "type": "ClusterIP"}},
            CIDR,
            views,
        )
        assert [s.cluster_ip for s in specs] == ["10.96.4.4"]
        assert eps == {
            "default/web": (
                Endpoint("10.244.1.5", 8080, "w1", "n1", True, "http", "TCP"),
                Endpoint("10.244.1.6", 8080, "w2", "n1", False, "http", "TCP"),
            )
        }


# --------------------------------------------------------------------------- kube-proxy rules


def save_text(ns) -> str:
    """What iptables-save shows after the payloads were restored and the jumps inserted."""
    jumps = "".join(
        f"*{table}\n-A {chain} " + " ".join(ipt.quote(a) for a in args) + "\nCOMMIT\n"
        for table, chain, args in ipt.JUMP_RULES
    )
    return ns.nat + ns.filter + jumps


class TestNodeRules:
    WEB = ServiceSpec(
        "default", "web", "NodePort", "10.96.1.2", (ServicePort("http", "TCP", 80, 8080, 30080),), {"app": "web"}
    )
    EPS = {WEB.key: (ep("10.244.1.2"), ep("10.244.2.2", ready=False))}

    def test_empty_node_drifts(self):
        ns = node_rules([self.WEB], self.EPS, POD_CIDR, "")
        assert ns.nat.startswith("*nat\n") and ns.filter.startswith("*filter\n")
        assert ns.nat == ipt.render_nat([self.WEB], self.EPS, cluster_cidr=POD_CIDR, existing_chains=())
        assert ns.filter == ipt.render_filter([self.WEB], self.EPS)
        assert "nat chain KUBE-SERVICES missing" in ns.drift
        assert len([d for d in ns.drift if "jump missing" in d]) == len(ipt.JUMP_RULES)
        assert "10.244.2.2" not in ns.nat  # not ready: no KUBE-SEP

    def test_applied_rules_read_back_have_no_drift(self):
        first = node_rules([self.WEB], self.EPS, POD_CIDR, "")
        again = node_rules([self.WEB], self.EPS, POD_CIDR, save_text(first))
        assert again.drift == ()
        assert again.nat == first.nat and again.filter == first.filter

    def test_a_missing_jump_or_a_changed_endpoint_drifts(self):
        first = node_rules([self.WEB], self.EPS, POD_CIDR, "")
        text = save_text(first).replace("*nat\n-A PREROUTING", "*nat\n-A NOT-A-KUBE-CHAIN")
        assert node_rules([self.WEB], self.EPS, POD_CIDR, text).drift == (
            'nat PREROUTING: jump missing: -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        )
        moved = {self.WEB.key: (ep("10.244.1.3"),)}
        drift = node_rules([self.WEB], moved, POD_CIDR, save_text(first)).drift
        assert any("rule missing" in d and "10.244.1.3:8080" in d for d in drift)
        assert any(d.startswith("nat chain KUBE-SEP-") and d.endswith(" is stale") for d in drift)

    def test_rules_lines(self):
        ns = node_rules([self.WEB], self.EPS, POD_CIDR, "")
        nat, filt, jumps = rules_lines(ns)
        tail = " | base64 -d | iptables-restore -w 5 -W 100000 --noflush --counters"
        for line, payload in ((nat, ns.nat), (filt, ns.filter)):
            assert line == f"printf %s {base64.b64encode(payload.encode()).decode()}{tail}"
        assert jumps == ipt.render_jump_script().replace("set -e\n", "")
        assert not jumps.startswith("set -e")


# --------------------------------------------------------------------------- misc


def test_hairpin_line():
    assert hairpin_line() == (
        'for f in /sys/class/net/cni0/brif/*/hairpin_mode; do [ -e "$f" ] && echo 1 > "$f"; done; true'
    )


def test_probe_script_names_each_hop():
    s = ServiceSpec(
        "kube-system",
        "dns",
        "ClusterIP",
        "10.96.0.10",
        (ServicePort("dns", "UDP", 53, 53), ServicePort("dns-tcp", "TCP", 53, 53)),
        {"a": "b"},
    )
    hl = ServiceSpec("kube-system", "hl", "ClusterIP", "None", (ServicePort("x", "TCP", 1, 1),), {"a": "b"})
    script = probe_script([s, hl], {s.key: (ep("10.244.1.2", port=53, name="dns-tcp"),)}, 2)
    lines = script.splitlines()
    assert len(lines) == 1  # the UDP port and the headless service are not probed
    assert lines[0].startswith("v=fail; nc -w 2 10.96.0.10 53 </dev/null ")
    assert "e=fail; nc -w 2 10.244.1.2 53 </dev/null >/dev/null 2>&1 && e=ok; " in lines[0]
    assert "nslookup dns.kube-system.svc.cluster.local 2>/dev/null | grep -q 10.96.0.10 && d=ok; " in lines[0]
    assert lines[0].endswith("echo 'kube-system/dns|53'\"|$v|$e|$d\"")


class TestPodDns:
    """dnsPolicy and dnsConfig as kubelet turns them into the pod's resolv.conf (docker flags here)."""

    def spec(self, policy="ClusterFirst", config=None, host_network=False):
        from kcli.core.objects import build_pod_spec

        raw = {"containers": [{"name": "a", "image": "i"}], "dnsPolicy": policy, "hostNetwork": host_network}
        if config is not None:
            raw["dnsConfig"] = config
        return build_pod_spec(raw)

    def test_cluster_first_merges_dns_config(self):
        cfg = {
            "nameservers": ["192.0.2.53"],
            "searches": ["corp.example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
        }
        assert pod_dns_args(self.spec(config=cfg), "prod", "10.244.3.0/24") == [
            "--dns",
            "10.244.3.1",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "prod.svc.cluster.local",
            "--dns-search",
            "svc.cluster.local",
            "--dns-search",
            "cluster.local",
            "--dns-search",
            "corp.example",
            "--dns-option",
            "ndots:2",
            "--dns-option",
            "edns0",
        ]  # the pod's ndots wins, as in Kubernetes

    def test_none_is_dns_config_alone_default_is_the_node_s_and_host_network_keeps_the_node_s(self):
        cfg = {"nameservers": ["192.0.2.53", "192.0.2.54", "192.0.2.55"], "searches": ["a.example"]}
        assert pod_dns_args(self.spec("None", cfg), "prod", "10.244.3.0/24") == [
            "--dns",
            "192.0.2.53",
            "--dns",
            "192.0.2.54",
            "--dns",
            "192.0.2.55",
            "--dns-search",
            "a.example",
        ]
        assert pod_dns_args(self.spec("Default"), "prod", "10.244.3.0/24") == []
        assert pod_dns_args(self.spec(host_network=True), "prod", "10.244.3.0/24") == []

    def test_validation(self):
        from tests.unit.test_validate import check, messages

        _, errors, _ = check("""
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              dnsPolicy: "None"
              dnsConfig: {nameservers: [not-an-ip], searches: ["bad_domain"], options: [{value: "1"}]}
              containers: [{name: a, image: i}]
        """)
        text = "\n".join(messages(errors))
        assert 'spec.dnsConfig.nameservers[0]: invalid value "not-an-ip": must be a valid IP address' in text
        assert "spec.dnsConfig.searches[0]" in text and "spec.dnsConfig.options[0].name" in text
        _, errors, _ = check("""
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec: {dnsPolicy: "None", containers: [{name: a, image: i}]}
        """)
        assert "must provide at least one DNS nameserver when `dnsPolicy` is None" in "\n".join(messages(errors))
