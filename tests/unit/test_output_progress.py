"""Issue 13, item 9: progress and output for people and machines — the progress events of image
load, bootstrap and the converge loop, their plain lines and bars, --quiet, NO_COLOR, and the
ApplyResult summary of `apply -o json|yaml`."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kcli.cli import console
from kcli.cli.apply_result import apply_result, print_result
from kcli.cli.progress import shown
from kcli.core.objects import ObjectKey
from kcli.core.progress import BYTES, PODS, Lines, ProgressEvent, event_line, human_bytes
from kcli.shell.apply import ApplyReport
from kcli.shell.images import _Counted

from .test_planner import INV, KEY, SERVICE, Sim, deployment, objs

ROOT = Path(__file__).resolve().parents[2]


# -- plain lines (logs, CI) ----------------------------------------------------------------------


def test_plain_lines_say_how_tasks_end_and_what_changes_not_every_byte():
    lines = Lines()
    assert lines(ProgressEvent("node1", "checking images"), 0.0) is None  # a phase: terminals only
    assert lines(ProgressEvent("node1", "sending images", 0, 4_000_000, BYTES), 1.0) is None
    assert lines(ProgressEvent("node1", "sending images", 2_000_000, 4_000_000, BYTES), 2.0) is None
    assert lines(ProgressEvent("node1", "sending images", 4_000_000, 4_000_000, BYTES), 3.0) is None
    assert lines(ProgressEvent("node1", "loaded kcli.local/busybox:1", 4_000_000, 4_000_000, BYTES), 5.0) is None
    assert lines(ProgressEvent("node2", "images up to date"), 5.0) is None
    wave = ProgressEvent("", "wave 1: 3 pod change(s) on 3 node(s)")
    assert lines(wave) == "wave 1: 3 pod change(s) on 3 node(s)"  # the command's own line, alone
    assert lines(wave) is None  # said once
    web = ProgressEvent("deployment/web", "1 of 3 updated replicas are available", 1, 3, PODS)
    assert lines(web) == "deployment/web: 1 of 3 updated replicas are available (1/3 pods ready)"
    assert lines(web) is None
    assert (
        lines(ProgressEvent("deployment/web", "rolled out", 3, 3, PODS))
        == "deployment/web: rolled out (3/3 pods ready)"
    )
    # the last line of the tasks that never said they ended, with the transfer's size and rate
    assert lines.close(9.0) == [
        "node1: loaded kcli.local/busybox:1 (4.0 MB in 2.0 s, 2.0 MB/s)",
        "node2: images up to date",
    ]
    assert lines.close(9.0) == []
    failed = ProgressEvent("node3", "failed: connection lost", finished=True, ok=False)
    assert lines(failed) == "node3: failed: connection lost"


def test_event_lines_and_sizes():
    assert human_bytes(999) == "999 B" and human_bytes(1536) == "1.5 kB" and human_bytes(35_200_000) == "35.2 MB"
    assert event_line(ProgressEvent("node1", "sending images", 0, 2_500_000, BYTES)) == "node1: sending images (2.5 MB)"
    assert event_line(ProgressEvent("node1", "ready (0 change(s))", finished=True)) == "node1: ready (0 change(s))"


def test_image_load_reports_the_bytes_it_sends():
    events: list[ProgressEvent] = []
    data = b"x" * 100_000
    counted = _Counted(io.BytesIO(data), "node1", len(data), events.append, every=0)
    while counted.read(32768):
        pass
    assert counted.sent == len(data)
    sent = [e.done for e in events]
    assert sent == sorted(sent) and sent[-1] == len(data) and len(sent) >= 4
    assert {(e.task, e.unit, e.total) for e in events} == {("node1", BYTES, len(data))}


# -- the converge loop's events ------------------------------------------------------------------


def test_converge_reports_its_waves_and_the_workloads_it_moves():
    sim = Sim()
    events: list[ProgressEvent] = []
    sim.converge(objs(deployment() + "---" + SERVICE), progress=events.append)
    own = [e.phase for e in events if e.task == ""]
    assert own[0] == "wave 1: 3 pod change(s) on 3 node(s)" and own[-1].startswith("done in ")
    web = [e for e in events if e.task == "deployment/web"]
    assert web[0].unit == PODS and (web[0].done, web[0].total) == (0, 3) and "of 3" in web[0].phase
    assert (web[-1].phase, web[-1].done, web[-1].total, web[-1].finished, web[-1].ok) == (
        "rolled out",
        3,
        3,
        True,
        True,
    )
    assert not any(e.task.startswith("service") for e in events)  # no pods: not a workload line
    # nothing moves: no event at all (a converged apply stays silent)
    events.clear()
    sim.converge(objs(deployment() + "---" + SERVICE), progress=events.append)
    assert events == []


def test_a_rolling_update_is_followed_wave_by_wave():
    sim = Sim()
    sim.converge(objs(deployment(env="a")))
    events: list[ProgressEvent] = []
    sim.converge(objs(deployment(env="b")), progress=events.append)
    waves = [e.phase for e in events if e.task == "" and e.phase.startswith("wave")]
    assert len(waves) >= 2
    lines = Lines()
    printed = [line for e in events if (line := lines(e)) is not None]
    assert printed[-1].startswith("done in") and "deployment/web: rolled out (3/3 pods ready)" in printed


# -- ApplyResult ---------------------------------------------------------------------------------


def test_the_summary_says_what_an_apply_changed_and_a_second_apply_changed_nothing():
    sim = Sim()
    sim.converge(objs(deployment() + "---" + SERVICE))
    sim.report.commit = "abc1234"
    doc = apply_result(sim.report)
    assert doc["apiVersion"] == "kcli/v1" and doc["kind"] == "ApplyResult" and doc["changed"] is True
    assert doc["objects"] == [
        {"kind": "Deployment", "namespace": "default", "name": "web", "action": "created"},
        {"kind": "Service", "namespace": "default", "name": "web", "action": "created"},
    ]
    created = doc["pods"]["created"]
    assert len(created) == 3 and {p["node"] for p in created} == {"n1", "n2", "n3"}
    assert all(p["namespace"] == "default" and p["name"].startswith("web-") and p["reason"] for p in created)
    assert doc["pods"]["deleted"] == [] and doc["pods"]["failed"] == []
    assert doc["nodes"] == {"unreachable": {}, "servicesSynced": ["n1", "n2", "n3"]}
    assert doc["waves"] == 2 and doc["commit"] == "abc1234" and doc["exitCode"] == 0 and doc["dryRun"] is False
    json.dumps(doc)  # serialisable as is

    sim.converge(objs(deployment() + "---" + SERVICE))
    again = apply_result(sim.report)
    assert again["changed"] is False and again["waves"] == 0 and again["commit"] is None
    assert {o["action"] for o in again["objects"]} == {"unchanged"}
    assert again["pods"]["created"] == [] and again["nodes"]["servicesSynced"] == []


def test_the_summary_of_a_rollout_lists_replaced_pods_and_of_a_delete_the_deleted_objects():
    sim = Sim()
    sim.converge(objs(deployment(env="a")))
    before = {p for p, _ in sim.pods("web-")}
    sim.converge(objs(deployment(env="b")))
    doc = apply_result(sim.report)
    assert doc["objects"] == [{"kind": "Deployment", "namespace": "default", "name": "web", "action": "configured"}]
    assert {p["name"] for p in doc["pods"]["deleted"]} == before
    assert len(doc["pods"]["created"]) == 3 and not {p["name"] for p in doc["pods"]["created"]} & before
    sim.converge([], delete=[ObjectKey("Deployment", "default", "web")])
    gone = apply_result(sim.report, kind="DeleteResult")
    assert gone["kind"] == "DeleteResult" and gone["changed"] is True
    assert gone["objects"] == [{"kind": "Deployment", "namespace": "default", "name": "web", "action": "deleted"}]
    assert len(gone["pods"]["deleted"]) == 3


def test_a_dry_run_summary_lists_what_would_change_and_a_failure_carries_its_exit_code():
    from kcli.core.planner import desired_from, object_changes, plan

    sim = Sim()
    sim.converge(objs(deployment()))
    desired = desired_from(sim.state, objs(deployment(replicas=4)), applyset="s", prune=False, delete=(), orphan=False)
    first = plan(desired, sim.view, sim.state, INV, sim.policy())
    report = ApplyReport(plans=[first], dry_run=True, objects=object_changes(sim.state, desired, KEY))
    doc = apply_result(report)
    assert doc["dryRun"] is True and doc["changed"] is True and len(doc["pods"]["created"]) == 1
    failed = apply_result(ApplyReport(rollout_errors=['deployment "web" exceeded its progress deadline']), exit_code=1)
    assert failed["exitCode"] == 1 and failed["rollouts"]["failed"] and failed["changed"] is False


def test_a_create_retried_after_its_back_off_is_listed_once_as_failed():
    sim = Sim()
    sim.converge(objs(deployment(env="a")))
    sim.fail_image = "kcli.local/broken:1"
    broken = deployment(env="b", image="kcli.local/broken:1").replace(
        "replicas: 3", "replicas: 3\n      progressDeadlineSeconds: 60"
    )
    sim.converge(objs(broken), converged=False)
    assert sum(len(p.creates) for p in sim.report.plans[:-1]) > 1  # the same pod, tried again and again
    doc = apply_result(sim.report, exit_code=1, message='deployment "web" exceeded its progress deadline')
    (failed,) = doc["pods"]["failed"]
    assert failed["name"].startswith("web-") and failed["error"] and doc["pods"]["created"] == []
    assert doc["rollouts"]["failed"] == ['deployment "web" exceeded its progress deadline']
    assert doc["exitCode"] == 1 and doc["message"] and doc["changed"] is True  # the object was configured


def test_the_summary_prints_as_json_or_yaml_alone(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(console, "out", console.make_console(file=buf, width=40))
    doc = apply_result(ApplyReport())
    print_result(doc, "json")
    assert json.loads(buf.getvalue()) == doc  # not wrapped at the console's width
    buf.truncate(0)
    buf.seek(0)
    print_result(doc, "yaml")
    assert yaml.safe_load(buf.getvalue()) == doc


# -- consoles: NO_COLOR, terminals, --quiet ------------------------------------------------------


def _printed(environ: dict, *, terminal: bool) -> str:
    buf = io.StringIO()
    c = console.make_console(environ=environ, file=buf, force_terminal=terminal, color_system="standard")
    c.print("warning: x", style="yellow")
    return buf.getvalue()


def test_no_color_is_honoured_and_pipes_get_no_escapes():
    assert "\x1b[33m" in _printed({}, terminal=True)  # a terminal: yellow
    assert "\x1b[33m" in _printed({"NO_COLOR": ""}, terminal=True)  # set but empty: no effect (no-color.org)
    assert "\x1b[" not in _printed({"NO_COLOR": "1"}, terminal=True)
    buf = io.StringIO()
    console.make_console(environ={}, file=buf).print("warning: x", style="yellow")  # a pipe: plain
    assert buf.getvalue() == "warning: x\n"


def test_progress_mode_follows_the_terminal_and_quiet(monkeypatch):
    tty = console.make_console(file=io.StringIO(), force_terminal=True)
    pipe = console.make_console(file=io.StringIO())
    assert console.progress_mode(tty) == "live" and console.progress_mode(pipe) == "lines"
    monkeypatch.setattr(console, "_quiet", True)
    assert console.progress_mode(tty) == "off" and console.progress_mode(pipe) == "off"


def test_quiet_drops_information_but_not_warnings_or_errors(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(console, "out", console.make_console(file=out))
    monkeypatch.setattr(console, "err", console.make_console(file=err))
    monkeypatch.setattr(console, "_quiet", False)
    console.info("i")
    console.say("s")
    assert (out.getvalue(), err.getvalue()) == ("s\n", "i\n")
    console.set_quiet(True)
    console.info("i2")
    console.say("s2")
    console.warn("w")
    console.error("e")
    assert out.getvalue() == "s\n" and err.getvalue() == "i\nwarning: w\nerror: e\n"


def _events() -> list[ProgressEvent]:
    return [
        ProgressEvent("node1", "checking images"),
        ProgressEvent("node1", "sending images", 0, 3_000_000, BYTES),
        ProgressEvent("node1", "sending images", 1_500_000, 3_000_000, BYTES),
        ProgressEvent("deployment/web", "1 of 3 updated replicas are available", 1, 3, PODS),
        ProgressEvent("node1", "loaded kcli.local/busybox:1", 3_000_000, 3_000_000, BYTES),
        ProgressEvent("node2", "failed: connection lost", finished=True, ok=False),
    ]


def test_progress_draws_bars_on_a_terminal_lines_in_a_pipe_nothing_when_quiet(monkeypatch):
    buf = io.StringIO()
    tty = console.make_console(file=buf, force_terminal=True, width=120)
    with shown(tty) as progress:
        for e in _events():
            progress(e)
    drawn = buf.getvalue()
    assert "node1" in drawn and "3.0 MB" in drawn and "1/3 ready" in drawn and "node2" in drawn
    final = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn).rstrip().split("\r")[-1].splitlines()
    assert [ln.split()[:2] for ln in final] == [["✓", "node1"], ["✓", "deployment/web"], ["✗", "node2"]]

    buf = io.StringIO()
    with shown(console.make_console(file=buf)) as progress:
        for e in _events():
            progress(e)
    assert buf.getvalue().splitlines() == [
        "deployment/web: 1 of 3 updated replicas are available (1/3 pods ready)",
        "node2: failed: connection lost",
        buf.getvalue().splitlines()[-1],
    ]
    assert buf.getvalue().splitlines()[-1].startswith("node1: loaded kcli.local/busybox:1 (3.0 MB in ")

    buf = io.StringIO()
    monkeypatch.setattr(console, "_quiet", True)
    with shown(console.make_console(file=buf, force_terminal=True)) as progress:
        for e in _events():
            progress(e)
    assert buf.getvalue() == ""


def test_nothing_to_report_draws_nothing_on_a_terminal():
    buf = io.StringIO()
    with shown(console.make_console(file=buf, force_terminal=True)):
        pass
    assert buf.getvalue() == ""


# -- the command line ----------------------------------------------------------------------------


def _kcli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kcli", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


@pytest.fixture
def manifest(tmp_path) -> str:
    p = tmp_path / "web.yaml"
    p.write_text(deployment())
    return str(p)


def test_quiet_is_a_global_option_and_an_option_of_the_long_commands(manifest):
    loud = _kcli("apply", "--dry-run=client", "-f", manifest)
    assert loud.returncode == 0 and loud.stdout == "deployment.apps/web created (dry run)\n"
    for args in (
        ("-q", "apply", "--dry-run=client", "-f", manifest),
        ("apply", "-q", "--dry-run=client", "-f", manifest),
    ):
        quiet = _kcli(*args)
        assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == "", args
    named = _kcli("apply", "-q", "--dry-run=client", "-f", manifest, "-o", "name")  # data is still printed
    assert named.stdout == "deployment.apps/web\n"
    bad = _kcli("apply", "-q", "-f", manifest, "-o", "table")
    assert bad.returncode == 2 and "unknown output format" in bad.stderr  # errors still shown
    version = _kcli("--version")
    assert version.returncode == 0 and version.stdout.startswith("kcli v")
    helped = _kcli("bootstrap", "--help").stdout + _kcli("image", "load", "--help").stdout
    assert helped.count("--quiet") == 2


# -- Stream: plain text without rich where rich would add nothing -------------------------------

TRICKY = [
    "deployment.apps/web configured",
    "a\tbc\td\n\tx\ty",  # tabs on several lines
    "bell\x07 bs\x08 vt\x0b ff\x0c cr\r end",  # dropped by rich
    "esc \x1b[31m kept, nul \x00 kept",
    "é 日本 " + "w" * 300,  # no wrapping
    "",
]


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize("text", TRICKY)
def test_a_stream_writes_what_rich_would_to_a_pipe(text, monkeypatch):
    want = io.StringIO()
    console.make_console(file=want, environ={}).print(text, style="yellow")
    pipe = _Pipe()
    monkeypatch.setattr(sys, "stdout", pipe)
    stream = console.Stream(environ={})
    stream.print(text, style="yellow")
    assert pipe.getvalue() == want.getvalue()
    assert stream._rich is None  # rich was not needed


def test_a_stream_uses_rich_on_a_terminal_or_when_forced(monkeypatch):
    class Tty(_Pipe):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    assert not console.Stream(environ={}).plain()
    monkeypatch.setattr(sys, "stdout", _Pipe())
    assert console.Stream(environ={}).plain()
    assert not console.Stream(environ={"FORCE_COLOR": "1"}).plain()
    stream = console.Stream(environ={})
    stream.print({"not": "a string"})  # anything but strings: rich renders it
    assert stream._rich is not None and sys.stdout.getvalue() == "{'not': 'a string'}\n"


def test_the_cli_imports_no_rich_for_a_plain_command():
    script = (
        "import sys; sys.argv = ['kcli', 'version']\n"
        "from kcli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('rich' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["kcli", "v0.1.0", "False"]
