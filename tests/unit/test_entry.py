"""kcli.entry: the collector is off while a command starts and back on for long commands."""

from __future__ import annotations

import gc
import subprocess
import sys

from kcli.entry import pause_gc


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
import gc, runpy, sys
sys.argv = ["kcli", "version"]
try:
    runpy.run_module("kcli", run_name="__main__")
except SystemExit:
    pass
print(gc.isenabled())
"""


def test_python_dash_m_kcli_goes_through_the_entry_point():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["v0.1.0", "False"]  # the command ran, the collector still paused
