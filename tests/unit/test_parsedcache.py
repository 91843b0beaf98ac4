"""kcli.shell.parsedcache: a parse is kept per content, never changes a result, keeps only plain data."""

from __future__ import annotations

import datetime

import pytest
import yaml

from kcli.shell import parsedcache
from kcli.shell.config import load_inventory
from kcli.shell.statestore import StateStore


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KCLI_HOME", str(tmp_path / "home"))


def counting(calls):
    def parse(text):
        calls.append(text)
        return yaml.safe_load(text)

    return parse


def test_a_text_is_parsed_once_and_a_changed_one_again(tmp_path):
    f, calls = tmp_path / "a.yaml", []
    for text in ("a: 1\n", "a: 1\n", "a: 2\n", "a: 2\n"):
        assert parsedcache.load(f, text, counting(calls)) == yaml.safe_load(text)
    assert calls == ["a: 1\n", "a: 2\n"]
    assert parsedcache.load(f, "a: 2\n", counting(calls), tag="other") == {"a": 2} and len(calls) == 3


def test_each_load_returns_its_own_copy(tmp_path):
    f = tmp_path / "a.yaml"
    first = parsedcache.load(f, "a: [1]\n", yaml.safe_load)
    first["a"].append(2)
    assert parsedcache.load(f, "a: [1]\n", yaml.safe_load) == {"a": [1]}


def test_what_marshal_cannot_give_back_is_not_kept(tmp_path):
    f, calls = tmp_path / "a.yaml", []
    text = "when: 2026-12-03 10:00:00\nkeys: !!set {a: null}\n"
    for _ in range(2):
        got = parsedcache.load(f, text, counting(calls))
        assert isinstance(got["when"], datetime.datetime) and got["keys"] == {"a"}
    assert len(calls) == 2


def test_errors_propagate_and_a_broken_cache_costs_only_the_parse(tmp_path):
    f = tmp_path / "a.yaml"
    with pytest.raises(yaml.YAMLError):
        parsedcache.load(f, "a: [\n", yaml.safe_load)
    parsedcache.load(f, "a: 1\n", yaml.safe_load)
    for entry in parsedcache.cache_dir().iterdir():
        entry.write_bytes(b"garbage")
    assert parsedcache.load(f, "a: 1\n", yaml.safe_load) == {"a": 1}


def test_the_inventory_and_the_state_go_through_it(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("cluster: c\nhosts:\n- {name: n1, address: 10.0.0.1}\n")
    assert [h.name for h in load_inventory(str(inv)).hosts] == ["n1"]
    store = StateStore(tmp_path / "state", "c")
    store.save({**store.load(), "pods": {"default/a": {"node": "n1"}}}, "first")
    assert StateStore(tmp_path / "state", "c").load()["pods"] == {"default/a": {"node": "n1"}}
    assert len(list(parsedcache.cache_dir().iterdir())) == 2
    inv.write_text("cluster: c\nhosts:\n- {name: n2, address: 10.0.0.2}\n")  # same size, new content
    assert [h.name for h in load_inventory(str(inv)).hosts] == ["n2"]
