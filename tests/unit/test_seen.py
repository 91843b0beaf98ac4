"""When this machine last saw each node answer (the evidence eviction counts from)."""

from __future__ import annotations

from kcli.shell.seen import load_seen, mark_seen


def test_seen_nodes_are_kept_and_a_never_seen_lost_node_counts_from_its_first_notice(tmp_path, monkeypatch):
    monkeypatch.setenv("KCLI_HOME", str(tmp_path))
    assert load_seen("c") == {}
    mark_seen("c", ["n1", "n2"], 100.0)
    mark_seen("c", ["n1"], 200.0, unreachable=["n2", "n3"])  # n2 was seen at 100; n3 never: from now
    assert load_seen("c") == {"n1": 200.0, "n2": 100.0, "n3": 200.0}
    mark_seen("c", ["n1"], 300.0, unreachable=["n3"])
    assert load_seen("c")["n3"] == 200.0  # the first notice stays
    assert load_seen("other") == {}
