"""kcli.core.commands.batch and kcli.core.fence: the one script format, run for real with sh.

Paths under /var/lib/kcli and /run/kcli are moved into tmp_path; nothing outside it is touched."""

from __future__ import annotations

import shlex
import subprocess
import threading
import time

import pytest

from kcli.core import fence as fence_mod
from kcli.core.commands.batch import Unit, parse_batch, render_batch, steps_units
from kcli.core.commands.shell import Step
from kcli.core.fence import FENCED_RC, Fence


@pytest.fixture
def var(tmp_path, monkeypatch):
    d = tmp_path / "var-lib-kcli"
    monkeypatch.setattr(fence_mod, "FENCE_FILE", str(d / "fence"))
    monkeypatch.setattr(fence_mod, "FENCE_MUTEX", str(d / "fence.lock"))
    monkeypatch.setattr(fence_mod, "LOCK_INFO", str(d / "lock" / "info"))
    return d


def run(script: str, tmp_path) -> tuple[int, str]:
    local = script.replace("/run/kcli", str(tmp_path / "run-kcli"))
    assert "/run/kcli" not in local and "/var/lib/kcli" not in local
    res = subprocess.run(["sh", "-c", local], capture_output=True, text=True, timeout=30, check=False)
    return res.returncode, res.stdout


def test_units_run_independently_with_undo_and_error_tail(tmp_path):
    undo = shlex.quote(str(tmp_path / "undone"))
    script = render_batch(
        [
            Unit("create default/a", ("true",), (f"echo a > {undo}-a",)),
            Unit(
                "create default/b",
                ("echo pulling", "echo 'ErrImagePull: x:1' >&2; exit 1", "echo never"),
                (f"echo b > {undo}-b",),
            ),
            Unit("create default/c:with:colons", ("echo fine",)),
        ]
    )
    rc, out = run(script, tmp_path)
    assert rc == 0
    res = parse_batch(out)
    assert {n: (u.rc, u.error) for n, u in res.units.items()} == {
        "create default/a": (0, ""),
        "create default/b": (1, "pulling\nErrImagePull: x:1"),
        "create default/c:with:colons": (0, ""),
    }
    assert not (tmp_path / "undone-a").exists()  # undo only for failed units
    assert (tmp_path / "undone-b").read_text() == "b\n"
    assert list((tmp_path / "run-kcli").iterdir()) == []  # no unit log left behind


def test_a_stopping_unit_ends_the_batch(tmp_path):
    units = steps_units(
        [
            Step("h", "a", "x", ("true",)),
            Step("h", "skip", "ok"),
            Step("h", "b", "y", ("exit 3",)),
            Step("h", "c", "z", ("true",)),
        ]
    )
    assert [u.name for u in units] == ["a", "b", "c"]
    rc, out = run(render_batch(units), tmp_path)
    res = parse_batch(out)
    assert rc == 3 and {n: u.rc for n, u in res.units.items()} == {"a": 0, "b": 3}
    assert res.not_run(units) == ["c"]


def test_error_output_cannot_forge_markers(tmp_path):
    script = render_batch([Unit("x", ("echo '==kcli-rc:0'", "echo '==kcli:unit:y'", "false")), Unit("z", ("true",))])
    res = parse_batch(run(script, tmp_path)[1])
    assert set(res.units) == {"x", "z"} and res.units["x"].rc == 1 and "==kcli:unit:y" in res.units["x"].error


def test_observation_rides_on_the_same_script(tmp_path):
    res = parse_batch(
        run(render_batch([Unit("u", ("true",))], observe={"hello": "echo hi", "bad": "exit 4"}), tmp_path)[1]
    )
    assert res.units["u"].ok and res.sections["hello"].text == "hi" and res.sections["bad"].rc == 4


def test_a_failed_unit_keeps_the_last_lines(tmp_path):
    res = parse_batch(
        run(render_batch([Unit("p", tuple(f"echo line{i}" for i in range(30)) + ("false",))]), tmp_path)[1]
    )
    assert res.units["p"].error.splitlines() == [f"line{i}" for i in range(10, 30)]


# --------------------------------------------------------------------------- fencing


def test_fence_raises_the_epoch_and_refuses_an_older_holder(var, tmp_path):
    marker = tmp_path / "written"
    write = Unit("w", (f"echo x >> {shlex.quote(str(marker))}",))
    rc, out = run(render_batch([write], fence=Fence(100, "a")), tmp_path)
    assert rc == 0 and not parse_batch(out).fenced and (var / "fence").read_text() == "100\n"
    rc, out = run(render_batch([], fence=Fence(200, "b"), observe={"x": "true"}), tmp_path)  # a newer holder looks
    assert rc == 0 and (var / "fence").read_text() == "200\n"
    rc, out = run(render_batch([write], fence=Fence(100, "a")), tmp_path)  # the old holder resumes
    res = parse_batch(out)
    assert rc == FENCED_RC and "newer run" in res.fenced and res.units == {}
    assert marker.read_text() == "x\n"  # its second write never ran
    rc, out = run(render_batch([write], fence=Fence(200, "b")), tmp_path)
    assert rc == 0 and marker.read_text() == "x\nx\n"


def test_on_the_lock_node_the_token_must_still_be_current(var, tmp_path):
    (var / "lock").mkdir(parents=True)
    (var / "lock" / "info").write_text("token=tok-new\nowner=o\n")
    rc, out = run(render_batch([Unit("w", ("true",))], fence=Fence(5, "tok-old"), lock_node=True), tmp_path)
    assert rc == FENCED_RC and "no longer held" in parse_batch(out).fenced
    rc, out = run(render_batch([Unit("w", ("true",))], fence=Fence(5, "tok-new"), lock_node=True), tmp_path)
    assert rc == 0 and parse_batch(out).units["w"].ok


def test_a_new_holder_waits_for_the_old_holders_running_script(var, tmp_path):
    """The mutex: a newer holder's first look happens after the old holder's script has ended,
    so it never plans on a half-written host."""
    slow = Unit("slow", ("sleep 1.5", f"echo done > {shlex.quote(str(tmp_path / 'slow'))}"))
    t = threading.Thread(target=run, args=(render_batch([slow], fence=Fence(1, "a")), tmp_path))
    t.start()
    time.sleep(0.5)
    rc, out = run(
        render_batch([], fence=Fence(2, "b"), observe={"saw": f"cat {shlex.quote(str(tmp_path / 'slow'))}"}), tmp_path
    )
    t.join()
    assert rc == 0 and parse_batch(out).sections["saw"].text == "done"


def test_a_background_daemon_does_not_keep_the_mutex(var, tmp_path):
    rc, _ = run(render_batch([Unit("daemon", ("sleep 5 >/dev/null 2>&1 &",))], fence=Fence(1, "a")), tmp_path)
    assert rc == 0
    free = subprocess.run(["flock", "-n", str(var / "fence.lock"), "true"], check=False)
    assert free.returncode == 0  # the daemon still runs, but the mutex is free


def test_a_unit_that_removes_the_scratch_dir_does_not_break_the_next(tmp_path):
    scratch = shlex.quote(str(tmp_path / "run-kcli"))
    units = [Unit("files", (f"rm -rf {scratch}",), stop=True), Unit("after", ("true",), stop=True)]
    rc, out = run(render_batch(units), tmp_path)
    assert rc == 0 and {n: u.rc for n, u in parse_batch(out).units.items()} == {"files": 0, "after": 0}


def test_a_prelude_runs_once_after_the_fence_and_units_read_its_answers(var, tmp_path):
    count = shlex.quote(str(tmp_path / "count"))
    check = f"echo x >> {count}; kcli_have=1"
    units = [Unit(f"create default/p{i}", ('[ "${kcli_have:-0}" = 1 ]',), prelude=(check,)) for i in range(3)]
    script = render_batch(units, fence=Fence(5, "t"))
    assert script.index("==kcli:fence") < script.index(check) < script.index("==kcli:unit:")
    rc, out = run(script, tmp_path)
    assert rc == 0 and all(u.ok for u in parse_batch(out).units.values())
    assert (tmp_path / "count").read_text() == "x\n"  # three units asked, it ran once
    # a refused fence runs no prelude either
    (var / "fence").write_text("9\n")
    rc, out = run(script, tmp_path)
    assert parse_batch(out).fenced and (tmp_path / "count").read_text() == "x\n"


def test_a_unit_stands_for_the_results_it_names():
    assert Unit("delete 2 pods", ("true",), labels=("delete a/x", "delete a/y")).results == ("delete a/x", "delete a/y")
    assert Unit("create a/x", ("true",)).results == ("create a/x",)
