import shlex
import threading

import pytest

from kcli.core.commands.shell import fail, write_private
from kcli.core.facts.sections import parse_sections, render_script
from kcli.core.humanize import human_duration
from kcli.core.inventory import Host, Inventory
from kcli.core.results import aggregate
from kcli.core.selectors import matches, parse_selector
from kcli.shell.fanout import run_on_hosts
from kcli.shell.transport import SshConnection

NASTY = ["$(touch /tmp/pwned)", "; rm -rf x", 'it\'s "quoted"', "two\nlines", "`id`", "*", "a b"]


def test_aggregate_keeps_every_host_outcome_in_order():
    res = aggregate(["a", "b", "c"], {"c": 3, "a": 1, "b": ConnectionError("down")})
    assert list(res) == [("a", 1, None), ("b", None, res.errors["b"]), ("c", 3, None)]
    assert not res.ok and res.failed_names() == ["b"]
    assert res.summary() == "b: down"


def test_fanout_one_failure_never_hides_the_others():
    hosts = [Host(name=n, address=f"10.0.0.{i}") for i, n in enumerate("abcd", 1)]

    def fn(h):
        if h.name in ("b", "d"):
            raise RuntimeError(f"{h.name} broke")
        return h.address

    res = run_on_hosts(fn, hosts, max_workers=2)
    assert res.values == {"a": "10.0.0.1", "c": "10.0.0.3"}
    assert sorted(res.errors) == ["b", "d"]


def test_command_line_quotes_each_argument_once():
    conn = SshConnection(Host(name="a", address="10.0.0.1"), Inventory(cluster="c", hosts=()))
    line = conn.command_line(["printf", "%s|", *NASTY])
    assert shlex.split(line) == ["printf", "%s|", *NASTY]


def test_fail_message_is_one_quoted_printf_argument():
    for v in NASTY:
        line = fail("ErrImagePull:", v)
        assert line.startswith("{ printf '%s\\n' ") and line.endswith(" >&2; exit 1; }")
        assert shlex.split(line[2 : -len(" >&2; exit 1; }")]) == ["printf", "%s\\n", f"ErrImagePull: {v}"]


def test_write_private_sets_the_umask_first_and_carries_content_as_base64():
    line = write_private("/run/kcli/x", {"a": NASTY[0], "b": b"\x00\xff"})
    parts = line[2:-2].split(" && ")
    assert parts[:4] == [
        "umask 077",
        "rm -f /run/kcli/x/a /run/kcli/x/b",
        "mkdir -p /run/kcli/x",
        "chmod 700 /run/kcli/x",
    ]
    assert all(p.startswith("printf %s ") and " | base64 -d > /run/kcli/x/" in p for p in parts[4:])
    assert all(v not in line for v in NASTY)


def test_sudo_prefix_for_non_root_users():
    conn = SshConnection(Host(name="a", address="10.0.0.1", user="deploy", sudo=True), Inventory(cluster="c", hosts=()))
    assert shlex.split(conn.command_line(["docker", "ps"])) == ["sudo", "-n", "--", "docker", "ps"]
    root = SshConnection(Host(name="a", address="10.0.0.1", user="root", sudo=True), Inventory(cluster="c", hosts=()))
    assert root.command_line(["docker", "ps"]) == "docker ps"


def test_a_command_started_early_is_taken_only_by_the_very_next_run():
    """SshConnection.start_call: the next call of the same key takes the early result (one
    execution); any other command first drops it, so a look started early never outlives a change."""
    import threading

    from kcli.shell.transport import CommandResult

    conn = SshConnection(Host(name="a", address="10.0.0.1"), Inventory(cluster="c", hosts=()))
    ran: list[tuple[str, ...]] = []
    gate = threading.Event()

    def fake_run(argv, *, stdin, timeout):
        gate.wait(5)
        ran.append(tuple(argv))
        return CommandResult("a", tuple(argv), 0, f"out {len(ran)}", "", 0.0)

    conn._run = fake_run  # type: ignore[method-assign]  # the SSH part; this test is about start_call/call
    look = ["sh", "-c", "look"]

    def do_look():
        return conn.execute(look)

    conn.start_call("look", do_look)
    gate.set()
    assert conn.call("look", do_look).stdout == "out 1"  # waited for and taken: ran once
    assert ran == [tuple(look)]
    conn.start_call("look", do_look)
    conn.run(["mkdir", "x"])  # another command first: the early look is dropped...
    assert conn.call("look", do_look).stdout == "out 4"  # ...and the look runs afresh
    assert len(ran) == 4 and ran[-1] == tuple(look)  # the early one (dropped), mkdir, the fresh look


def test_a_connection_started_early_hands_its_failure_to_the_first_command_once():
    """SshConnection.start_connect: the first connect() waits for the background attempt and gets
    its error (not a second timeout); the next connect() tries again."""
    from kcli.errors import ConnectError

    conn = SshConnection(Host(name="a", address="10.0.0.1"), Inventory(cluster="c", hosts=()))
    attempts: list[int] = []

    def refuse():
        attempts.append(1)
        raise ConnectError("a: cannot connect: refused")

    conn._open = refuse  # type: ignore[method-assign]  # the socket part; this test is about the hand-over
    conn.start_connect()
    for t in threading.enumerate():
        if t.name == "kcli-connect-a":
            t.join(5)
    with pytest.raises(ConnectError, match="refused"):
        conn.connect()
    assert len(attempts) == 1  # the early attempt's error, not a second attempt
    with pytest.raises(ConnectError):
        conn.connect()
    assert len(attempts) == 2


def test_sections_round_trip_and_keep_failures_apart():
    script = render_script({"one": "echo hi", "two": "exit 3"})
    assert "==kcli:one" in script
    out = "==kcli:one\nhi\n==kcli-rc:0\n==kcli:two\noops\n==kcli-rc:3\n"
    s = parse_sections(out)
    assert s["one"].text == "hi" and s["one"].rc == 0
    assert s["two"].text == "oops" and s["two"].rc == 3


def test_human_duration_matches_kubectl():
    assert [human_duration(x) for x in (5, 119, 125, 600, 7200, 30000, 200000, 86400 * 30, 86400 * 800)] == [
        "5s",
        "119s",
        "2m5s",
        "10m",
        "120m",
        "8h",
        "2d7h",
        "30d",
        "2y70d",
    ]


def test_label_selectors():
    labels = {"app": "web", "tier": "front"}
    assert matches(parse_selector("app=web,tier in (front, back)"), labels)
    assert not matches(parse_selector("app!=web"), labels)
    assert matches(parse_selector("!gpu,app"), labels)
    assert not matches(parse_selector("tier notin (front)"), labels)
