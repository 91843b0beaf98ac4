"""StateStore: one commit per change, each raising the state's generation by one."""

from __future__ import annotations

import subprocess

import pytest

from kcli.core.state import empty_state
from kcli.shell.statestore import StateStore, commit_id


def test_each_commit_raises_the_generation_and_no_change_commits_nothing(tmp_path):
    store = StateStore(tmp_path / "state", "c")
    st = empty_state("c")
    assert store.save(st, "first") is not None and store.load()["generation"] == 1
    assert store.save(store.load(), "again") is None and store.load()["generation"] == 1
    changed = {**store.load(), "pods": {"default/a": {"node": "n1"}}}
    assert store.save(changed, "pods") is not None and store.load()["generation"] == 2
    assert store.save(changed, "rebuilt", generation=7) is not None and store.load()["generation"] == 7
    assert len(store.log()) == 3


def test_the_commit_id_is_the_one_git_made(tmp_path):
    store = StateStore(tmp_path / "st", "c")
    first = store.save({**empty_state("c"), "pods": {}}, "first")
    head = subprocess.run(
        ["git", "-C", str(store.dir), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    )
    assert first == head.stdout.strip()
    log = subprocess.run(["git", "-C", str(store.dir), "log", "--format=%s"], capture_output=True, text=True)
    assert log.stdout.split() == ["first"]


def test_files_back_at_the_last_commit_commit_nothing(tmp_path):
    store = StateStore(tmp_path / "st", "c")
    store.save(empty_state("c"), "first")
    committed = store.path.read_text()
    store.path.write_text(committed + "# edited by hand\n")  # not committed
    extra = {"notes.txt": "x\n"}
    assert store.save(empty_state("c"), "again", extra_files=extra) is not None  # a new file: committed
    store.path.write_text(committed + "# edited again\n")
    # writing the state back as HEAD has it changes the file on disk but gives git nothing to commit
    assert store.save(store.load(), "same", extra_files=extra) is None


@pytest.mark.parametrize(
    ("summary", "want"),
    [
        ("[main (root-commit) 1a2b3c4] first\n 1 file changed", "1a2b3c4"),
        ("[master 0123abcd] apply: 3 pod change(s)\n", "0123abcd"),
        ("[detached HEAD 9f8e7d6] msg", "9f8e7d6"),
        ("nothing to commit, working tree clean", None),
    ],
)
def test_commit_id(summary, want):
    assert commit_id(summary) == want


def test_a_commit_leaves_its_state_parsed_for_this_run_and_the_next(tmp_path, monkeypatch):
    """What save wrote is parsed while git runs: this store reads it without parsing again, and
    the next command's read of the same text comes from the parsed cache."""
    from kcli.shell import parsedcache

    monkeypatch.setenv("KCLI_HOME", str(tmp_path / "home"))
    store = StateStore(tmp_path / "st", "c")
    store.save({**store.load(), "pods": {"default/a": {"node": "n1"}}}, "one")
    text = store.path.read_text()

    def no_parse(_text: str):
        raise AssertionError("parsed again")

    assert store.peek()["pods"] == {"default/a": {"node": "n1"}} and store.generation() == 1
    kept = parsedcache.load(store.path, text, no_parse, tag="state\0c")
    assert kept == StateStore(tmp_path / "st", "c").load() and kept["generation"] == 1
