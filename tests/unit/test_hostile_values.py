"""Hostile values in every string field of a pod spec reach a node only as data (issue 8, part 1).

The node scripts are rendered with the real functions (``create_pod_lines``, ``delete_pod_lines``,
``render_batch``) straight from objects built without validation, so this holds whatever the
validation accepts. Each script then runs under dash and bash with a PATH holding only recording
stubs: every command appends its argv (NUL-separated) to a log; commands that change files really
run only on paths inside the test's sandbox (``/run/kcli`` and ``/var/lib/kcli`` are moved there);
``docker`` keeps a copy of its ``--env-file`` and of its own environment, i.e. what a container
would get. The tests assert that

(a) no marker file was created (every payload tries to ``touch`` one, absolute or relative),
(b) no command ran but the stubs (anything else is "not found": PATH has nothing else), and
(c) each value arrived literally: as one argv word, as a file's bytes, or in the container's env.

What the rendering refuses (PlanError) is listed at the end: there the value never reaches a script.
"""

from __future__ import annotations

import base64
import inspect
import json
import shlex
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from kcli.core import iptables as ipt
from kcli.core.commands.batch import Unit, parse_batch, render_batch
from kcli.core.commands.shell import fail, write_private
from kcli.core.controllers import plan_pods
from kcli.core.objects import Document, Source, build_object
from kcli.core.podrun import (
    ENV_FILE_LINE_MAX,
    ENV_STRING_MAX,
    PAUSE_IMAGE,
    POD_DIR,
    SECRET_DIR,
    PodPlacement,
    container_env,
    create_pod_lines,
    delete_pod_lines,
    env_routes,
    pod_uid,
)
from kcli.core.scheduler import Node
from kcli.core.services import Endpoint, ServicePort, ServiceSpec
from kcli.core.servicesync import dns_args, dns_hosts
from kcli.core.validate import validate_documents
from kcli.errors import PlanError

SHELLS = [s for s in ("dash", "bash") if shutil.which(s)]
REAL_SH = shutil.which("dash") or shutil.which("sh")
READ_ONLY = ("cat", "base64", "tail", "sed", "awk", "grep")  # run as they are
SANDBOXED = ("mkdir", "chmod", "mv", "rm", "touch", "mktemp")  # run only when every absolute path is in the sandbox
RECORD_ONLY = ("mount", "umount", "mountpoint", "ip", "iptables", "iptables-restore")
ALLOWED = {"docker", *READ_ONLY, *SANDBOXED, *RECORD_ONLY}
NODE = Node("n1", 4000, 8 * 2**30)
PLACE = PodPlacement("n1", "10.244.1.7", "192.168.56.11")
SUBNET = "10.244.1.0/24"
KEY = {"secret_key": b"hostile-test-key"} if "secret_key" in inspect.signature(plan_pods).parameters else {}

pytestmark = pytest.mark.skipif(
    not SHELLS or not all(shutil.which(c) for c in (*READ_ONLY, *SANDBOXED, "env", "cp", "stat", "wc")),
    reason="needs dash/bash and coreutils",
)


# --------------------------------------------------------------------------- the recording sandbox


@dataclass
class Call:
    offset: int
    argv: list[str]


class Box:
    """A temp dir with stubs in ``bin``, the fake node filesystem in ``fs``, an empty ``cwd``."""

    def __init__(self, root: Path):
        self.root = root
        self.bin, self.fs, self.cwd, self.side = (root / d for d in ("bin", "fs", "cwd", "side"))
        for d in (self.bin, self.fs, self.cwd, self.side):
            d.mkdir()
        self.log = root / "log"
        self.log.write_bytes(b"")
        self.marker = self.fs / f"PWN-{uuid.uuid4().hex}"  # in the sandbox: a stubbed touch really creates it
        q = shlex.quote
        record = f'printf \'%s\\0\' "$#" "${{0##*/}}" "$@" >> {q(str(self.log))}\n'
        for name in READ_ONLY:
            self._stub(name, record + f'exec {q(shutil.which(name))} "$@"\n')
        inside = (
            f'for a in "$@"; do case $a in {q(str(self.fs))}/*) case $a in */../*|*/..) exit 0;; esac;; '
            "/*) exit 0;; esac; done\n"
        )
        for name in SANDBOXED:
            self._stub(name, record + inside + f'exec {q(shutil.which(name))} "$@"\n')
        for name in RECORD_ONLY:
            self._stub(name, record + ("exit 1\n" if name == "mountpoint" else "exit 0\n"))
        side, real = q(str(self.side)), {c: q(shutil.which(c)) for c in ("cp", "env", "stat", "wc")}
        self._stub(
            "docker",
            (
                f"n=$({real['wc']} -c < {q(str(self.log))})\n" + record + 'prev=\nfor a in "$@"; do\n'
                f'  case $prev in --env-file) {real["cp"]} -- "$a" {side}/envfile.$n; '
                f'{real["stat"]} -c %a -- "$a" "${{a%/*}}" > {side}/envmode.$n;; esac\n'
                "  prev=$a\ndone\n"
                '[ "$1" = --config ] && shift 2\n'
                "case $1 in\n"
                f"  image) case $3 in {q(PAUSE_IMAGE)}) exit 0;; *) exit 1;; esac;;\n"
                '  pull) case $* in *FAILPULL*) echo "pull access denied" >&2; exit 1;; esac;;\n'
                f"  run) {real['env']} -0 > {side}/environ.$n\n"
                '       case $* in *FAILRUN*) echo "docker: Error response from daemon" >&2; exit 125;; esac; echo 0123abcd;;\n'
                "esac\nexit 0\n"
            ),
        )

    def _stub(self, name: str, body: str) -> None:
        p = self.bin / name
        p.write_text(f"#!{REAL_SH}\n{body}")
        p.chmod(0o755)

    def node_path(self, path: str) -> str:
        """Where a node path lands in the sandbox."""
        for prefix in ("/run/kcli", "/var/lib/kcli"):
            if path.startswith(prefix):
                return str(self.fs) + path
        return path

    def run(self, shell: str, script: str) -> subprocess.CompletedProcess:
        for prefix in ("/run/kcli", "/var/lib/kcli"):
            script = script.replace(prefix, str(self.fs) + prefix)
        (self.root / "script.sh").write_text(script)
        return subprocess.run(
            [shutil.which(shell), str(self.root / "script.sh")],
            cwd=self.cwd,
            env={"PATH": str(self.bin)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )

    def calls(self) -> list[Call]:
        data, out, i = self.log.read_bytes(), [], 0
        while i < len(data):
            start = i
            words = []
            end = data.index(b"\0", i)
            count, i = int(data[i:end]), end + 1
            for _ in range(count + 1):
                end = data.index(b"\0", i)
                words.append(data[i:end].decode("utf-8", "surrogateescape"))
                i = end + 1
            out.append(Call(start, words))
        return out

    def docker_runs(self) -> list[Call]:
        return [c for c in self.calls() if c.argv[:2] == ["docker", "run"]]

    def container_env(self, call: Call) -> list[tuple[str, str]]:
        """What docker would give the container: its env file (docker's kvfile rules), then each
        ``-e NAME`` from the client's own environment."""
        argv, env = call.argv, []
        if "--env-file" in argv:
            for raw in (self.side / f"envfile.{call.offset}").read_bytes().decode().split("\n"):
                line = raw.lstrip()
                if line and not line.startswith("#"):
                    k, _, v = line.partition("=")
                    env.append((k, v))
        environ = dict(
            e.partition("=")[::2] for e in (self.side / f"environ.{call.offset}").read_bytes().decode().split("\0") if e
        )
        for i, w in enumerate(argv[:-1]):
            if w == "-e":
                assert "=" not in argv[i + 1], "an environment value on the docker command line"
                env.append((argv[i + 1], environ[argv[i + 1]]))
        return env

    def assert_clean(self, res: subprocess.CompletedProcess) -> None:
        """(a) no marker anywhere, (b) only stubs ran."""
        assert not self.marker.exists(), "an injected command ran"
        assert list(self.cwd.iterdir()) == [], "an injected command ran (relative marker)"
        assert not any(w in (str(self.marker), "PWN") for c in self.calls() for w in c.argv), "an injected command ran"
        assert b"not found" not in res.stderr, res.stderr
        assert {c.argv[0] for c in self.calls()} <= ALLOWED


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


# --------------------------------------------------------------------------- hostile values


def hostile(marker: Path) -> dict[str, str]:
    """The payload kinds, each trying to run ``touch MARKER`` (or ``touch PWN`` in the cwd)."""
    m = str(marker)
    every = (
        f"'; touch {m}; echo '\"; touch {m}; echo \"$(touch {m})`touch {m}`;touch {m}|touch {m}&touch {m}&&"
        f"\\\\\\'\\\"*?[a]~{{a,b}} $HOME ${{IFS}}\n;touch {m};\n\t\r\\x"
    )
    no_ws = f"x';touch${{IFS}}{m};echo'\"$(touch${{IFS}}{m})`touch${{IFS}}{m}`|&;*?[a]\\"
    no_slash = "x';touch${IFS}PWN;'\"$(touch${IFS}PWN)`touch${IFS}PWN`|&;*?[a]\\"
    return {
        "every": every,  # quotes, $(), backticks, ; | & &&, backslashes, globs, braces, newlines, tab, CR
        "no-whitespace": no_ws,  # for fields that refuse whitespace (image, env names)
        "no-slash": no_slash,  # for fields that become one path component (volume names, keys)
        "long": "A" * 10_000 + no_ws,
    }


def single_line(v: str) -> str:
    return v.replace("\n", " ").replace("\r", " ")


def pod_objects(v: str, w: str, r: str, f: str, secret: str) -> list:
    """Every string field kcli reads from a pod spec, hostile: ``v`` anywhere, ``w`` where the
    rendering needs no whitespace, ``r`` where it needs one path component, ``f`` for the file
    names written on the node (a file system limits their length). Values that become
    environment variables with a hostile name are single-line (see ``env_routes``)."""
    ns = v
    docs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": ns},
            "data": {r: single_line(v), "one": single_line(v)},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "files", "namespace": ns},
            "data": {r: v},
            "binaryData": {"bin": base64.b64encode(b"\x00\xff'\"$(touch PWN)\n").decode()},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "sec", "namespace": ns},
            "stringData": {"multi": secret},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "sec2", "namespace": ns},
            "stringData": {r: secret},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "reg", "namespace": ns},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": json.dumps({"auths": {"registry.example": {"auth": v}}})},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": v, "namespace": ns, "labels": {w: v, "app": "x"}, "annotations": {"note": v}},
            "spec": {
                "hostname": v,
                "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": v}]},
                "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["a-b.c_d"]}],
                "imagePullSecrets": [{"name": "reg"}],
                "volumes": [
                    {"name": r, "emptyDir": {}},
                    {"name": "hp-create", "hostPath": {"path": "/h1/" + v, "type": "DirectoryOrCreate"}},
                    {"name": "hp-file", "hostPath": {"path": "/h2/" + v, "type": "FileOrCreate"}},
                    {"name": "hp-dir", "hostPath": {"path": "/", "type": "Directory"}},
                    {"name": "hp-any", "hostPath": {"path": "/h3/" + v}},
                    {"name": "cm-all", "configMap": {"name": "files"}},
                    {"name": "cm-items", "configMap": {"name": "files", "items": [{"key": r, "path": "items/" + f}]}},
                    {"name": "sec", "secret": {"secretName": "sec2", "items": [{"key": r, "path": f}]}},
                ],
                "initContainers": [
                    {"name": v, "image": w, "imagePullPolicy": "IfNotPresent", "command": [v], "args": [w]}
                ],
                "containers": [
                    {
                        "name": w,
                        "image": w,
                        "imagePullPolicy": "Always",
                        "command": [v, w],
                        "args": [v, "$(HOSTILE)"],
                        "workingDir": v,
                        "ports": [{"containerPort": 80, "hostPort": 8080, "name": v, "hostIP": w}],
                        "env": [
                            {"name": "HOSTILE", "value": v},
                            {"name": w, "value": single_line(v)},
                            {"name": "SECRET_ENV", "valueFrom": {"secretKeyRef": {"name": "sec2", "key": r}}},
                            {"name": "CM_ENV", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "one"}}},
                            {"name": "NOTE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
                            {"name": "LABEL", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{w}']"}}},
                        ],
                        "envFrom": [
                            {"configMapRef": {"name": "cm"}, "prefix": r},
                            {"secretRef": {"name": "sec"}, "prefix": "S_"},
                        ],
                        "volumeMounts": [
                            {"name": r, "mountPath": "/e/" + v, "subPath": "sub/" + v},
                            {"name": "hp-create", "mountPath": "/h1"},
                            {"name": "hp-file", "mountPath": "/h2"},
                            {"name": "hp-dir", "mountPath": "/host"},
                            {"name": "hp-any", "mountPath": "/h3"},
                            {"name": "cm-all", "mountPath": "/cm"},
                            {"name": "cm-items", "mountPath": "/cmi"},
                            {"name": "sec", "mountPath": "/sec"},
                        ],
                    }
                ],
            },
        },
    ]
    return [build_object(d) for d in docs]


def desired(objects):
    plan = plan_pods(objects, [], [NODE], seed="t", **KEY)
    assert len(plan.creates) == 1
    return plan.creates[0][0].pod, {o.key: o for o in objects if o.kind in ("ConfigMap", "Secret")}


def unit_results(stdout: bytes) -> dict[str, tuple[bool, str]]:
    """label → (succeeded, error text) from a batch script's output."""
    return {name: (u.ok, u.error) for name, u in parse_batch(stdout.decode()).units.items()}


def words_after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, w in enumerate(argv[:-1]) if w == flag]


# --------------------------------------------------------------------------- everything hostile, one pod


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("kind", ["every", "long"])
def test_every_pod_field_arrives_literally(box, shell, kind):
    values = hostile(box.marker)
    v, w, r = values[kind], values["no-whitespace"], values["no-slash"]
    f = values["every"]  # file names: the long value would exceed NAME_MAX on any file system
    secret = f"s3cr3t-{uuid.uuid4().hex}\n'\"$(touch {box.marker})`x`\n\n"
    objects = pod_objects(v, w, r, f, secret)
    pod, configs = desired(objects)
    uid = pod_uid(pod)
    service_env = [("SVC_HOST", single_line(v))]
    lines = create_pod_lines(pod, PLACE, configs, dns_args=dns_args(pod.namespace, SUBNET), service_env=service_env)
    script = render_batch([Unit("create hostile", tuple(lines), tuple(delete_pod_lines(uid)))])
    assert secret.split("\n")[0] not in script  # Secret values travel as base64 only

    res = box.run(shell, script)
    box.assert_clean(res)
    assert unit_results(res.stdout) == {"create hostile": (True, "")}, res

    calls = [c.argv for c in box.calls()]
    sandbox, init, app = (c.argv for c in box.docker_runs())
    labels = lambda argv: dict(x.split("=", 1) for x in words_after(argv, "--label"))  # noqa: E731
    # names, namespace, labels, hostname, DNS search path
    assert words_after(sandbox, "--name") == [f"k8s_POD_{v}_{v}_{uid[:8]}_0"]
    assert labels(sandbox)["io.kcli.pod"] == v and labels(sandbox)["io.kcli.namespace"] == v
    assert labels(sandbox)[w] == v and json.loads(labels(sandbox)["io.kcli.pod-labels"]) == {w: v, "app": "x"}
    assert words_after(sandbox, "--hostname") == [v]
    assert f"{v}.svc.cluster.local" in words_after(sandbox, "--dns-search")
    assert words_after(sandbox, "--add-host") == ["a-b.c_d:10.1.2.3"]
    assert words_after(sandbox, "--sysctl") == [f"net.ipv4.tcp_syncookies={v}"]
    assert words_after(sandbox, "-p") == [f"{w}:8080:80/tcp"]
    assert json.loads(labels(sandbox)["io.kcli.ports"])[0]["name"] == v
    assert labels(sandbox)["io.kcli.init-containers"] == v and labels(sandbox)["io.kcli.containers"] == w
    # containers: names, image, command/args, workingDir
    assert words_after(init, "--name") == [f"k8s_{v}_{v}_{v}_{uid[:8]}_0"]
    assert labels(init)["io.kcli.container"] == v and labels(app)["io.kcli.container"] == w
    assert words_after(init, "--entrypoint") == [v] and init[-2:] == [w, w]
    assert words_after(app, "--entrypoint") == [v] and words_after(app, "-w") == [v]
    assert app[-4:] == [w, w, v, v]  # image, command[1:], args ("$(HOSTILE)" expanded to the value, as kubelet)
    assert ["docker", "image", "inspect", w] in calls  # absent on the node: pulled with the imagePullSecret
    config = next(c for c in calls if c[:2] == ["docker", "--config"])
    assert config[3:] == ["pull", "-q", w] and config[2].startswith(str(box.fs))
    # volumes: hostPath checks and creation as one word each, mounts, files byte for byte
    assert ["mkdir", "-p", "/h1/" + v] in calls
    parent, name = ("/h2/" + v).rsplit("/", 1)
    assert ["mkdir", "-p", parent] in calls and ["touch", f"{parent}/{name}"] in calls
    empty = box.node_path(f"{POD_DIR}/{uid}/volumes/empty-dir/{r}")
    cm = box.node_path(f"{POD_DIR}/{uid}/volumes/configmap")
    sec = box.node_path(f"{SECRET_DIR}/{uid}/secret/sec")
    assert words_after(app, "-v") == [
        f"{empty}/sub/{v}:/e/{v}",
        f"/h1/{v}:/h1",
        f"/h2/{v}:/h2",
        "/:/host",
        f"/h3/{v}:/h3",
        f"{cm}/cm-all:/cm:ro",
        f"{cm}/cm-items:/cmi:ro",
        f"{sec}:/sec:ro",
    ]
    assert Path(empty).is_dir()
    assert Path(f"{cm}/cm-all/{r}").read_bytes().decode() == v
    assert Path(f"{cm}/cm-all/bin").read_bytes() == b"\x00\xff'\"$(touch PWN)\n"
    assert Path(f"{cm}/cm-items/items/{f}").read_bytes().decode() == v
    assert Path(f"{sec}/{f}").read_bytes().decode() == secret and Path(f"{sec}/{f}").stat().st_mode & 0o777 == 0o644
    # environment: what the containers get, byte for byte, and never a value on a command line
    want = container_env(pod.spec.containers[0], pod, uid, PLACE, configs, service_env)
    got = box.container_env(box.docker_runs()[2])
    assert sorted(got) == sorted(want)
    assert dict(got)["HOSTILE"] == v and dict(got)["SECRET_ENV"] == secret and dict(got)["NOTE"] == v
    assert dict(got)[w] == single_line(v) and dict(got)["LABEL"] == v and dict(got)[r + r] == single_line(v)
    assert dict(got)["S_multi"] == secret
    assert box.container_env(box.docker_runs()[1]) == [("SVC_HOST", single_line(v))]
    token = secret.split("\n")[0]
    assert not any(token in word for argv in calls for word in argv)
    envdir = Path(box.node_path(f"{SECRET_DIR}/{uid}/env"))
    assert list(envdir.iterdir()) == []  # removed after docker run
    modes = {tuple(p.read_text().split()) for p in box.side.glob("envmode.*")}
    assert modes == {("600", "700")}  # file, directory: while docker reads it


# --------------------------------------------------------------------------- failure paths carry values as data


def small_pod(image: str = "busybox:1", policy: str = "IfNotPresent", init: str = "", volumes=(), env=()):
    """A one-container pod; ``init``: a failing init container of that name (with ``env`` too)."""
    env_field = {"env": list(env)} if env else {}
    spec = {
        "containers": [{"name": "app", "image": image, "imagePullPolicy": policy, **env_field}],
        "volumes": list(volumes),
    }
    if init:
        spec["initContainers"] = [{"name": init, "image": "busybox:1-FAILRUN", **env_field}]
    return build_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def run_one(box: Box, shell: str, pod_obj) -> tuple[bool, str]:
    pod, configs = desired([pod_obj])
    script = render_batch(
        [Unit("create p", tuple(create_pod_lines(pod, PLACE, configs)), tuple(delete_pod_lines(pod_uid(pod))))]
    )
    res = box.run(shell, script)
    box.assert_clean(res)
    return unit_results(res.stdout)["create p"]


@pytest.mark.parametrize("shell", SHELLS)
def test_err_image_never_pull_message_carries_the_image_as_data(box, shell):
    image = "x:1" + hostile(box.marker)["no-whitespace"]  # the issue's payload, without spaces
    ok, err = run_one(box, shell, small_pod(image=image, policy="Never"))
    assert not ok
    assert f"ErrImageNeverPull: {image} is not present and imagePullPolicy is Never" in err


@pytest.mark.parametrize("shell", SHELLS)
def test_err_image_pull_message_carries_the_image_as_data(box, shell):
    image = hostile(box.marker)["no-whitespace"] + "FAILPULL"
    ok, err = run_one(box, shell, small_pod(image=image, policy="IfNotPresent"))
    assert not ok and f"ErrImagePull: {image}" in err


@pytest.mark.parametrize("shell", SHELLS)
def test_host_path_type_message_carries_the_path_as_data(box, shell):
    path = "/nonexistent/" + single_line(hostile(box.marker)["every"])
    ok, err = run_one(box, shell, small_pod(volumes=[{"name": "h", "hostPath": {"path": path, "type": "Directory"}}]))
    assert not ok and f"hostPath {path} is not a Directory" in err


@pytest.mark.parametrize("shell", SHELLS)
def test_init_container_failure_message_and_env_files_removed(box, shell):
    name = single_line(hostile(box.marker)["every"])
    obj = small_pod(init=name, env=[{"name": "MULTI", "value": "a\nb\n"}, {"name": "ONE", "value": name}])
    pod, _ = desired([obj])
    ok, err = run_one(box, shell, obj)
    assert not ok and f"init container {name} failed" in err
    init = box.docker_runs()[-1]
    assert box.container_env(init) == [("ONE", name), ("MULTI", "a\nb\n")]
    assert not Path(box.node_path(f"{SECRET_DIR}/{pod_uid(pod)}")).exists()  # the unit's cleanup ran


@pytest.mark.parametrize("shell", SHELLS)
def test_env_files_are_removed_when_docker_run_fails(box, shell):
    v = hostile(box.marker)["every"]
    obj = small_pod(
        image="busybox:1-FAILRUN", env=[{"name": "MULTI", "value": v}, {"name": "ONE", "value": single_line(v)}]
    )
    pod, configs = desired([obj])
    lines = create_pod_lines(pod, PLACE, configs)
    res = box.run(shell, "set -u\n( set -e\n" + "\n".join(lines) + "\n)\necho rc=$?\n")
    box.assert_clean(res)
    assert res.stdout.decode().splitlines()[-1] == "rc=125"  # docker's status, after the files were removed
    run = box.docker_runs()[-1]
    assert box.container_env(run) == [("ONE", single_line(v)), ("MULTI", v)]
    assert list(Path(box.node_path(f"{SECRET_DIR}/{pod_uid(pod)}/env")).iterdir()) == []


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("uid", ["abcd-1234", "../../../../etc", "x'$(touch PWN)`touch PWN`;touch PWN\n*"])
def test_delete_lines_quote_the_observed_uid(box, shell, uid):
    res = box.run(shell, "set -u\n( set -e\n" + "\n".join(delete_pod_lines(uid)) + "\n)\necho rc=$?\n")
    box.assert_clean(res)
    assert res.stdout.decode().strip() == "rc=0"
    calls = [c.argv for c in box.calls()]
    assert calls[0] == ["docker", "ps", "-aq", "--filter", f"label=io.kcli.pod-uid={uid}"]
    removed = [c for c in calls if c[0] == "rm"]
    if uid == "abcd-1234":
        assert removed == [["rm", "-rf", f"{box.fs}{POD_DIR}/{uid}", f"{box.fs}{SECRET_DIR}/{uid}"]]
    else:
        assert removed == []  # not a plain name: its directories are left alone


# --------------------------------------------------------------------------- refused by the rendering


def env_pod(name: str, value: str):
    return small_pod(env=[{"name": name, "value": value}])


REFUSED = {
    "env name with a space": lambda: env_pod("A B", "x"),
    "env name with a newline": lambda: env_pod("A\nB", "x"),
    "env name with a control character": lambda: env_pod("A\x1bB", "x"),
    "multi-line value, name not a shell name": lambda: env_pod("tls.crt", "-----BEGIN-----\nx\n"),
    "multi-line value, name starting with '#'": lambda: env_pod("#A", "x\ny"),
    "multi-line PATH": lambda: env_pod("PATH", "/tmp/evil\n"),
    "multi-line LD_PRELOAD": lambda: env_pod("LD_PRELOAD", "/tmp/evil.so\n"),
    "multi-line DOCKER_HOST": lambda: env_pod("DOCKER_HOST", "tcp://evil:2375\n"),
    "quoted http_proxy": lambda: env_pod("http_proxy", '"http://evil"'),
    "multi-line BASH_ENV": lambda: env_pod("BASH_ENV", "/tmp/x\n"),
    "multi-line GODEBUG": lambda: env_pod("GODEBUG", "x\n"),
    "multi-line LC_ALL": lambda: env_pod("LC_ALL", "x\n"),
    "NUL in a value": lambda: env_pod("A", "a\0b"),
    "value beyond the kernel's limit": lambda: env_pod("A", "x" * ENV_STRING_MAX),
    "image starting with '-'": lambda: small_pod(image="--privileged"),
    "image with whitespace": lambda: small_pod(image="busybox:1 ; id"),
    "image with a newline": lambda: small_pod(image="busybox:1\nid"),
    "relative hostPath": lambda: small_pod(volumes=[{"name": "h", "hostPath": {"path": "rel/x"}}]),
    "volume name with '/'": lambda: small_pod(volumes=[{"name": "../../../etc", "emptyDir": {}}]),
    "volume name '..'": lambda: small_pod(volumes=[{"name": "..", "emptyDir": {}}]),
}


def mounted(volume: dict, mount: dict):
    obj = small_pod(volumes=[volume])
    m = obj.manifest
    m = json.loads(json.dumps(m))
    m["spec"]["containers"][0]["volumeMounts"] = [mount]
    return build_object(m)


REFUSED.update(
    {
        "mountPath with ':'": lambda: mounted({"name": "e", "emptyDir": {}}, {"name": "e", "mountPath": "/x:/etc"}),
        "hostPath with ':'": lambda: mounted(
            {"name": "h", "hostPath": {"path": "/a:/b"}}, {"name": "h", "mountPath": "/x"}
        ),
        "subPath with '..'": lambda: mounted(
            {"name": "e", "emptyDir": {}}, {"name": "e", "mountPath": "/x", "subPath": "a/../../.."}
        ),
        "absolute subPath": lambda: mounted(
            {"name": "e", "emptyDir": {}}, {"name": "e", "mountPath": "/x", "subPath": "/etc"}
        ),
    }
)


def with_spec(**extra):
    obj = small_pod()
    m = json.loads(json.dumps(obj.manifest))
    m["spec"].update(extra)
    return build_object(m)


REFUSED.update(
    {
        "hostAliases hostname with a newline": lambda: with_spec(
            hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a\n5.6.7.8 evil"]}]
        ),
        "hostAliases hostname with ':'": lambda: with_spec(hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a:9.9.9.9"]}]),
        "hostAliases ip not an IP": lambda: with_spec(hostAliases=[{"ip": "1.2.3.4\n5.6.7.8", "hostnames": ["a"]}]),
    }
)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_before_any_script_exists(case):
    pod, configs = desired([REFUSED[case]()])
    with pytest.raises(PlanError):
        create_pod_lines(pod, PLACE, configs)


def test_config_items_and_keys_that_leave_their_directory_are_refused():
    cm = build_object(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"..": "x", "k": "y"}}
    )
    for volume in (
        {"name": "c", "configMap": {"name": "cm"}},
        {"name": "c", "configMap": {"name": "cm", "items": [{"key": "k", "path": "../../x"}]}},
        {"name": "c", "configMap": {"name": "cm", "items": [{"key": "k", "path": "/etc/x"}]}},
    ):
        pod, configs = desired([cm, small_pod(volumes=[volume])])
        with pytest.raises(PlanError, match="relative path without"):
            create_pod_lines(pod, PLACE, configs)


def test_env_value_limits_and_routes_are_exact():
    """Single-line values up to the env-file line limit go through the env file; longer ones, and
    quoted or multi-line ones, through the client's environment (shell names only)."""
    name = "A"
    fits = "x" * (ENV_FILE_LINE_MAX - len(name) - 1)
    assert env_routes([(name, fits)], "w") == ([(name, fits)], [])
    assert env_routes([(name, fits + "x")], "w") == ([], [(name, fits + "x")])
    for v in ("'quoted'", '"quoted"', "a\nb", "trailing\r", "\n"):
        assert env_routes([(name, v)], "w") == ([], [(name, v)])
    for v in ("'half", 'a"', "", " lead and trail ", "#x", "=x=", "'", '"'):
        assert env_routes([(name, v)], "w") == ([(name, v)], [])
    with pytest.raises(PlanError, match="131071"):
        env_routes([(name, "x" * (ENV_STRING_MAX - 1))], "w")
    assert env_routes([(name, "x" * (ENV_STRING_MAX - 2))], "w") == ([], [(name, "x" * (ENV_STRING_MAX - 2))])


# --------------------------------------------------------------------------- helpers, services, DNS


@pytest.mark.parametrize("shell", SHELLS)
def test_fail_and_write_private_keep_values_as_data(box, shell):
    v = hostile(box.marker)["every"]
    target = box.node_path("/run/kcli/private")
    script = f"{write_private('/run/kcli/private', {'f': v, 'g': v.encode() + bytes([0, 255])})}\n{fail('msg:', v)}\n"
    res = box.run(shell, script)
    box.assert_clean(res)
    assert res.returncode == 1 and res.stderr.decode() == f"msg: {v}\n"
    assert Path(target, "f").read_bytes().decode() == v and Path(target, "g").read_bytes() == v.encode() + b"\0\xff"
    assert Path(target).stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in Path(target).iterdir()} == {0o600}


SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: NAME}
spec:
  selector: {app: x}
  ports: [{name: PORT, port: 80}]
"""


@pytest.mark.parametrize(
    ("name", "port"),
    [
        ('web" -j ACCEPT', "http"),
        ("web\n-A KUBE-SERVICES -j ACCEPT", "http"),
        ("web", 'h" -j ACCEPT'),
        ("web", "h\n-A X"),
        ("web;id", "http"),
        ("Web", "http"),
        ("web", "h p"),
    ],
)
def test_service_and_port_names_that_reach_iptables_comments_are_validated(name, port):
    """Service names are DNS-1035 labels and their port names DNS labels (as Kubernetes): nothing
    that could end a quoted iptables-restore comment or a line gets past validation."""
    import yaml

    doc = yaml.safe_load(SERVICE)
    doc["metadata"]["name"], doc["spec"]["ports"][0]["name"] = name, port
    objects, errors, _ = validate_documents([Document(Source("s.yaml", 1), doc)])
    assert errors and not objects


def test_iptables_payload_quoting_keeps_a_value_one_argument_and_refuses_line_breaks():
    spn = 'ns/we"b\\:x y'
    assert ipt.quote(spn) == '"ns/we\\"b\\\\:x y"'
    for bad in ("a\nb", "a\rb", "a\0b"):
        with pytest.raises(ValueError):
            ipt.quote(bad)
    spec = ServiceSpec(
        "ns", "web\n-A KUBE-SERVICES -j ACCEPT", "ClusterIP", "10.96.0.10", (ServicePort("http", "TCP", 80, 80),)
    )
    with pytest.raises(ValueError):
        ipt.render_filter([spec], {})


def test_dns_hosts_holds_one_record_per_line_and_nothing_else():
    good = ServiceSpec("ns", "web", "ClusterIP", "10.96.0.10", (ServicePort("http", "TCP", 80, 80),))
    headless = ServiceSpec("ns", "db", "ClusterIP", "None", (ServicePort("", "TCP", 5432, 5432),))
    eps = {
        headless.key: (
            Endpoint("10.244.1.5", 5432, "p", "n1", True),
            Endpoint("10.244.1.6\n6.6.6.6 web.ns.svc.cluster.local", 5432, "q", "n1", True),
        )
    }
    assert dns_hosts([good, headless], eps).splitlines()[1:] == [
        "10.96.0.10 web.ns.svc.cluster.local",
        "10.244.1.5 db.ns.svc.cluster.local",
    ]
    for name in ("web\n6.6.6.6 evil", "web evil", "we#b"):
        with pytest.raises(ValueError):
            dns_hosts([ServiceSpec("ns", name, "ClusterIP", "10.96.0.11", good.ports)], {})
