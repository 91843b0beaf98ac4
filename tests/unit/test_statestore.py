"""StateStore: one commit per change, each raising the state's generation by one."""

from __future__ import annotations

from kcli.core.state import empty_state
from kcli.shell.statestore import StateStore


def test_each_commit_raises_the_generation_and_no_change_commits_nothing(tmp_path):
    store = StateStore(tmp_path / "state", "c")
    st = empty_state("c")
    assert store.save(st, "first") is not None and store.load()["generation"] == 1
    assert store.save(store.load(), "again") is None and store.load()["generation"] == 1
    changed = {**store.load(), "pods": {"default/a": {"node": "n1"}}}
    assert store.save(changed, "pods") is not None and store.load()["generation"] == 2
    assert store.save(changed, "rebuilt", generation=7) is not None and store.load()["generation"] == 7
    assert len(store.log()) == 3
