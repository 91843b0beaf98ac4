"""kcli.core.secretkey: choosing the cluster key among the lock nodes, and writing it where it is
missing (the script run for real with ``sh`` against a file in tmp_path)."""

from __future__ import annotations

import base64
import subprocess

import pytest

from kcli.core import secretkey
from kcli.core.commands.batch import render_batch
from kcli.core.facts.sections import Section
from kcli.core.reset import remove_data_but_the_lock
from kcli.core.secretkey import SECTION, choose_key, store_unit
from kcli.errors import PlanError

K1, K2 = bytes(range(32)), bytes(range(1, 33))


def sec(key: bytes | None) -> dict[str, Section]:
    if key is None:
        return {SECTION: Section("cat: no such file", 1)}
    return {SECTION: Section(base64.b64encode(key).decode() + "\n", 0)}


def test_the_key_the_answering_nodes_hold_and_where_it_is_missing():
    choice = choose_key({"n1": sec(K1), "n2": sec(None), "n3": sec(K1)}, ["n1", "n2"])
    assert choice.key == K1 and choice.missing == ("n2",)
    assert choose_key({"n1": sec(None), "n2": sec(None)}, ["n1", "n2"]).key == b""


def test_two_different_keys_are_refused_with_the_nodes_named():
    with pytest.raises(PlanError, match="n1; n2, n3"):
        choose_key({"n1": sec(K1), "n2": sec(K2), "n3": sec(K2)}, ["n1", "n2", "n3"])


def test_garbage_is_no_key():
    assert choose_key({"n1": {SECTION: Section("not base64!", 0)}}, ["n1"]).missing == ("n1",)


def run_unit(unit, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", render_batch([unit])], capture_output=True, text=True, cwd=tmp_path, check=False)


def test_store_writes_a_missing_key_0600_and_never_replaces_one(tmp_path, monkeypatch):
    f = tmp_path / "kcli" / "secret.key"
    monkeypatch.setattr(secretkey, "SECRET_KEY_FILE", str(f))
    res = run_unit(store_unit(K1), tmp_path)
    assert res.returncode == 0, res
    assert f.read_text() == base64.b64encode(K1).decode() + "\n"
    assert oct(f.stat().st_mode & 0o777) == "0o600"
    res = run_unit(store_unit(K2), tmp_path)
    assert "a different secret key is already there" in res.stdout
    assert f.read_text() == base64.b64encode(K1).decode() + "\n"
    assert sorted(p.name for p in f.parent.iterdir()) == ["secret.key"]  # no temporary file left


def test_the_key_is_on_no_command_line():
    script = render_batch([store_unit(K1)])
    text = base64.b64encode(K1).decode()
    assert all(
        text not in line or line.lstrip().startswith(("( umask 077; printf", '[ "$(cat'))
        for line in script.splitlines()
    )


def test_reset_removes_kcli_data_but_the_lock_s_memory(tmp_path):
    top = tmp_path / "kcli"
    for name in ("pods/x/volumes", "dns"):
        (top / name).mkdir(parents=True)
    for name in ("lock.epoch", "fence", "fence.lock", "state.yaml", "state.generation", "secret.key"):
        (top / name).write_text("1\n")
    (top / "lock").mkdir()
    (top / "lock" / "info").write_text("token=t\n")
    subprocess.run(["sh", "-c", remove_data_but_the_lock(str(top))], check=True)
    assert sorted(p.name for p in top.iterdir()) == [
        "fence",
        "fence.lock",
        "lock",
        "lock.epoch",
        "state.generation",
        "state.yaml",
    ]
    assert (top / "lock" / "info").exists()
