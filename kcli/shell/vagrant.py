"""`kcli inventory from-vagrant`: ask Vagrant (or recorded output) and write inventory + known_hosts.

What is asked: ``vagrant ssh-config`` once, then ``vagrant ssh NAME -c PROBE_COMMAND`` per machine
(its host public keys and addresses, read inside the VM over the channel Vagrant itself provisions
it through; the trust argument is in docs/vagrant.md). The parsing and the files' content are
pure (``kcli.core.vagrant``); this module runs vagrant and writes the files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kcli.core.vagrant import (
    DEFAULT_NETWORK,
    PROBE_COMMAND,
    WRITTEN_BY,
    Generated,
    Probe,
    build,
    key_changes,
    parse_probe,
    parse_ssh_config,
)
from kcli.errors import UsageError, VagrantError, ValidationError

Log = Callable[[str], None]


@dataclass
class Written:
    generated: Generated
    inventory: Path
    known_hosts: Path
    warnings: list[str] = field(default_factory=list)


def _vagrant(argv: Sequence[str], directory: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("vagrant")
    if exe is None:
        raise VagrantError(
            "vagrant: not found on PATH; install Vagrant, or pass --from-file and --probes with recorded output"
        )
    try:
        return subprocess.run(
            [exe, *argv],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise VagrantError(f"vagrant {' '.join(argv[:2])}: no answer after {timeout:g}s") from exc
    except OSError as exc:
        raise VagrantError(f"vagrant: cannot run it: {exc.strerror or exc}") from exc


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def read_ssh_config(directory: Path, timeout: float = 120) -> str:
    res = _vagrant(["ssh-config", "--no-color"], directory, timeout)
    if res.returncode != 0:
        raise VagrantError(
            f"vagrant ssh-config in {directory} failed (exit {res.returncode}); are the machines up "
            f"(`vagrant up`, `vagrant status`)?",
            details=_tail(res.stderr or res.stdout).splitlines(),
        )
    return res.stdout


def probe_machine(directory: Path, name: str, timeout: float = 120) -> Probe:
    res = _vagrant(["ssh", name, "--no-tty", "--no-color", "-c", PROBE_COMMAND], directory, timeout)
    try:
        return parse_probe(res.stdout, name, source=f"vagrant ssh {name}")
    except ValidationError as exc:
        detail = _tail(res.stderr)
        raise VagrantError(
            f"{exc.message} (exit {res.returncode})", details=detail.splitlines() if detail else []
        ) from exc


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: {what} not found") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc


def _refuse_foreign(path: Path, force: bool) -> None:
    """Never overwrite a file this command did not write, unless --force."""
    if force or not path.exists():
        return
    head = _read(path, "existing file")[:200]
    if not head.startswith(WRITTEN_BY):
        raise UsageError(
            f"{path}: exists and was not written by `kcli inventory from-vagrant`; pass --force to replace it"
        )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def from_vagrant(
    directory: Path,
    output: Path,
    *,
    known_hosts: Path | None = None,
    from_file: Path | None = None,
    probes_dir: Path | None = None,
    network: str = DEFAULT_NETWORK,
    cluster: str = "vagrant",
    force: bool = False,
    log: Log = lambda _m: None,
) -> Written:
    """Read the machines (from vagrant, or from recorded files), then write both files."""
    if (from_file is None) != (probes_dir is None):
        raise UsageError(
            "--from-file and --probes go together: recorded `vagrant ssh-config` output, and a directory "
            "of NAME.txt files with what each VM printed (see docs/vagrant.md)"
        )
    known_hosts = known_hosts or output.with_suffix(".known_hosts")
    if known_hosts.resolve() == output.resolve():
        raise UsageError(f"{output}: the inventory and the known_hosts file must differ")
    _refuse_foreign(output, force)
    _refuse_foreign(known_hosts, force)

    if from_file is not None and probes_dir is not None:
        origin = str(from_file)
        entries = parse_ssh_config(_read(from_file, "recorded ssh-config"), source=str(from_file))
        probes = {
            e.name: parse_probe(_read(probes_dir / f"{e.name}.txt", "recorded probe"), e.name, source=str(probes_dir))
            for e in entries
        }
    else:
        if not (directory / "Vagrantfile").is_file():
            raise UsageError(f"{directory}: no Vagrantfile here (pass --dir with the Vagrant environment)")
        origin = f"`vagrant ssh-config` in {directory.resolve()}"
        log(f"vagrant ssh-config in {directory}")
        entries = parse_ssh_config(read_ssh_config(directory), source="vagrant ssh-config")
        log(f"reading host keys and addresses in {', '.join(e.name for e in entries)} (vagrant ssh)")
        with ThreadPoolExecutor(max_workers=min(4, len(entries))) as pool:
            answers = list(pool.map(lambda e: probe_machine(directory, e.name), entries))
        probes = {e.name: p for e, p in zip(entries, answers, strict=True)}

    rel = os.path.relpath(known_hosts.resolve(), output.resolve().parent)
    generated = build(entries, probes, network=network, cluster=cluster, known_hosts=rel, origin=origin)
    warnings = key_changes(known_hosts.read_text(errors="replace"), generated.nodes) if known_hosts.exists() else []
    _write(known_hosts, generated.known_hosts_text)
    _write(output, generated.inventory_text)
    return Written(generated, output, known_hosts, warnings)
