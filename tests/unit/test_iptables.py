"""kube-proxy-compatible iptables rendering, parsing and drift detection.

Golden fixtures in fixtures/iptables/ come from a real iptables v1.8.9 (nf_tables) in a scratch
network namespace (see fixtures/iptables/regenerate.py): ``*.restore`` is what kcli rendered and
applied, ``*.save`` is ``iptables-save`` afterwards.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest

from kcli.core import conntrack
from kcli.core import iptables as ipt
from kcli.core.services import Endpoint, ServicePort, ServiceSpec

FIXTURES = Path(__file__).parent / "fixtures" / "iptables"
CIDR = "10.244.0.0/16"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def web(affinity: str = "None", node_port: int | None = 30080, cluster_ip: str = "10.96.12.34") -> ServiceSpec:
    return ServiceSpec(
        "default",
        "web",
        "NodePort" if node_port else "ClusterIP",
        cluster_ip,
        (ServicePort("http", "TCP", 80, 8080, node_port),),
        {"app": "web"},
        affinity,
    )


def eps(
    *ips: str, port: int = 8080, name: str = "http", ready: bool = True, proto: str = "TCP"
) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(ip, port, f"pod-{ip}", "n1", ready, name, proto) for ip in ips)


WEB_EPS = eps("10.244.3.9", "10.244.1.5", "10.244.2.7")  # deliberately unsorted


def rules_of(payload: str, chain: str) -> list[str]:
    return ipt.parse_iptables_save(payload).get(payload.split()[0][1:], {}).get(chain, [])


class TestHashing:
    def test_upstream_fixtures(self):
        assert ipt.service_chain("ns1/svc1:p80", "tcp") == "KUBE-SVC-XPGD46QRK7WJZT7O"
        assert ipt.endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
        assert ipt.service_chain("kube-system/kube-dns:dns", "UDP") == "KUBE-SVC-TCOU7JCQXEZGVUNU"

    def test_reference_examples_and_shared_hash(self):
        spn = ipt.service_port_name("default", "web", "http")
        assert spn == "default/web:http"
        assert ipt.service_chain(spn, "TCP") == "KUBE-SVC-CDGGSHYLG3RE2FKL"
        assert ipt.external_chain(spn, "tcp") == "KUBE-EXT-CDGGSHYLG3RE2FKL"
        assert ipt.local_chain(spn, "tcp") == "KUBE-SVL-CDGGSHYLG3RE2FKL"
        assert ipt.firewall_chain(spn, "tcp") == "KUBE-FW-CDGGSHYLG3RE2FKL"
        assert ipt.endpoint_chain(spn, "tcp", "10.244.1.5:8080") == "KUBE-SEP-AFGSLHOD2HFNCBX4"
        assert ipt.service_port_name("default", "web") == "default/web"

    def test_names_fit_iptables_limit(self):
        assert len(ipt.endpoint_chain("a-very-long-namespace/a-very-long-name:port", "sctp", "[fd00::1]:80")) <= 28


class TestReferencePayload:
    def test_section_1_10_is_reproduced_byte_for_byte(self):
        s = web()
        payload = ipt.render_filter([s], {s.key: WEB_EPS}) + ipt.render_nat([s], {s.key: WEB_EPS}, "node-1", CIDR)
        assert payload == fixture("reference-1.10.restore")

    def test_cluster_policy_payload_is_node_independent(self):
        s = web()
        assert ipt.render_nat([s], {s.key: WEB_EPS}, "a", CIDR) == ipt.render_nat([s], {s.key: WEB_EPS}, "b", CIDR)

    def test_client_ip_affinity_variant_of_the_reference(self):
        s = web("ClientIP")
        nat = ipt.render_nat([s], {s.key: WEB_EPS}, None, CIDR)
        svc_rules = rules_of(nat, "KUBE-SVC-CDGGSHYLG3RE2FKL")
        assert svc_rules[1] == (
            '-m comment --comment "default/web:http -> 10.244.1.5:8080" -m recent '
            "--name KUBE-SEP-AFGSLHOD2HFNCBX4 --rcheck --seconds 10800 --reap -j KUBE-SEP-AFGSLHOD2HFNCBX4"
        )
        assert [r.split("-j ")[-1] for r in svc_rules[1:4]] == [
            "KUBE-SEP-AFGSLHOD2HFNCBX4",
            "KUBE-SEP-2RIJ5GIYXEFH6G4D",
            "KUBE-SEP-RBX5X5TOEG5GD3RO",
        ]
        assert "--probability 0.3333333333" in svc_rules[4]
        assert rules_of(nat, "KUBE-SEP-AFGSLHOD2HFNCBX4")[1] == (
            "-m comment --comment default/web:http -m recent --name KUBE-SEP-AFGSLHOD2HFNCBX4 --set "
            "-m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080"
        )

    def test_affinity_timeout_is_rendered(self):
        s = ServiceSpec(
            "default", "web", "ClusterIP", "10.96.0.5", (ServicePort("", "TCP", 80, 80),), {"app": "w"}, "ClientIP", 600
        )
        nat = ipt.render_nat([s], {s.key: eps("10.244.1.5", port=80, name="")}, None, CIDR)
        assert "--rcheck --seconds 600 --reap" in nat


class TestLoadBalancing:
    @pytest.mark.parametrize(
        "n,expected",
        [
            (1, []),
            (2, ["0.5000000000"]),
            (3, ["0.3333333333", "0.5000000000"]),
            (4, ["0.2500000000", "0.3333333333", "0.5000000000"]),
            (5, ["0.2000000000", "0.2500000000", "0.3333333333", "0.5000000000"]),
        ],
    )
    def test_probabilities_like_kube_proxy(self, n, expected):
        s = web(node_port=None)
        ips = [f"10.244.{i}.2" for i in range(1, n + 1)]
        nat = ipt.render_nat([s], {s.key: eps(*ips)}, None, CIDR)
        lb = rules_of(nat, ipt.service_chain("default/web:http", "tcp"))[1:]
        assert len(lb) == n
        got = [shlex.split(r)[shlex.split(r).index("--probability") + 1] for r in lb if "--probability" in r]
        assert got == expected
        assert "statistic" not in lb[-1]  # the last endpoint takes whatever is left
        # each endpoint ends up with 1/n of the traffic
        remaining, shares = 1.0, []
        for p in [float(x) for x in got] + [1.0]:
            shares.append(remaining * p)
            remaining -= remaining * p
        assert shares == pytest.approx([1 / n] * n, abs=1e-9)

    def test_endpoints_sorted_numerically_and_not_ready_skipped(self):
        s = web(node_port=None)
        e = eps("10.244.10.1", "10.244.9.1") + eps("10.244.1.1", ready=False)
        nat = ipt.render_nat([s], {s.key: e}, None, CIDR)
        lb = rules_of(nat, "KUBE-SVC-CDGGSHYLG3RE2FKL")[1:]
        assert ["10.244.9.1" in lb[0], "10.244.10.1" in lb[1], len(lb)] == [True, True, 2]
        assert "10.244.1.1" not in nat


class TestNoEndpoints:
    def test_reject_in_filter_and_no_nat_chains(self):
        s = web()
        for endpoints in ({}, {s.key: eps("10.244.1.5", ready=False)}):
            flt = ipt.render_filter([s], endpoints)
            nat = ipt.render_nat([s], endpoints, None, CIDR)
            assert rules_of(flt, "KUBE-SERVICES") == [
                '-m comment --comment "default/web:http has no endpoints" -m tcp -p tcp -d 10.96.12.34 --dport 80 -j REJECT'
            ]
            assert rules_of(flt, "KUBE-EXTERNAL-SERVICES") == [
                '-m comment --comment "default/web:http has no endpoints" -m addrtype --dst-type LOCAL '
                "-m tcp -p tcp --dport 30080 -j REJECT"
            ]
            assert "KUBE-SVC-" not in nat and "KUBE-SEP-" not in nat and "KUBE-EXT-" not in nat
            assert rules_of(nat, "KUBE-NODEPORTS") == []

    def test_with_endpoints_filter_has_only_forward_rules(self):
        s = web()
        flt = ipt.render_filter([s], {s.key: WEB_EPS})
        assert rules_of(flt, "KUBE-SERVICES") == [] and len(rules_of(flt, "KUBE-FORWARD")) == 3
        liberal = ipt.render_filter([s], {s.key: WEB_EPS}, conntrack_tcp_be_liberal=True)
        assert "INVALID" not in liberal


class TestVariants:
    def test_headless_services_get_no_rules(self):
        s = ServiceSpec("default", "db", "ClusterIP", "None", (ServicePort("", "TCP", 5432, 5432),), {"app": "db"})
        e = {s.key: eps("10.244.1.5", port=5432, name="")}
        assert ipt.render_nat([s], e, None, CIDR) == ipt.render_nat([], {}, None, CIDR)
        assert ipt.render_filter([s], {}) == ipt.render_filter([], {})

    def test_unallocated_cluster_ip_is_a_caller_bug(self):
        with pytest.raises(ValueError, match="no clusterIP"):
            ipt.render_nat([web(cluster_ip="")], {}, None, CIDR)

    def test_udp_service(self):
        s = ServiceSpec(
            "kube-system",
            "kube-dns",
            "ClusterIP",
            "10.96.0.10",
            (ServicePort("dns", "UDP", 53, 53),),
            {"k8s-app": "kube-dns"},
        )
        nat = ipt.render_nat([s], {s.key: eps("10.244.1.2", port=53, name="dns", proto="UDP")}, None, CIDR)
        assert (
            '-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp -p udp '
            "-d 10.96.0.10 --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU"
        ) in nat
        assert "-m udp -p udp -j DNAT --to-destination 10.244.1.2:53" in nat

    def test_masquerade_modes(self):
        s = web(node_port=None)
        e = {s.key: WEB_EPS}
        chain = "KUBE-SVC-CDGGSHYLG3RE2FKL"
        first = rules_of(ipt.render_nat([s], e, None, CIDR), chain)[0]
        assert first.endswith("! -s 10.244.0.0/16 -j KUBE-MARK-MASQ")
        all_ = rules_of(ipt.render_nat([s], e, None, CIDR, masquerade_all=True), chain)[0]
        assert all_.endswith("--dport 80 -j KUBE-MARK-MASQ")
        none = rules_of(ipt.render_nat([s], e, None, None), chain)
        assert "KUBE-MARK-MASQ" not in " ".join(none) and len(none) == 3

    def test_hairpin_masquerade_in_every_endpoint_chain(self):
        s = web()
        nat = ipt.render_nat([s], {s.key: WEB_EPS}, None, CIDR)
        for e in WEB_EPS:
            chain = ipt.endpoint_chain("default/web:http", "tcp", e.address)
            assert rules_of(nat, chain)[0] == f"-m comment --comment default/web:http -s {e.ip} -j KUBE-MARK-MASQ"

    def test_options(self):
        s = web()
        nat = ipt.render_nat([s], {s.key: WEB_EPS}, None, CIDR, random_fully=False, localhost_nodeports=False)
        assert "-j MASQUERADE\n" in nat
        assert rules_of(nat, "KUBE-SERVICES")[-1] == (
            '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" '
            "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
        )

    def test_nodeports_tail_rule_is_last_with_many_services(self):
        a, b = (
            web(),
            ServiceSpec("default", "api", "ClusterIP", "10.96.0.7", (ServicePort("", "TCP", 80, 80),), {"a": "b"}),
        )
        nat = ipt.render_nat([a, b], {a.key: WEB_EPS, b.key: eps("10.244.1.9", port=80, name="")}, None, CIDR)
        services = [r for r in nat.splitlines() if r.startswith("-A KUBE-SERVICES")]
        assert len(services) == 3 and "NOTE: this must be the last rule" in services[-1]
        assert "default/api cluster IP" in services[0]  # services in a stable, sorted order


class TestStaleChains:
    def test_unwanted_service_chains_are_declared_and_deleted(self):
        s = web(node_port=None)
        existing = [
            "KUBE-SVC-CDGGSHYLG3RE2FKL",
            "KUBE-SEP-AFGSLHOD2HFNCBX4",
            "KUBE-SEP-OLDOLDOLDOLDOLDO",
            "KUBE-EXT-CDGGSHYLG3RE2FKL",
            "KUBE-SVL-ZZZZZZZZZZZZZZZZ",
            "KUBE-FW-ZZZZZZZZZZZZZZZZ",
            "KUBE-FIREWALL",
            "KUBE-PROXY-CANARY",
            "KUBE-SERVICES",
            "DOCKER",
        ]
        nat = ipt.render_nat([s], {s.key: WEB_EPS}, None, CIDR, existing_chains=existing)
        deleted = [line.split()[1] for line in nat.splitlines() if line.startswith("-X ")]
        assert deleted == [
            "KUBE-EXT-CDGGSHYLG3RE2FKL",
            "KUBE-FW-ZZZZZZZZZZZZZZZZ",
            "KUBE-SEP-OLDOLDOLDOLDOLDO",
            "KUBE-SVL-ZZZZZZZZZZZZZZZZ",
        ]
        for chain in deleted:
            assert f":{chain} - [0:0]" in nat  # declared (flushed) before -X, as iptables needs
        assert nat.index("-X ") < nat.index("NOTE: this must be the last rule")

    def test_accepts_the_parsed_observed_chains(self):
        observed = ipt.parse_iptables_save(fixture("mixed.nat.save"))
        nat = ipt.render_nat([], {}, None, CIDR, existing_chains=observed["nat"])
        assert nat.count("-X ") == sum(ipt.is_service_chain(c) for c in observed["nat"]) == 5 + 1 + 12

    def test_stale_fixture_really_lost_the_deleted_chains(self):
        # web deleted and five scaled 5 -> 2 between mixed and stale (see regenerate.py)
        before = ipt.parse_iptables_save(fixture("mixed.nat.save"))["nat"]
        after = ipt.parse_iptables_save(fixture("stale.nat.save"))["nat"]
        gone = {c for c in before if c not in after}
        assert {c for c in gone if "CDGGSHYLG3RE2FKL" in c} == {
            "KUBE-SVC-CDGGSHYLG3RE2FKL",
            "KUBE-EXT-CDGGSHYLG3RE2FKL",
        }
        assert len([c for c in gone if c.startswith("KUBE-SEP-")]) == 3 + 3
        assert not [c for c in after if c not in before]
        assert "KUBE-FIREWALL" in ipt.parse_iptables_save(fixture("stale.filter.save"))["filter"]  # kubelet's, kept

    def test_teardown_payload(self):
        nat = ipt.render_teardown_nat(["KUBE-SVC-A", "KUBE-SEP-B", "KUBE-FIREWALL"])
        assert nat == (
            "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-POSTROUTING - [0:0]\n"
            ":KUBE-MARK-MASQ - [0:0]\n:KUBE-SEP-B - [0:0]\n:KUBE-SVC-A - [0:0]\n-X KUBE-SEP-B\n-X KUBE-SVC-A\nCOMMIT\n"
        )


class TestJumps:
    def test_jump_rules_match_the_reference(self):
        as_text = [f"{t} {c} " + " ".join(ipt.quote(a) for a in args) for t, c, args in ipt.JUMP_RULES]
        assert 'nat PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in as_text
        assert 'nat POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING' in as_text
        assert (
            'filter FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" '
            "-j KUBE-SERVICES"
        ) in as_text
        assert 'filter FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD' in as_text
        assert len(ipt.JUMP_RULES) == 12 and len(ipt.jump_rules(["nat"])) == 3

    def test_script_is_check_then_insert(self):
        script = ipt.render_jump_script(ipt.jump_rules(["nat"]))
        lines = script.splitlines()
        assert lines[0] == "set -e"
        assert lines[1] == "iptables -w -t nat -N KUBE-SERVICES 2>/dev/null || true"
        assert lines[2] == (
            "iptables -w -t nat -C OUTPUT -m comment --comment 'kubernetes service portals' "
            "-j KUBE-SERVICES 2>/dev/null || iptables -w -t nat -I OUTPUT -m comment --comment "
            "'kubernetes service portals' -j KUBE-SERVICES"
        )
        assert sum(" -N " in line for line in lines) == 2  # KUBE-SERVICES once, KUBE-POSTROUTING once

    def test_argv_pair(self):
        check, insert = ipt.ensure_jump_argvs(ipt.JUMP_RULES[-1])
        assert check == (
            "iptables",
            "-w",
            "-t",
            "nat",
            "-C",
            "POSTROUTING",
            "-m",
            "comment",
            "--comment",
            "kubernetes postrouting rules",
            "-j",
            "KUBE-POSTROUTING",
        )
        assert insert[:6] == ("iptables", "-w", "-t", "nat", "-I", "POSTROUTING") and insert[6:] == check[6:]

    def test_restore_and_save_argv(self):
        assert ipt.restore_argv() == ("iptables-restore", "-w", "5", "-W", "100000", "--noflush", "--counters")
        assert ipt.save_argv("nat") == ("iptables-save", "-t", "nat")


class TestParse:
    def test_keeps_kube_chains_and_jumps_into_them_only(self):
        parsed = ipt.parse_iptables_save(fixture("stale.nat.save"))
        nat = parsed["nat"]
        assert "DOCKER" not in nat
        assert nat["PREROUTING"] == ['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES']
        assert nat["POSTROUTING"] == ['-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING']
        assert nat["KUBE-MARK-MASQ"] == ["-j MARK --set-xmark 0x4000/0x4000"]
        flt = ipt.parse_iptables_save(fixture("stale.filter.save"))["filter"]
        assert "-j KUBE-FIREWALL" in flt["INPUT"] and "DOCKER-USER" not in flt
        assert not any("DOCKER" in r for r in flt["FORWARD"])

    def test_empty_chains_counters_and_comments(self):
        text = (
            "# Generated by iptables-save\n*nat\n:PREROUTING ACCEPT [5:300]\n:KUBE-NODEPORTS - [0:0]\n"
            '[3:180] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n'
            "[0:0] -A PREROUTING -j DOCKER\nCOMMIT\n"
        )
        assert ipt.parse_iptables_save(text) == {
            "nat": {
                "KUBE-NODEPORTS": [],
                "PREROUTING": ['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
            }
        }
        assert ipt.parse_iptables_save("") == {}

    def test_payload_x_removes_the_chain(self):
        parsed = ipt.parse_iptables_save(
            "*nat\n:KUBE-SEP-OLD - [0:0]\n:KUBE-SERVICES - [0:0]\n-X KUBE-SEP-OLD\nCOMMIT\n"
        )
        assert parsed == {"nat": {"KUBE-SERVICES": []}}


class TestNormalize:
    @pytest.mark.parametrize(
        "rendered,saved",
        [
            (
                '-m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.12.34 --dport 80 -j KUBE-SVC-X',
                '-d 10.96.12.34/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-X',
            ),
            (
                "-m comment --comment x -m statistic --mode random --probability 0.3333333333 -j A",
                '-m comment --comment "x" -m statistic --mode random --probability 0.33333333349 -j A',
            ),
            (
                "-m comment --comment x -m statistic --mode random --probability 0.2000000000 -j A",
                '-m comment --comment "x" -m statistic --mode random --probability 0.20000000019 -j A',
            ),
            ("-j MARK --or-mark 0x4000", "-j MARK --set-xmark 0x4000/0x4000"),
            ("-j MARK --xor-mark 0x4000", "-j MARK --set-xmark 0x4000/0x0"),
            (
                "-m comment --comment x -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT",
                '-d 1.2.3.4/32 -p tcp -m comment --comment "x" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
            ),
            (
                "-m comment --comment s -m recent --name KUBE-SEP-A --set -m tcp -p tcp -j DNAT --to-destination 1.2.3.4:80",
                '-p tcp -m comment --comment "s" -m recent --set --name KUBE-SEP-A --mask 255.255.255.255 --rsource '
                "-m tcp -j DNAT --to-destination 1.2.3.4:80",
            ),
            (
                "-m comment --comment x -m tcp -p tcp -d 10.0.0.1 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ",
                '! -s 10.244.0.0/16 -d 10.0.0.1/32 -p tcp -m comment --comment "x" -m tcp --dport 80 -j KUBE-MARK-MASQ',
            ),
        ],
    )
    def test_rendered_and_saved_forms_compare_equal(self, rendered, saved):
        assert ipt.normalize_rule(rendered) == ipt.normalize_rule(saved)

    @pytest.mark.parametrize(
        "a,b",
        [
            (
                "-m statistic --mode random --probability 0.3333333333 -j A",
                "-m statistic --mode random --probability 0.5 -j A",
            ),
            ("-m tcp -p tcp --dport 80 -j A", "-m tcp -p tcp --dport 81 -j A"),
            ("-m tcp -p tcp --dport 80 -j A", "-m udp -p udp --dport 80 -j A"),
            ("-s 10.0.0.1 -j A", "! -s 10.0.0.1 -j A"),
            ("-m mark --mark 0x4000/0x4000 -j RETURN", "-m mark ! --mark 0x4000/0x4000 -j RETURN"),
            ("-j DNAT --to-destination 1.2.3.4:80", "-j DNAT --to-destination 1.2.3.5:80"),
            ("-m comment --comment x -j A", "-m comment --comment y -j A"),
        ],
    )
    def test_real_differences_stay_different(self, a, b):
        assert ipt.normalize_rule(a) != ipt.normalize_rule(b)


class TestDiff:
    @pytest.mark.parametrize("scenario", ["example", "mixed", "stale"])
    def test_rendered_payload_equals_what_iptables_save_reads_back(self, scenario):
        desired = ipt.expected_rules([fixture(f"{scenario}.filter.restore"), fixture(f"{scenario}.nat.restore")])
        observed = ipt.parse_iptables_save(fixture(f"{scenario}.filter.save") + fixture(f"{scenario}.nat.save"))
        assert ipt.diff_rules(desired, observed) == []

    def test_fixture_restore_payloads_are_what_kcli_renders_today(self):
        s = web()
        e = {s.key: WEB_EPS}
        assert fixture("example.nat.restore") == ipt.render_nat([s], e, None, CIDR)
        assert fixture("example.filter.restore") == ipt.render_filter([s], e)

    def _observed(self) -> ipt.Parsed:
        return ipt.parse_iptables_save(fixture("example.filter.save") + fixture("example.nat.save"))

    def _desired(self) -> ipt.Parsed:
        return ipt.expected_rules([fixture("example.filter.restore"), fixture("example.nat.restore")])

    def test_hand_deleted_chain_and_rules_are_reported(self):
        observed = self._observed()
        del observed["nat"]["KUBE-SEP-AFGSLHOD2HFNCBX4"]
        observed["nat"]["KUBE-SVC-CDGGSHYLG3RE2FKL"].pop(1)
        observed["nat"]["PREROUTING"] = []
        problems = ipt.diff_rules(self._desired(), observed)
        assert "nat chain KUBE-SEP-AFGSLHOD2HFNCBX4 missing" in problems
        assert (
            'nat chain KUBE-SVC-CDGGSHYLG3RE2FKL: rule missing: -m comment --comment "default/web:http -> '
            '10.244.1.5:8080" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-AFGSLHOD2HFNCBX4'
        ) in problems
        assert (
            'nat PREROUTING: jump missing: -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
            in problems
        )
        assert len(problems) == 3

    def test_changed_extra_stale_and_duplicate_are_reported(self):
        observed = self._observed()
        svc = observed["nat"]["KUBE-SVC-CDGGSHYLG3RE2FKL"]
        svc[1] = svc[1].replace("0.33333333349", "0.50000000000")
        observed["nat"]["KUBE-NODEPORTS"].append("-p tcp -m tcp --dport 31000 -j KUBE-EXT-CDGGSHYLG3RE2FKL")
        observed["nat"]["KUBE-SEP-LEFTOVERLEFTOVER"] = []
        observed["nat"]["KUBE-PROXY-CANARY"] = []  # not ours: ignored
        observed["nat"]["OUTPUT"] = observed["nat"]["OUTPUT"] * 2
        problems = ipt.diff_rules(self._desired(), observed)
        assert any(
            p.startswith("nat chain KUBE-SVC-CDGGSHYLG3RE2FKL: rule missing:") and "0.3333333333" in p for p in problems
        )
        assert any(
            p.startswith("nat chain KUBE-SVC-CDGGSHYLG3RE2FKL: unexpected rule:") and "0.50000000000" in p
            for p in problems
        )
        assert (
            "nat chain KUBE-NODEPORTS: unexpected rule: -p tcp -m tcp --dport 31000 -j KUBE-EXT-CDGGSHYLG3RE2FKL"
            in problems
        )
        assert "nat chain KUBE-SEP-LEFTOVERLEFTOVER is stale" in problems
        assert (
            'nat OUTPUT: jump present 2 times: -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
            in problems
        )
        assert len(problems) == 5

    def test_reordered_rules_are_reported(self):
        observed = self._observed()
        observed["nat"]["KUBE-SEP-AFGSLHOD2HFNCBX4"].reverse()
        assert ipt.diff_rules(self._desired(), observed) == [
            "nat chain KUBE-SEP-AFGSLHOD2HFNCBX4: rules differ in order or count"
        ]

    def test_empty_node_reports_every_chain(self):
        problems = ipt.diff_rules(self._desired(), {})
        assert "nat chain KUBE-SERVICES missing" in problems and "filter chain KUBE-FORWARD missing" in problems
        assert len([p for p in problems if "jump missing" in p]) == len(ipt.JUMP_RULES)


class TestConntrack:
    DNS = ServiceSpec(
        "kube-system",
        "kube-dns",
        "NodePort",
        "10.96.0.10",
        (ServicePort("dns", "UDP", 53, 53, 30053), ServicePort("dns-tcp", "TCP", 53, 53)),
        {"a": "b"},
    )

    def _eps(self, *ips: str) -> dict[str, tuple[Endpoint, ...]]:
        out: tuple[Endpoint, ...] = ()
        for ip in ips:
            out += eps(ip, port=53, name="dns", proto="UDP") + eps(ip, port=53, name="dns-tcp")
        return {self.DNS.key: out}

    def test_builders(self):
        assert conntrack.clear_endpoint("10.96.0.10", "10.244.1.2") == (
            "conntrack",
            "-D",
            "-p",
            "udp",
            "--orig-dst",
            "10.96.0.10",
            "--dst-nat",
            "10.244.1.2",
        )
        assert conntrack.clear_service_ip("10.96.0.10") == ("conntrack", "-D", "-p", "udp", "--orig-dst", "10.96.0.10")
        assert conntrack.clear_node_port(30053) == ("conntrack", "-D", "-p", "udp", "--dport", "30053")
        assert conntrack.OK_EXIT_CODES == (0, 1)

    def test_removed_udp_endpoint_is_cleared(self):
        got = conntrack.udp_conntrack_cleanup(
            [self.DNS], self._eps("10.244.1.2", "10.244.2.2"), self._eps("10.244.2.2")
        )
        assert got == (
            conntrack.clear_endpoint("10.96.0.10", "10.244.1.2"),
            conntrack.clear_node_port_endpoint(30053, "10.244.1.2"),
        )

    def test_first_endpoint_clears_the_service(self):
        got = conntrack.udp_conntrack_cleanup([self.DNS], {}, self._eps("10.244.2.2"))
        assert got == (conntrack.clear_service_ip("10.96.0.10"), conntrack.clear_node_port(30053))

    def test_nothing_for_unchanged_tcp_or_headless(self):
        same = self._eps("10.244.2.2")
        assert conntrack.udp_conntrack_cleanup([self.DNS], same, same) == ()
        tcp = web()
        assert conntrack.udp_conntrack_cleanup([tcp], {tcp.key: WEB_EPS}, {}) == ()
        headless = ServiceSpec("d", "h", "ClusterIP", "None", (ServicePort("", "UDP", 53, 53),), {"a": "b"})
        assert (
            conntrack.udp_conntrack_cleanup([headless], {headless.key: eps("10.244.1.1", name="", proto="UDP")}, {})
            == ()
        )


def test_core_modules_are_pure():
    forbidden = {"os", "subprocess", "socket", "time", "random", "fabric", "paramiko", "pathlib", "datetime"}
    root = Path(__file__).resolve().parents[2] / "kcli" / "core"
    for name in ("iptables.py", "services.py", "conntrack.py"):
        tree = ast.parse((root / name).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert not imported & forbidden, (name, imported & forbidden)


def test_split_rule_is_shlex_split_for_what_iptables_save_prints():
    import random
    import shlex

    from kcli.core.iptables import split_rule

    saved = (
        '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" '
        "-m tcp --dport 443 -j KUBE-SVC-X"
    )
    assert split_rule(saved) == shlex.split(saved)
    rng = random.Random(7)
    for _ in range(5000):  # random words of quotes, spaces and letters: same words, same errors
        text = "".join(rng.choice("ab \"-/'\\") for _ in range(rng.randint(0, 14)))
        try:
            want = shlex.split(text)
        except ValueError:
            want = None
        try:
            got = split_rule(text)
        except ValueError:
            got = None
        assert got == want, text
