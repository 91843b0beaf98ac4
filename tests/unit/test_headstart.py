"""kcli.shell.headstart: which command lines get a head start, and that only the same cluster takes it."""

from __future__ import annotations

import pytest

from kcli.cli.kinds import KINDS
from kcli.shell import headstart
from kcli.shell.headstart import _NODES, _STATE_ONLY, HeadStart, head_start


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (["apply", "-f", "web.yaml"], HeadStart("apply", None, None)),
        (["apply", "-f", "w.yaml", "-i", "inv.yaml", "--state", "st"], HeadStart("apply", "inv.yaml", "st")),
        (["apply", "-iinv.yaml", "--state=st", "-f", "w.yaml"], HeadStart("apply", "inv.yaml", "st")),
        (["apply", "--inventory=a.yaml", "--inventory", "b.yaml"], HeadStart("apply", "b.yaml", None)),
        (["apply", "--dry-run=client", "-f", "w.yaml"], None),
        (["apply", "--dry-run", "client", "-f", "w.yaml"], None),
        (["apply", "--dry-run", "-f", "w.yaml"], HeadStart("apply", None, None)),  # kubectl's bare --dry-run: server
        (["apply", "-f", "w.yaml", "--help"], None),
        (["get", "nodes"], HeadStart("nodes", None, None)),
        (["get", "-o", "wide", "no", "-i", "x.yaml"], HeadStart("nodes", "x.yaml", None)),
        (["get", "pods", "-n", "kube-system"], HeadStart("view", None, None)),
        (["get", "-n", "pods", "deploy"], HeadStart("view", None, None)),  # -n's value is not the kind
        (["get", "svc,cm"], None),  # read from the state alone
        (["get", "pods", "-w"], None),
        (["get"], None),
        (["delete", "-f", "w.yaml", "--state", "st"], HeadStart("apply", None, "st")),
        (["describe", "pod", "web-1"], HeadStart("connect", None, None)),
        (["exec", "-i", "web-1", "--", "sh"], None),  # -i is --stdin there; exec has no head start
        (["bootstrap"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_head_start(argv, want):
    assert head_start(argv) == want


def test_the_state_only_kinds_are_the_registrys():
    for kind in KINDS:
        for name in (kind.plural, kind.kind.lower(), *kind.short):
            assert (name in _STATE_ONLY or name in _NODES) == (not kind.needs_pods), name


def test_take_hands_over_the_cluster_only_for_the_same_arguments(tmp_path, monkeypatch):
    inv = tmp_path / "inv.yaml"
    # a closed port on this machine: the background connect fails fast, nothing leaves the host
    inv.write_text(
        "cluster: t\ndefaults: {user: root, port: 9, connect_timeout: 0.5}\nhosts:\n- {name: n1, address: 127.0.0.1}\n"
    )
    monkeypatch.setenv("KCLI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KCLI_HEAD_START", raising=False)
    headstart.begin(["describe", "pod", "x", "-i", str(inv)])
    assert headstart.take(str(inv), "elsewhere") is None  # another state: not this cluster
    assert headstart.take(str(inv), None) is None  # taken once only
    headstart.begin(["describe", "pod", "x", "-i", str(inv)])
    cluster = headstart.take(str(inv), None)
    assert cluster is not None and [h.name for h in cluster.inv.hosts] == ["n1"]
    cluster.close()


def test_it_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("KCLI_HEAD_START", "0")
    headstart.begin(["apply", "-f", "w.yaml"])
    assert headstart.take(None, None) is None
