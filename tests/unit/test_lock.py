"""kcli.core.lock: the cluster lock scripts, run for real with ``sh`` against a temporary LOCK_DIR.

The scripts read ``kcli.core.lock.LOCK_DIR`` when they are rendered, so each test points it into
tmp_path first; nothing outside tmp_path is touched.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import time

import pytest

from kcli.core import lock
from kcli.core.inventory import Host, Inventory
from kcli.core.lock import (
    KEPT_BY_RESET,
    LockInfo,
    Vote,
    acquire_script,
    force_unlock_script,
    kept_state,
    lock_hosts,
    majority,
    parse_lock,
    release_script,
    renew_script,
    renewal,
    state_copy_script,
    status_script,
)


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    d = tmp_path / "kcli-state" / "lock"
    monkeypatch.setattr(lock, "LOCK_DIR", str(d))
    return d


def run(script: str, env: dict | None = None) -> str:
    res = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=False, env=env)
    assert res.returncode == 0, res
    return res.stdout


def sh_lock(script: str, env: dict | None = None) -> LockInfo:
    return parse_lock(run(script, env))


def info_file(lock_dir) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (lock_dir / "info").read_text().splitlines())


# --------------------------------------------------------------------------- parsing


class TestParse:
    def test_parse_held(self):
        info = parse_lock("state=held\nnow=1000\ntoken=abc\nowner=alice@laptop (apply)\nacquired=940\nexpires=1060\n")
        assert info == LockInfo("held", "alice@laptop (apply)", "abc", 940, 1060, 1000)
        assert info.describe() == "held by alice@laptop (apply) since 60s, expires in 60s"

    def test_parse_free_and_noise(self):
        info = parse_lock("Welcome to node1\nstate=free\nnow=17\n")
        assert info == LockInfo("free", now=17)
        assert info.describe() == "unlocked"

    def test_expired_shows_zero_and_bad_numbers_are_zero(self):
        info = parse_lock("state=held\nnow=2000\nowner=bob\nacquired=1000\nexpires=1500\n")
        assert info.describe() == "held by bob since 1000s, expires in 0s"
        assert parse_lock("state=held\nnow=x\nexpires=\n") == LockInfo("held")
        assert parse_lock("") == LockInfo("unknown")

    def test_owner_unknown(self):
        assert (
            parse_lock("state=held\nnow=10\nacquired=5\nexpires=20\n").describe()
            == "held by unknown since 5s, expires in 10s"
        )

    def test_describe_without_info_does_not_print_the_epoch_as_age(self):
        info = parse_lock("state=held\nnow=1714564800\n")
        assert "1714564800" not in info.describe()

    def test_lock_hosts_are_the_control_plane_when_3_or_more_else_every_host(self):
        def h(name, *roles):
            return Host(name, "10.0.0.1", roles=roles or ("worker",))

        three = (h("cp1", "control-plane"), h("w1"), h("cp2", "control-plane"), h("cp3", "control-plane"))
        assert [x.name for x in lock_hosts(Inventory("c", three))] == ["cp1", "cp2", "cp3"]
        two = (h("cp1", "control-plane"), h("w1"), h("w2"))
        assert [x.name for x in lock_hosts(Inventory("c", two))] == ["cp1", "w1", "w2"]
        assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


class TestVotes:
    def test_a_majority_wins_with_the_greatest_epoch_and_generation(self):
        vote = Vote(
            {"n1": LockInfo("acquired", epoch=5, generation=7), "n2": LockInfo("acquired", epoch=9, generation=6)},
            {"n3": "connection refused"},
            2,
        )
        assert vote.won and vote.acquired == ("n1", "n2") and vote.epoch == 9 and vote.generation == 7

    def test_a_minority_does_not_win_and_names_the_other_holder(self):
        other = LockInfo("held", owner="bob (apply)", token="tb", acquired=100, expires=160, now=110)
        vote = Vote(
            {"n1": LockInfo("acquired", epoch=5), "n2": other, "n3": dataclasses.replace(other, now=111)}, {}, 2
        )
        assert not vote.won and vote.settling  # it got one voter: a split, worth asking again
        info, nodes = vote.holder()
        assert nodes == ("n2", "n3") and info.owner == "bob (apply)"

    def test_a_holder_with_all_details_is_not_settling(self):
        held = LockInfo("held", owner="bob", token="tb", acquired=100, expires=160, now=110)
        assert not Vote({"n1": held, "n2": held}, {"n3": "down"}, 2).settling
        assert Vote({"n1": LockInfo("held", now=110), "n2": held}, {}, 2).settling  # n1's holder is writing its details

    def test_renewal_needs_a_majority_and_is_lost_only_when_a_majority_cannot_be_left(self):
        r, lost = LockInfo("renewed"), LockInfo("lost")
        assert renewal({"n1": r, "n2": r}, ("n1", "n2", "n3"), 2) == (True, False)
        assert renewal({"n1": r}, ("n1", "n2", "n3"), 2) == (False, False)  # others did not answer: unknown
        assert renewal({"n1": r, "n2": lost}, ("n1", "n2", "n3"), 2) == (False, False)
        assert renewal({"n1": r, "n2": lost, "n3": lost}, ("n1", "n2", "n3"), 2) == (False, True)
        assert renewal({"n1": lost}, ("n1", "n2"), 2) == (False, True)

    def test_kept_state_is_the_newest(self):
        outs = {
            "n1": "generation=4\n==state\ngeneration: 4\n",
            "n2": "generation=6\n==state\ngeneration: 6\n",
            "n3": "generation=0\n==state\n",
            "n4": "garbage",
        }
        assert kept_state(outs) == ("n2", 6, "generation: 6\n")
        assert kept_state({"n3": "generation=0\n==state\n"}) == ("", 0, "")


# --------------------------------------------------------------------------- the scripts, for real


class TestScripts:
    def test_the_fence_file_the_epoch_proposal_reads_is_the_fence_s(self):
        from kcli.core.fence import FENCE_FILE, FENCE_MUTEX

        assert f"{lock.LOCK_DIR.rsplit('/', 1)[0]}/fence" == FENCE_FILE
        assert {FENCE_FILE.rsplit("/", 1)[1], FENCE_MUTEX.rsplit("/", 1)[1]} <= set(KEPT_BY_RESET)

    def test_an_epoch_proposal_is_above_the_highest_fence_the_node_saw(self, lock_dir):
        lock_dir.parent.mkdir(parents=True)
        (lock_dir.parent / "fence").write_text(str(10**16) + "\n")  # a holder with a faster clock wrote here
        assert sh_lock(acquire_script("tok-a", "a", 60)).epoch == 10**16 + 1

    def test_scripts_use_the_patched_dir(self, lock_dir):
        for script in (
            acquire_script("t", "o", 60),
            renew_script("t", 60),
            release_script("t"),
            release_script("t", 3),
            state_copy_script(),
            status_script(),
            force_unlock_script(),
        ):
            assert str(lock_dir.parent) in script and "/var/lib/kcli" not in script

    def test_release_keeps_a_newer_state_and_acquire_reports_its_generation(self, lock_dir):
        assert sh_lock(acquire_script("tok-a", "a", 60)).generation == 0
        kept = subprocess.run(
            ["sh", "-c", release_script("tok-a", 3)],
            input="generation: 3\n",
            capture_output=True,
            text=True,
            check=True,
        )
        assert "state=released" in kept.stdout
        assert run(state_copy_script()) == "generation=3\n==state\ngeneration: 3\n"
        assert oct((lock_dir.parent / "state.yaml").stat().st_mode & 0o777) == "0o600"
        assert sh_lock(acquire_script("tok-b", "b", 60)).generation == 3
        subprocess.run(["sh", "-c", release_script("tok-b", 2)], input="generation: 2\n", text=True, check=True)
        assert run(state_copy_script()).startswith("generation=3\n")  # an older state never replaces a newer one
        sh_lock(acquire_script("tok-c", "c", 60))
        subprocess.run(["sh", "-c", release_script("not-mine", 9)], input="x\n", text=True, check=True)
        assert run(state_copy_script()).startswith("generation=3\n")  # only the holder keeps its state

    def test_first_acquire(self, lock_dir):
        before = int(time.time())
        info = sh_lock(acquire_script("tok-a", "alice@laptop", 60))
        assert info.state == "acquired" and before <= info.now <= int(time.time())
        stored = info_file(lock_dir)
        assert stored == {
            "token": "tok-a",
            "owner": "alice@laptop",
            "acquired": str(info.now),
            "expires": str(info.now + 60),
            "epoch": str(info.epoch),
        }
        assert info.epoch >= info.now * 1000
        assert not (lock_dir / "info.tmp").exists()

    def test_epochs_strictly_increase_across_release_and_takeover(self, lock_dir):
        seen = []
        for i in range(3):
            info = sh_lock(acquire_script(f"tok-{i}", "o", 60))
            assert info.state == "acquired"
            seen.append(info.epoch)
            run(release_script(f"tok-{i}"))
        sh_lock(acquire_script("tok-x", "o", 1))
        (lock_dir.parent / "lock.epoch").write_text(str(10**15) + "\n")  # a clock far behind the last epoch
        time.sleep(2.1)
        taken = sh_lock(acquire_script("tok-y", "o", 60))
        assert taken.state == "acquired" and taken.epoch == 10**15 + 1
        assert seen == sorted(set(seen)) and seen[0] < taken.epoch

    def test_second_acquire_is_held_and_shows_the_owner(self, lock_dir):
        sh_lock(acquire_script("tok-a", "alice@laptop", 60))
        info = sh_lock(acquire_script("tok-b", "bob@ci", 60))
        assert (info.state, info.owner, info.token) == ("held", "alice@laptop", "tok-a")
        assert info.expires - info.acquired == 60
        assert info.describe().startswith("held by alice@laptop since ")
        assert info_file(lock_dir)["token"] == "tok-a"

    def test_same_token_acquiring_again_is_also_held(self, lock_dir):
        sh_lock(acquire_script("tok-a", "alice", 60))
        assert sh_lock(acquire_script("tok-a", "alice", 60)).state == "held"

    def test_release(self, lock_dir):
        sh_lock(acquire_script("tok-a", "alice", 60))
        assert sh_lock(release_script("tok-b")).state == "not-held"
        assert info_file(lock_dir)["token"] == "tok-a"
        assert sh_lock(release_script("tok-a")).state == "released"
        assert not lock_dir.exists()
        assert sh_lock(release_script("tok-a")).state == "not-held"
        assert sh_lock(acquire_script("tok-b", "bob", 60)).state == "acquired"

    def test_token_must_match_the_whole_line(self, lock_dir):
        sh_lock(acquire_script("tok-ab", "alice", 60))
        assert sh_lock(release_script("tok-a")).state == "not-held"
        assert sh_lock(renew_script("tok-a", 60)).state == "lost"

    def test_expired_lock_is_taken_over(self, lock_dir):
        sh_lock(acquire_script("tok-a", "alice", 0))
        time.sleep(1.1)
        info = sh_lock(acquire_script("tok-b", "bob", 60))
        assert info.state == "acquired"
        assert info_file(lock_dir)["token"] == "tok-b"
        assert sorted(p.name for p in lock_dir.parent.iterdir()) == ["lock", "lock.epoch"]  # the stale copy is gone
        assert sh_lock(renew_script("tok-a", 60)).state == "lost"
        assert sh_lock(release_script("tok-a")).state == "not-held"

    def test_unexpired_lock_is_not_taken_over(self, lock_dir):
        sh_lock(acquire_script("tok-a", "alice", 2))
        assert sh_lock(acquire_script("tok-b", "bob", 60)).state == "held"

    def test_lock_without_info_is_taken_over_only_after_30s(self, lock_dir):
        lock_dir.mkdir(parents=True)  # a taker that died between mkdir and writing info
        info = sh_lock(acquire_script("tok-b", "bob", 60))
        assert (info.state, info.owner) == ("held", "")
        old = time.time() - 60
        os.utime(lock_dir, (old, old))
        assert sh_lock(acquire_script("tok-b", "bob", 60)).state == "acquired"

    def test_renew(self, lock_dir):
        first = sh_lock(acquire_script("tok-a", "alice", 5))
        assert sh_lock(renew_script("tok-b", 600)).state == "lost"
        assert info_file(lock_dir)["expires"] == str(first.now + 5)
        assert sh_lock(renew_script("tok-a", 600)).state == "renewed"
        stored = info_file(lock_dir)
        assert int(stored["expires"]) >= first.now + 600
        assert stored["token"] == "tok-a" and stored["acquired"] == str(first.now)

    def test_renew_without_a_lock_is_lost(self, lock_dir):
        assert sh_lock(renew_script("tok-a", 60)).state == "lost"

    def test_status_and_force_unlock(self, lock_dir):
        assert sh_lock(status_script()).state == "free"
        sh_lock(acquire_script("tok-a", "alice", 60))
        status = sh_lock(status_script())
        assert (status.state, status.owner, status.token) == ("held", "alice", "tok-a")
        assert sh_lock(force_unlock_script()).state == "free"
        assert not lock_dir.exists()
        assert sh_lock(acquire_script("tok-b", "bob", 60)).state == "acquired"

    def test_owner_with_shell_characters_is_stored_literally(self, lock_dir):
        owner = 'eve\'s $(touch pwned) `id` "x"'
        sh_lock(acquire_script("tok-a", owner, 60))
        assert sh_lock(status_script()).owner == owner
        assert not (lock_dir.parent / "pwned").exists() and not os.path.exists("pwned")

    def test_two_runners_taking_over_one_expired_lock(self, lock_dir, tmp_path):
        sh_lock(acquire_script("tok-old", "crashed", 0))
        time.sleep(1.1)
        # Runner B's whole takeover runs at the worst moment of runner A's: after A read the expiry,
        # before A moves the directory aside (A calls `stat` in between; a wrapper runs B there).
        b_script = tmp_path / "b.sh"
        b_script.write_text(acquire_script("tok-b", "bob", 600))
        real_path = os.environ.get("PATH", "/usr/bin:/bin")
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        wrapper = bin_dir / "stat"
        wrapper.write_text(
            "#!/bin/sh\n"
            f"if [ ! -e {shlex.quote(str(tmp_path / 'b.out'))} ]; then\n"
            f"  PATH={shlex.quote(real_path)} sh {shlex.quote(str(b_script))} > {shlex.quote(str(tmp_path / 'b.out'))}\n"
            "fi\n"
            f'exec {shlex.quote(shutil.which("stat") or "/usr/bin/stat")} "$@"\n'
        )
        wrapper.chmod(0o755)
        a = sh_lock(acquire_script("tok-a", "alice", 600), env={**os.environ, "PATH": f"{bin_dir}:{real_path}"})
        b = parse_lock((tmp_path / "b.out").read_text())
        assert b.state == "acquired"  # B took the expired lock over
        assert a.state == "held" and a.owner == "bob"  # so A must not get it as well


# --------------------------------------------------------------------------- a look that still stands


class TestLookStillValid:
    """The holder plans from its look without the lock when nobody took the lock since."""

    def probe(self) -> lock.LockProbe | None:
        return lock.parse_probe(run(lock.probe_script()))

    def test_the_probe_and_the_acquire_agree_on_the_epoch_when_nobody_came_between(self, lock_dir):
        lock_dir.parent.mkdir(parents=True)
        assert "/var/lib/kcli" not in lock.probe_script()
        sh_lock(release_script(sh_lock(acquire_script("tok-a", "a", 60)).token or "tok-a"))
        first = self.probe()
        assert first is not None and first.free and first.epoch > 0
        mine = sh_lock(acquire_script("tok-b", "b", 60))
        assert mine.state == "acquired" and mine.prev_epoch == first.epoch < mine.epoch

    def test_a_taker_in_between_moves_the_epoch(self, lock_dir):
        lock_dir.parent.mkdir(parents=True)
        first = self.probe()
        other = sh_lock(acquire_script("tok-x", "x", 60))
        sh_lock(release_script("tok-x"))
        mine = sh_lock(acquire_script("tok-b", "b", 60))
        assert first is not None and mine.prev_epoch == other.epoch != first.epoch

    def test_a_held_lock_or_a_running_script_is_not_free(self, lock_dir):
        lock_dir.parent.mkdir(parents=True)
        sh_lock(acquire_script("tok-x", "x", 60))
        held = self.probe()
        assert held is not None and not held.free
        sh_lock(release_script("tok-x"))
        if shutil.which("flock"):
            mutex = lock_dir.parent / "fence.lock"
            mutex.touch()
            holder = subprocess.Popen(["flock", str(mutex), "sleep", "5"], start_new_session=True)
            try:
                time.sleep(0.3)
                busy = self.probe()
                assert busy is not None and not busy.free
            finally:
                os.killpg(holder.pid, 9)  # flock and its sleep, which holds the lock too
                holder.wait()
        assert (p := self.probe()) is not None and p.free

    def vote(self, **prev: int) -> Vote:
        return Vote({n: LockInfo("acquired", epoch=99, prev_epoch=e) for n, e in prev.items()}, {"c": "down"}, 2)

    def test_look_still_valid(self):
        free = lock.LockProbe(5, True)
        assert lock.look_still_valid({"a": free, "b": lock.LockProbe(7, True)}, self.vote(a=5, b=7))
        assert not lock.look_still_valid({"a": free, "b": lock.LockProbe(7, True)}, self.vote(a=5, b=8))
        assert not lock.look_still_valid({"a": free, "b": lock.LockProbe(7, False)}, self.vote(a=5, b=7))
        assert not lock.look_still_valid({"a": free, "b": None}, self.vote(a=5, b=7))  # not read then
        assert not lock.look_still_valid({"a": free}, self.vote(a=5))  # no majority
        assert lock.parse_probe("noise") is None and lock.parse_probe(None) is None
        assert lock.parse_probe("epoch=3\nlock=free\nmutex=busy\n") == lock.LockProbe(3, False)
