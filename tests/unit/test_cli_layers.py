"""The CLI's layering (issue 9, part 6): commands do no I/O of their own but go through the one
cluster facade (kcli.shell.facade); one registry of kinds serves get/describe/delete; every module
imports on its own, with no import cycle; `kcli --help` imports nothing heavy."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kcli.cli.kinds import KINDS, UnknownResourceType, canonical_kind, resolve, resolve_list
from kcli.errors import ConnectError, KcliError, UsageError
from kcli.shell.facade import ContainerRef, exec_argv, logs_argv, select_containers

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "kcli"
CLI = PKG / "cli"

# What a CLI module may import from the shell: the facade, and the local tools that are no cluster
# I/O (contexts, the docker sandbox, reading manifest files, asking vagrant about its machines).
SHELL_ALLOWED = (
    "kcli.shell.facade",
    "kcli.shell.config",
    "kcli.shell.sandbox",
    "kcli.shell.loading",
    "kcli.shell.vagrant",
)
FORBIDDEN_MODULES = (
    "paramiko",
    "kcli.shell.transport",
    "kcli.shell.observe",
    "kcli.shell.clusterview",
    "kcli.shell.lock",
    "kcli.shell.statestore",
)
FORBIDDEN_NAMES = {
    "SshPool",
    "SshConnection",
    "run_interactive",
    "observe",
    "observe_cluster",
    "ClusterLock",
    "StateStore",
}
HEAVY = ("paramiko", "yaml", "jinja2", "kubernetes_validate")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> list[str]:
    return sorted(module_name(p) for p in PKG.rglob("*.py") if p.name != "__main__.py")


def imports(path: Path, *, top_level_only: bool = False) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, absolute module, imported names) of every import in the file (or only module-level)."""
    pkg = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    return imports_in(path.read_text(), pkg, top_level_only=top_level_only)


def imports_in(source: str, pkg: str, *, top_level_only: bool = False) -> list[tuple[int, str, tuple[str, ...]]]:
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            out.append((node.lineno, base, tuple(a.name for a in node.names)))
    return out


def _within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_cli_modules_reach_the_cluster_only_through_the_facade(path):
    bad = []
    for line, module, names in imports(path):
        if _within(module, FORBIDDEN_MODULES):
            bad.append(f"{path.name}:{line}: imports {module}")
        elif module.startswith("kcli.shell") and not _within(module, SHELL_ALLOWED) and module != "kcli.shell":
            bad.append(f"{path.name}:{line}: imports {module} (use kcli.shell.facade.Cluster)")
        elif module == "kcli.shell" and set(names) - {"facade", "config", "sandbox", "loading", "vagrant"}:
            bad.append(f"{path.name}:{line}: imports {names} from kcli.shell")
        for n in set(names) & FORBIDDEN_NAMES:
            bad.append(f"{path.name}:{line}: imports {n} from {module}")
    assert not bad, "\n".join(bad)


def test_the_scan_sees_imports_inside_functions_and_relative_ones():
    source = "import typer\ndef f():\n    from kcli.shell.transport import SshPool\n    from ..shell import lock\n"
    assert [(m, n) for _, m, n in imports_in(source, "kcli.cli")] == [
        ("typer", ()),
        ("kcli.shell.transport", ("SshPool",)),
        ("kcli.shell", ("lock",)),
    ]
    assert [m for _, m, _ in imports_in(source, "kcli.cli", top_level_only=True)] == ["typer"]


def test_no_import_cycle_between_modules_at_module_level():
    mods = set(modules())
    graph = {}
    for m in mods:
        path = PKG.joinpath(*m.split(".")[1:])
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        deps = set()
        for _, module, names in imports(path, top_level_only=True):
            deps |= {module} | {f"{module}.{n}" for n in names}
        graph[m] = {d for d in deps if d in mods and d != m}

    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycle = trail[trail.index(d) :] + [m, d] if d in trail else [m, d]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if d not in state:
                visit(d, trail + [m])
        state[m] = 2

    for m in sorted(mods):
        if m not in state:
            visit(m, [])


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    """Each module first, with no other kcli module loaded (a cycle or a missing import shows here)."""
    script = """
import importlib, json, sys, traceback
failed = {}
for name in json.loads(sys.argv[1]):
    for m in [m for m in sys.modules if m == "kcli" or m.startswith("kcli.")]:
        del sys.modules[m]
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=-3)
print(json.dumps(failed))
"""
    res = subprocess.run(
        [sys.executable, "-c", script, json.dumps(modules())], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert res.returncode == 0, res.stderr
    failed = json.loads(res.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{m}:\n{tb}" for m, tb in failed.items())


def _loaded_after(statement: str) -> set[str]:
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    return set(json.loads(res.stdout.strip().splitlines()[-1]))


def test_the_cli_app_imports_nothing_heavy():
    """`kcli --help` stays fast: paramiko, yaml, jinja2 and kubernetes_validate load inside commands."""
    assert not _loaded_after("import kcli.cli.app") & set(HEAVY)


def test_the_facade_opens_ssh_only_when_used():
    assert "paramiko" not in _loaded_after("import kcli.shell.facade")


# -- the registry of kinds --------------------------------------------------------------------

KUBECTL_NAMES = {
    "Pod": ["pods", "pod", "po"],
    "Deployment": ["deployments", "deployment", "deploy", "deployments.apps", "deploy.v1.apps"],
    "ReplicaSet": ["replicasets", "replicaset", "rs", "replicasets.apps"],
    "DaemonSet": ["daemonsets", "daemonset", "ds"],
    "Job": ["jobs", "job", "jobs.batch"],
    "Service": ["services", "service", "svc"],
    "Endpoints": ["endpoints", "ep"],
    "Event": ["events", "event", "ev"],
    "ConfigMap": ["configmaps", "configmap", "cm"],
    "Secret": ["secrets", "secret"],
    "ServiceAccount": ["serviceaccounts", "serviceaccount", "sa"],
    "Namespace": ["namespaces", "namespace", "ns"],
    "Node": ["nodes", "node", "no"],
    "PersistentVolumeClaim": ["persistentvolumeclaims", "persistentvolumeclaim", "pvc"],
    "PersistentVolume": ["persistentvolumes", "persistentvolume", "pv"],
    "StatefulSet": ["statefulsets", "statefulset", "sts", "statefulsets.apps"],
}


@pytest.mark.parametrize("kind, names", sorted(KUBECTL_NAMES.items()))
def test_the_registry_resolves_what_kubectl_users_type(kind, names):
    for name in [*names, kind, kind.upper()]:
        assert canonical_kind(name) == kind, name


def test_every_kind_is_registered_once_with_importable_handlers():
    assert sorted(k.kind for k in KINDS) == sorted(KUBECTL_NAMES)
    aliases = [n for k in KINDS for n in k.names]
    assert len(aliases) == len(set(aliases))
    for k in KINDS:
        for what in ("rows", "objects", "describe"):
            assert callable(k.handler(what)), (k.kind, what)


def test_resource_names_and_scope_are_kubectls():
    assert [
        resolve(n).resource for n in ("po", "deploy", "rs", "ds", "job", "svc", "ep", "cm", "secret", "ns", "no")
    ] == [
        "pod",
        "deployment.apps",
        "replicaset.apps",
        "daemonset.apps",
        "job.batch",
        "service",
        "endpoints",
        "configmap",
        "secret",
        "namespace",
        "node",
    ]
    assert {k.kind for k in KINDS if not k.namespaced} == {"Namespace", "Node", "PersistentVolume"}


def test_get_all_and_lists_of_types():
    assert [k.kind for k in resolve_list("all")] == [
        "Pod",
        "Service",
        "Deployment",
        "ReplicaSet",
        "DaemonSet",
        "StatefulSet",
        "Job",
    ]
    assert [k.kind for k in resolve_list("deploy,rs,deploy")] == ["Deployment", "ReplicaSet"]


def test_wide_columns_are_dropped_unless_wide():
    pod = resolve("po")
    row = {"NAME": "a", "READY": "1/1", "IP": "10.244.1.2", "NODE": "node1"}
    assert pod.visible(row, wide=False) == {"NAME": "a", "READY": "1/1"}
    assert pod.visible(row, wide=True) == row


def test_an_unknown_type_is_kubectls_error():
    with pytest.raises(UnknownResourceType) as exc:
        resolve_list("pods,foo")
    assert exc.value.message == 'the server doesn\'t have a resource type "foo"' and exc.value.exit_code == 1


@pytest.mark.parametrize("args", [["get", "foo"], ["get", "pods,foo"], ["describe", "foo", "x"]])
def test_an_unknown_type_prints_as_kubectl_prints_it(args):
    res = subprocess.run([sys.executable, "-m", "kcli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert (res.returncode, res.stdout, res.stderr) == (
        1,
        "",
        'error: the server doesn\'t have a resource type "foo"\n',
    )


# -- what moved from pod_cmds into the facade ---------------------------------------------------


def test_logs_and_exec_argv():
    assert logs_argv("c1") == ["docker", "logs", "c1"]
    assert logs_argv("c1", tail=10, follow=True) == ["docker", "logs", "--tail", "10", "-f", "c1"]
    assert exec_argv("c1", ["sh", "-c", "echo $HOME"]) == ["docker", "exec", "c1", "sh", "-c", "echo $HOME"]
    assert exec_argv("c1", ["sh"], stdin=True, tty=True) == ["docker", "exec", "-i", "-t", "c1", "sh"]


def _container(name, kind="container"):
    return SimpleNamespace(name=name, kind=kind, id=f"id-{name}")


def _view(pods, errors=None):
    return SimpleNamespace(all_pods=lambda: pods, errors=errors or {})


def _pod(name, node="node1", containers=(), labels=None, namespace="default"):
    return SimpleNamespace(name=name, namespace=namespace, node=node, labels=labels or {}, containers=tuple(containers))


INV = SimpleNamespace(host=lambda name: SimpleNamespace(name=name))


def test_containers_are_chosen_as_kubectl_chooses_them():
    web = _pod(
        "web",
        containers=[_container("pause", "sandbox"), _container("init", "init"), _container("main"), _container("side")],
        labels={"app": "web"},
    )
    view = _view([web, _pod("db", "node2", [_container("pg")], {"app": "db"})])
    said: list[str] = []
    [ref] = select_containers(view, INV, "default", "web", None, None, said.append)
    assert (ref.host.name, ref.container_id, ref.pod) == ("node1", "id-main", "web")
    assert said == ['Defaulted container "main" out of: main, side']
    assert select_containers(view, INV, "default", "web", "init", None)[0].container_id == "id-init"
    assert [r.pod for r in select_containers(view, INV, "default", None, None, "app in (web,db)")] == ["web", "db"]
    with pytest.raises(UsageError, match=r"choose one of \[init main side\]"):
        select_containers(view, INV, "default", "web", "nope", None)
    with pytest.raises(KcliError, match='pods "web" not found') as exc:
        select_containers(view, INV, "other", "web", None, None)
    assert exc.value.exit_code == 1
    with pytest.raises(UsageError, match="a pod name or -l SELECTOR is required"):  # `kcli exec "" -- ls`
        select_containers(view, INV, "default", "", None, None)


def test_a_pod_on_an_unreachable_node_is_named_not_missing():
    view = _view(
        [_pod("a", "node1", [_container("c")], {"app": "x"}), _pod("b", "node3", (), {"app": "x"})],
        {"node3": "connect timed out"},
    )
    with pytest.raises(ConnectError, match="node node3, which is unreachable: connect timed out"):
        select_containers(view, INV, "default", "b", None, None)
    assert select_containers(view, INV, "default", None, None, "app=x") == [
        ContainerRef(INV.host("node1"), "id-c", "a")
    ]
