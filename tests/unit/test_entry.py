"""kcli.entry: the collector is off while a command starts and back on for long commands; the
process ends without the interpreter's teardown, atexit handlers and exit status kept."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from kcli.entry import exit_code, pause_gc


def test_pause_gc_turns_the_collector_back_on():
    assert gc.isenabled()
    try:
        timer = pause_gc(0.05)
        assert not gc.isenabled()
        timer.join(5)
        assert gc.isenabled()
    finally:
        gc.enable()


SCRIPT = """
import atexit, gc, runpy, sys
atexit.register(lambda: print("atexit", gc.isenabled()))
sys.argv = ["kcli"] + sys.argv[1:]
runpy.run_module("kcli", run_name="__main__")
print("not reached: the entry point leaves with os._exit")
"""


def test_python_dash_m_kcli_goes_through_the_entry_point():
    out = subprocess.run([sys.executable, "-c", SCRIPT, "version"], capture_output=True, text=True, check=True)
    # the command ran, its output was flushed, atexit handlers ran, the collector was still paused
    assert out.stdout.split() == ["kcli", "v0.1.0", "atexit", "False"]


def test_the_exit_status_is_the_commands():
    out = subprocess.run([sys.executable, "-c", SCRIPT, "no-such-command"], capture_output=True, text=True)
    assert out.returncode == 2 and "No such command" in out.stderr
    assert out.stdout.split() == ["atexit", "False"]


FINISH = """
import sys, threading, time
from kcli.entry import finish
done = []
if sys.argv[1] == "thread":  # a non-daemon thread still working: the normal exit waits for it
    t = threading.Thread(target=lambda: (time.sleep(0.3), print("thread done", flush=True)))
    t.start()
    finish(3)
finish(sys.argv[1])  # a message: printed, status 1
"""


@pytest.mark.parametrize(
    ("arg", "status", "stdout", "stderr"),
    [("thread", 3, "thread done\n", ""), ("bye", 1, "", "bye\n")],
)
def test_finish(arg, status, stdout, stderr):
    out = subprocess.run([sys.executable, "-c", FINISH, arg], capture_output=True, text=True)
    assert (out.returncode, out.stdout, out.stderr) == (status, stdout, stderr)


def test_exit_code():
    assert [exit_code(c) for c in (None, 0, 4, "message")] == [0, 0, 4, 1]
