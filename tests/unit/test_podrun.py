"""kcli.core.podrun: a DesiredPod → the exact docker command lines that create (and delete) it.

Pods are built with the real builders (``build_object`` → ``plan_pods``); the shell lines are
split with ``shlex`` so the assertions are about argv words, not about spacing or quoting.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import shlex
import textwrap

import pytest
import yaml

from kcli.core.controllers import plan_pods
from kcli.core.objects import Container, Resources, build_object
from kcli.core.podrun import (
    ENV_FILE_LINE_MAX,
    ENV_STRING_MAX,
    PAUSE_IMAGE,
    PodContainers,
    PodPlacement,
    container_env,
    container_name,
    create_pod_lines,
    delete_pod_lines,
    delete_pods_lines,
    env_routes,
    image_prelude,
    image_var,
    pod_uid,
    resource_flags,
    uses_pause,
)
from kcli.core.scheduler import Node
from kcli.errors import PlanError

MI = 2**20
NODE = Node("n1", 4000, 8 * 2**30)
PLACE = PodPlacement("n1", "10.244.1.7", "192.168.56.11")


def load(text: str) -> list:
    return [build_object(d) for d in yaml.safe_load_all(textwrap.dedent(text)) if d]


def desired(text: str):
    """(DesiredPod of the one Pod in ``text``, {ObjectKey: ConfigMap|Secret} of the rest)."""
    objs = load(text)
    plan = plan_pods(objs, [], [NODE], seed="t", secret_key=b"unit-test-cluster-secret-key-000")
    assert len(plan.creates) == 1, plan
    configs = {o.key: o for o in objs if o.kind in ("ConfigMap", "Secret")}
    return plan.creates[0][0].pod, configs


def pod_yaml(spec: str, name: str = "web", labels: str = "{app: web}") -> str:
    return f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {labels}}}\nspec:\n" + textwrap.indent(
        textwrap.dedent(spec), "  "
    )


SIMPLE = pod_yaml("""
    containers:
    - {name: app, image: "busybox:1.36"}
""")


def words(line: str) -> list[str]:
    """argv of a generated line, without the trailing redirection / error handler; for a docker
    run in a subshell that first exports variables (``( A=$(cat F && echo x) && … && exec docker
    run … )``), the argv after ``exec``."""
    w = shlex.split(line)
    if w[0] == "(" and "exec" in w:
        w = w[w.index("exec") + 1 :]
        return w[: w.index(")")]
    return w[: w.index(">/dev/null")] if ">/dev/null" in w else w


def is_run(line: str) -> bool:
    return line.startswith("docker run ") or (line.startswith("( ") and " && exec docker run " in line)


def runs(lines: list[str]) -> list[list[str]]:
    return [words(line) for line in lines if is_run(line)]


def private_files(lines: list[str]) -> dict[str, bytes]:
    """path → content of every file written by ``write_private`` (env files, client values)."""
    out = {}
    for line in lines:
        if line.startswith("( umask 077 && "):
            for data, path in re.findall(r"printf %s (\S+) \| base64 -d > (\S+?)(?= &&| \))", line):
                out[shlex.split(path)[0]] = base64.b64decode(shlex.split(data)[0])
    return out


def docker_env_file(content: str) -> list[tuple[str, str]]:
    """docker's --env-file reading (docker/cli pkg/kvfile): leading whitespace trimmed, '#' and
    empty lines skipped, NAME=VALUE split at the first '=', the value taken as it is."""
    out = []
    for raw in content.split("\n"):
        line = raw.lstrip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out.append((k, v))
    return out


def env_of(lines: list[str], which: int = -1) -> list[tuple[str, str]]:
    """The environment container ``which`` (index into ``runs``) gets: its env file as docker
    reads it, then each ``-e NAME`` from the value the shell exported (read from its file)."""
    run_lines = [line for line in lines if is_run(line)]
    argv, line = runs(lines)[which], run_lines[which]
    files = private_files(lines)
    env = [kv for f in flag_values(argv, "--env-file") for kv in docker_env_file(files[f].decode())]
    for name in flag_values(argv, "-e"):
        assert "=" not in name  # never a value on the command line
        path = re.search(
            rf"(?:^\( | && ){name}=\$\(cat (\S+) && echo x\) && {name}=\${{{name}%x}} && export {name} &&", line
        )
        env.append((name, files[shlex.split(path.group(1))[0]].decode()))
    return env


def flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, w in enumerate(argv[:-1]) if w == flag]


def labels_of(argv: list[str]) -> dict[str, str]:
    return dict(v.split("=", 1) for v in flag_values(argv, "--label"))


def written_files(lines: list[str]) -> dict[str, tuple[bytes, str]]:
    """path → (content, mode) for every ``write_file`` line."""
    out = {}
    for line in lines:
        m = re.match(r"mkdir -p \S+ && printf %s (\S+) \| base64 -d > (\S+)\.kcli-tmp && chmod (\d+) ", line)
        if m:
            data, path, mode = m.groups()
            out[shlex.split(path)[0]] = (base64.b64decode(shlex.split(data)[0]), mode)
    return out


# --------------------------------------------------------------------------- uid, names


class TestIdentity:
    def test_uid_is_deterministic_and_uuid_shaped(self):
        a, _ = desired(SIMPLE)
        b, _ = desired(SIMPLE)
        assert pod_uid(a) == pod_uid(b)
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", pod_uid(a))

    def test_uid_changes_with_spec_name_and_namespace(self):
        base, _ = desired(SIMPLE)
        other_spec, _ = desired(SIMPLE.replace("busybox:1.36", "busybox:1.37"))
        other_name, _ = desired(SIMPLE.replace("name: web", "name: web2"))
        other_ns, _ = desired(SIMPLE.replace("name: web,", "name: web, namespace: prod,"))
        uids = {pod_uid(p) for p in (base, other_spec, other_name, other_ns)}
        assert len(uids) == 4

    def test_container_name(self):
        pod, _ = desired(SIMPLE)
        uid = pod_uid(pod)
        assert container_name("POD", pod, uid) == f"k8s_POD_web_default_{uid[:8]}_0"
        assert container_name("app", pod, uid) == f"k8s_app_web_default_{uid[:8]}_0"


# --------------------------------------------------------------------------- pause container


class TestSandbox:
    def test_pause_container_argv_and_labels(self):
        pod, configs = desired(SIMPLE)
        uid, h = pod_uid(pod), pod.spec_hash
        sandbox = runs(create_pod_lines(pod, PLACE, configs, pause=True, dns_args=["--dns", "10.244.1.1"]))[0]
        labels = labels_of(sandbox)
        label_words = [w for i, w in enumerate(sandbox) if w == "--label" or (i and sandbox[i - 1] == "--label")]
        assert [w for w in sandbox if w not in label_words] == [
            "docker",
            "run",
            "-d",
            "--name",
            f"k8s_POD_web_default_{uid[:8]}_0",
            "--restart",
            "always",
            "--init",
            "--network",
            "kcli-pods",
            "--ip",
            "10.244.1.7",
            "--hostname",
            "web",
            "--dns",
            "10.244.1.1",
            "--ipc",
            "shareable",
            PAUSE_IMAGE,
        ]
        keys = [v.split("=", 1)[0] for v in flag_values(sandbox, "--label")]
        assert keys == sorted(keys)  # stable order
        assert labels == {
            "app": "web",
            "io.kcli.managed": "true",
            "io.kcli.namespace": "default",
            "io.kcli.pod": "web",
            "io.kcli.pod-uid": uid,
            "io.kcli.container": "POD",
            "io.kcli.type": "sandbox",
            "io.kcli.spec-hash": h,
            "io.kcli.applied": "Pod/web",
            "io.kcli.pod-labels": '{"app": "web"}',
            "io.kcli.containers": "app",
            "io.kcli.init-containers": "",
            "io.kcli.restart-policy": "Always",
            "io.kcli.requests": '{"cpu": 0, "memory": 0}',
            "io.kcli.host-ports": "[]",
            "io.kcli.ports": "[]",
            "io.kcli.node": "n1",
            "io.kcli.grace": "30",
            "io.kubernetes.pod.name": "web",
            "io.kubernetes.pod.namespace": "default",
            "io.kubernetes.pod.uid": uid,
            "io.kubernetes.container.name": "POD",
            "io.kubernetes.docker.type": "podsandbox",
        }

    def test_owner_label_for_controlled_pods(self):
        text = """
            apiVersion: apps/v1
            kind: ReplicaSet
            metadata: {name: rs}
            spec:
              replicas: 1
              selector: {matchLabels: {app: rs}}
              template:
                metadata: {labels: {app: rs}}
                spec: {containers: [{name: app, image: "busybox:1.36"}]}
        """
        pod, configs = desired(text)
        labels = labels_of(runs(create_pod_lines(pod, PLACE, configs, pause=True))[0])
        assert labels["io.kcli.owner"] == "ReplicaSet/rs"
        assert labels["io.kcli.applied"] == "ReplicaSet/rs"
        assert labels["io.kcli.pod"] == pod.name and pod.name.startswith("rs-")

    def test_hostname_host_ports_and_host_aliases(self):
        pod, configs = desired(
            pod_yaml("""
            hostname: custom
            hostAliases: [{ip: 10.1.2.3, hostnames: [db, db.local]}]
            containers:
            - name: app
              image: "busybox:1.36"
              ports:
              - {containerPort: 80, hostPort: 8080, name: http}
              - {containerPort: 53, hostPort: 5353, protocol: UDP, hostIP: 127.0.0.1}
              - {containerPort: 9000}
        """)
        )
        sandbox = runs(create_pod_lines(pod, PLACE, configs, pause=True))[0]
        assert flag_values(sandbox, "--hostname") == ["custom"]
        assert flag_values(sandbox, "-p") == ["8080:80/tcp", "127.0.0.1:5353:53/udp"]
        assert flag_values(sandbox, "--add-host") == ["db:10.1.2.3", "db.local:10.1.2.3"]
        labels = labels_of(sandbox)
        assert json.loads(labels["io.kcli.host-ports"]) == [
            {"port": 8080, "protocol": "TCP", "ip": ""},
            {"port": 5353, "protocol": "UDP", "ip": "127.0.0.1"},
        ]
        assert json.loads(labels["io.kcli.ports"]) == [
            {"name": "http", "containerPort": 80, "protocol": "TCP"},
            {"name": "", "containerPort": 53, "protocol": "UDP"},
            {"name": "", "containerPort": 9000, "protocol": "TCP"},
        ]

    def test_same_host_port_on_tcp_and_udp_keeps_each_container_port(self):
        pod, configs = desired(
            pod_yaml("""
            containers:
            - name: app
              image: "busybox:1.36"
              ports:
              - {containerPort: 5300, hostPort: 53, protocol: TCP}
              - {containerPort: 5301, hostPort: 53, protocol: UDP}
        """)
        )
        assert flag_values(runs(create_pod_lines(pod, PLACE, configs, pause=True))[0], "-p") == [
            "53:5300/tcp",
            "53:5301/udp",
        ]

    def test_host_network(self):
        pod, configs = desired(
            pod_yaml("""
            hostNetwork: true
            containers: [{name: app, image: "busybox:1.36", ports: [{containerPort: 80, hostPort: 80}]}]
        """)
        )
        sandbox = runs(create_pod_lines(pod, PLACE, configs, pause=True, dns_args=["--dns", "1.1.1.1"]))[0]
        assert flag_values(sandbox, "--network") == ["host"]
        assert "--ip" not in sandbox and "--hostname" not in sandbox and "-p" not in sandbox and "--dns" not in sandbox

    def test_requests_label_sums_app_containers(self):
        pod, configs = desired(
            pod_yaml("""
            containers:
            - {name: a, image: "busybox:1.36", resources: {requests: {cpu: 100m, memory: 64Mi}}}
            - {name: b, image: "busybox:1.36", resources: {limits: {cpu: 250m, memory: 32Mi}}}
        """)
        )
        labels = labels_of(runs(create_pod_lines(pod, PLACE, configs, pause=True))[0])
        assert json.loads(labels["io.kcli.requests"]) == {"cpu": 350, "memory": 96 * MI}
        assert labels["io.kcli.containers"] == "a,b"


# --------------------------------------------------------------------------- app and init containers


class TestContainers:
    def test_app_container_argv(self):
        pod, configs = desired(
            pod_yaml("""
            containers:
            - {name: app, image: "busybox:1.36", workingDir: /srv, tty: true, stdin: true}
        """)
        )
        uid = pod_uid(pod)
        sandbox = f"k8s_POD_web_default_{uid[:8]}_0"
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        assert lines[-1].endswith(" >/dev/null")
        app = words(lines[-1])
        labels = labels_of(app)
        without_labels = [w for i, w in enumerate(app) if w != "--label" and app[i - 1] != "--label"]
        assert without_labels == [
            "docker",
            "run",
            "-d",
            "--name",
            f"k8s_app_web_default_{uid[:8]}_0",
            "--init",
            "--restart",
            "always",
            "--network",
            f"container:{sandbox}",
            "--ipc",
            f"container:{sandbox}",
            "--cpu-shares",
            "2",
            "-w",
            "/srv",
            "-t",
            "-i",
            "busybox:1.36",
        ]
        assert labels["io.kcli.type"] == "container" and labels["io.kcli.container"] == "app"
        assert labels["io.kubernetes.docker.type"] == "container"
        assert labels["io.kubernetes.container.name"] == "app"
        assert "io.kcli.pod-labels" not in labels  # sandbox only

    def test_command_becomes_entrypoint_and_args_follow(self):
        pod, configs = desired(
            pod_yaml("""
            containers:
            - {name: app, image: "busybox:1.36", command: [sh, -c], args: ["echo 'a b'; exit 3", x]}
        """)
        )
        app = runs(create_pod_lines(pod, PLACE, configs, pause=True))[-1]
        assert flag_values(app, "--entrypoint") == ["sh"]
        assert app[app.index("busybox:1.36") :] == ["busybox:1.36", "-c", "echo 'a b'; exit 3", "x"]

    def test_args_only_keep_the_image_entrypoint(self):
        pod, configs = desired(
            pod_yaml("""
            containers: [{name: app, image: "busybox:1.36", args: [sleep, "60"]}]
        """)
        )
        app = runs(create_pod_lines(pod, PLACE, configs, pause=True))[-1]
        assert "--entrypoint" not in app
        assert app[-3:] == ["busybox:1.36", "sleep", "60"]

    def test_command_and_args_expand_env_references(self):
        pod, configs = desired(
            pod_yaml("""
            containers:
            - name: app
              image: "busybox:1.36"
              env: [{name: GREETING, value: hello}]
              command: [echo, "$(GREETING)"]
              args: ["$(GREETING) world", "$$(GREETING)"]
        """)
        )
        app = runs(create_pod_lines(pod, PLACE, configs, pause=True))[-1]
        assert app[-3:] == ["hello", "hello world", "$(GREETING)"]

    def test_init_containers_run_in_order_in_the_foreground(self):
        pod, configs = desired(
            pod_yaml("""
            initContainers:
            - {name: one, image: "busybox:1.36", command: ["true"]}
            - {name: two, image: "busybox:1.36", command: ["false"]}
            containers: [{name: app, image: "busybox:1.36"}]
        """)
        )
        uid = pod_uid(pod)
        lines = [line for line in create_pod_lines(pod, PLACE, configs, pause=True) if line.startswith("docker run ")]
        assert [labels_of(words(line))["io.kcli.container"] for line in lines] == ["POD", "one", "two", "app"]
        one = lines[1]
        assert one.endswith(" >/dev/null || { printf '%s\\n' 'init container one failed' >&2; exit 1; }")
        argv = words(one)
        assert argv[:4] == ["docker", "run", "--name", f"k8s_one_web_default_{uid[:8]}_0"]
        assert "-d" not in argv and "--restart" not in argv
        assert labels_of(argv)["io.kcli.type"] == "init"
        assert labels_of(words(lines[0]))["io.kcli.init-containers"] == "one,two"

    def test_share_process_namespace(self):
        pod, configs = desired(
            pod_yaml("""
            shareProcessNamespace: true
            containers: [{name: app, image: "busybox:1.36"}]
        """)
        )
        uid = pod_uid(pod)
        assert flag_values(runs(create_pod_lines(pod, PLACE, configs, pause=True))[-1], "--pid") == [
            f"container:k8s_POD_web_default_{uid[:8]}_0"
        ]

    @pytest.mark.parametrize(("policy", "docker"), [("Always", "always"), ("OnFailure", "on-failure"), ("Never", "no")])
    def test_restart_policy(self, policy, docker):
        pod, configs = desired(
            pod_yaml(f"""
            restartPolicy: {policy}
            containers: [{{name: app, image: "busybox:1.36"}}]
        """)
        )
        sandbox, app = runs(create_pod_lines(pod, PLACE, configs, pause=True))
        assert flag_values(app, "--restart") == [docker]
        assert flag_values(sandbox, "--restart") == ["always"]
        assert labels_of(sandbox)["io.kcli.restart-policy"] == policy


# --------------------------------------------------------------------------- images


class TestImages:
    def test_pull_lines_per_policy(self):
        pod, configs = desired(
            pod_yaml("""
            containers:
            - {name: a, image: "busybox:latest"}
            - {name: b, image: "busybox:1.36"}
            - {name: c, image: "kcli.local/app:1", imagePullPolicy: Never}
            - {name: d, image: "busybox:1.36", imagePullPolicy: Always}
        """)
        )
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        pulls = [line for line in lines if line.startswith("{ [") or line.startswith("docker pull")]

        def have(image):  # the batch prelude's answer first, docker only when it is missing
            return f'{{ [ "${{{image_var(image)}:-0}}" = 1 ] || docker image inspect {image} >/dev/null 2>&1; }}'

        assert (
            pulls
            == [
                f"{have('kcli.local/pause:3.10-probe')} || {{ printf '%s\\n' 'ErrImageNeverPull: "
                "kcli.local/pause:3.10-probe is not present and imagePullPolicy is Never' >&2; exit 1; }",
                "docker pull -q busybox:latest >/dev/null || { printf '%s\\n' 'ErrImagePull: busybox:latest' >&2; exit 1; }",
                f"{have('busybox:1.36')} || docker pull -q busybox:1.36 >/dev/null || "
                "{ printf '%s\\n' 'ErrImagePull: busybox:1.36' >&2; exit 1; }",  # d's Always: the first container's policy wins
                f"{have('kcli.local/app:1')} || {{ printf '%s\\n' 'ErrImageNeverPull: kcli.local/app:1 "
                "is not present and imagePullPolicy is Never' >&2; exit 1; }",
            ]
        )
        assert lines.index(pulls[-1]) < next(i for i, line in enumerate(lines) if line.startswith("docker run "))
        # the prelude a batch runs once per image (Always-pulled images need no check)
        assert image_prelude(pod, pause=True) == tuple(
            f"{image_var(i)}=0; docker image inspect {i} >/dev/null 2>&1 && {image_var(i)}=1"
            for i in ("kcli.local/pause:3.10-probe", "busybox:1.36", "kcli.local/app:1")
        )

    def test_image_pull_secrets_use_a_throwaway_config(self):
        cfg = {"auths": {"registry.example": {"auth": base64.b64encode(b"u:p").decode()}}}
        pod, configs = desired(
            textwrap.dedent(f"""
            apiVersion: v1
            kind: Secret
            metadata: {{name: regcred}}
            type: kubernetes.io/dockerconfigjson
            stringData: {{.dockerconfigjson: '{json.dumps(cfg)}'}}
            ---
        """)
            + textwrap.dedent(
                pod_yaml("""
            imagePullSecrets: [{name: regcred}]
            containers: [{name: a, image: "registry.example/app:1"}]
        """)
            )
        )
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        i = lines.index('cfg=$(mktemp -d /run/kcli/dockercfg.XXXXXX) && chmod 700 "$cfg"')
        printf = shlex.split(lines[i + 1])
        assert printf[:2] == ["printf", "%s"] and lines[i + 1].endswith('| base64 -d > "$cfg/config.json"')
        assert json.loads(base64.b64decode(printf[2])) == cfg
        assert "docker image inspect kcli.local/pause:3.10-probe " in lines[i + 2]  # local only: no --config
        assert lines[i + 3] == (
            f'{{ [ "${{{image_var("registry.example/app:1")}:-0}}" = 1 ] || '
            'docker image inspect registry.example/app:1 >/dev/null 2>&1; } || docker --config "$cfg" '
            "pull -q registry.example/app:1 >/dev/null || { printf '%s\\n' 'ErrImagePull: "
            "registry.example/app:1' >&2; exit 1; }"
        )
        assert lines[i + 4] == 'rm -rf "$cfg"'


# --------------------------------------------------------------------------- environment


CONFIGS = """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cfg}
    data: {B: from-cm, C: from-cm, mode: fast}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: sec}
    stringData: {token: s3cret, B: from-secret}
    ---
"""


def env_pod(env_yaml: str, extra: str = "") -> str:
    return (
        textwrap.dedent(CONFIGS)
        + textwrap.dedent(
            pod_yaml(
                f"""
        containers:
        - name: app
          image: "busybox:1.36"
{textwrap.indent(textwrap.dedent(env_yaml), "          ")}
    """,
                labels="{app: web, tier: front}",
            )
        )
        + extra
    )


class TestEnv:
    def test_order_service_env_then_env_from_then_env_later_wins(self):
        pod, configs = desired(
            env_pod("""
            envFrom: [{configMapRef: {name: cfg}}, {secretRef: {name: sec}, prefix: S_}]
            env:
            - {name: C, value: from-env}
            - {name: D, value: "$(B)/$(C)/$(S_token)/$(A)"}
        """)
        )
        env = env_of(create_pod_lines(pod, PLACE, configs, pause=True, service_env=[("A", "svc"), ("B", "svc")]))
        assert env == [
            ("A", "svc"),
            ("B", "from-cm"),
            ("C", "from-env"),
            ("mode", "fast"),
            ("S_token", "s3cret"),
            ("S_B", "from-secret"),
            ("D", "from-cm/from-env/s3cret/svc"),
        ]

    def test_expansion_escape_and_unknown_references(self):
        pod, configs = desired(
            env_pod("""
            env:
            - {name: A, value: x}
            - {name: B, value: "$$(A) $(A) $(NOPE) $$ $( $(A"}
            - {name: C, value: "$(B)!"}
            - {name: E, value: "$(F)"}
            - {name: F, value: later}
        """)
        )
        env = dict(env_of(create_pod_lines(pod, PLACE, configs, pause=True)))
        assert env["B"] == "$(A) x $(NOPE) $ $( $(A"
        assert env["C"] == "$(A) x $(NOPE) $ $( $(A!"  # expanded once, never recursively
        assert env["E"] == "$(F)"  # only variables defined earlier are visible

    def test_key_refs_and_field_refs(self):
        pod, configs = desired(
            env_pod("""
            env:
            - {name: TOKEN, valueFrom: {secretKeyRef: {name: sec, key: token}}}
            - {name: MODE, valueFrom: {configMapKeyRef: {name: cfg, key: mode}}}
            - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
            - {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
            - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
            - {name: HOST, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
            - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
            - {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
            - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
            - {name: NOLABEL, valueFrom: {fieldRef: {fieldPath: "metadata.labels['missing']"}}}
            - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
        """)
        )
        env = env_of(create_pod_lines(pod, PLACE, configs, pause=True))
        assert env == [
            ("TOKEN", "s3cret"),
            ("MODE", "fast"),
            ("POD", "web"),
            ("NS", "default"),
            ("UID", pod_uid(pod)),
            ("IP", "10.244.1.7"),
            ("HOST", "192.168.56.11"),
            ("NODE", "n1"),
            ("SA", "default"),
            ("TIER", "front"),
            ("NOLABEL", ""),
            ("CPU", "0"),
        ]  # PLACE: no allocatable

    def test_resource_field_refs_round_up_to_the_divisor_and_unset_limits_are_the_node_s(self):
        pod, configs = desired(
            pod_yaml(
                """
            containers:
            - name: app
              image: "busybox:1.36"
              resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {memory: 100Mi}}
              env:
              - {name: REQ_CPU, valueFrom: {resourceFieldRef: {resource: requests.cpu}}}
              - {name: REQ_CPU_M, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}
              - {name: LIM_MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
              - {name: LIM_CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
              volumeMounts: [{name: info, mountPath: /info}]
            volumes:
            - name: info
              downwardAPI:
                items:
                - {path: labels, fieldRef: {fieldPath: metadata.labels}}
                - {path: name, fieldRef: {fieldPath: metadata.name}, mode: 0400}
                - {path: mem, resourceFieldRef: {containerName: app, resource: requests.memory, divisor: 1Mi}}
        """,
                labels="{app: web, tier: front}",
            )
        )
        place = dataclasses.replace(PLACE, cpu_milli=4000, memory=8 << 30)
        lines = create_pod_lines(pod, place, configs)
        assert env_of(lines) == [("REQ_CPU", "1"), ("REQ_CPU_M", "250"), ("LIM_MEM_MI", "100"), ("LIM_CPU", "4")]
        d = f"/var/lib/kcli/pods/{pod_uid(pod)}/volumes/downward-api/info"
        assert written_files(lines) == {
            f"{d}/labels": (b'app="web"\ntier="front"', "0644"),
            f"{d}/name": (b"web", "0400"),
            f"{d}/mem": (b"64", "0644"),
        }

    def test_annotation_field_ref(self):
        text = env_pod("env: [{name: V, valueFrom: {fieldRef: {fieldPath: \"metadata.annotations['v']\"}}}]")
        text = text.replace("metadata: {name: web,", "metadata: {annotations: {v: '1.2'}, name: web,")
        pod, configs = desired(text)
        assert env_of(create_pod_lines(pod, PLACE, configs, pause=True)) == [("V", "1.2")]

    def test_unsupported_field_ref_is_a_plan_error(self):
        pod, configs = desired(env_pod("env: [{name: X, valueFrom: {fieldRef: {fieldPath: status.phase}}}]"))
        with pytest.raises(PlanError, match="fieldRef status.phase is not supported"):
            create_pod_lines(pod, PLACE, configs, pause=True)

    @pytest.mark.parametrize(
        "env_yaml",
        [
            "env: [{name: X, valueFrom: {configMapKeyRef: {name: absent, key: k}}}]",
            "env: [{name: X, valueFrom: {secretKeyRef: {name: absent, key: k}}}]",
            "envFrom: [{configMapRef: {name: absent}}]",
            "envFrom: [{secretRef: {name: absent}}]",
        ],
    )
    def test_missing_config_is_a_plan_error(self, env_yaml):
        pod, configs = desired(env_pod(env_yaml))
        with pytest.raises(PlanError, match=r"pod default/web: (ConfigMap|Secret) default/absent is needed"):
            create_pod_lines(pod, PLACE, configs, pause=True)

    def test_missing_config_map_key_is_a_plan_error(self):
        pod, configs = desired(env_pod("env: [{name: X, valueFrom: {configMapKeyRef: {name: cfg, key: nope}}}]"))
        with pytest.raises(PlanError, match="ConfigMap default/cfg has no key 'nope'"):
            create_pod_lines(pod, PLACE, configs, pause=True)

    def test_missing_secret_key_is_a_plan_error(self):
        pod, configs = desired(env_pod("env: [{name: X, valueFrom: {secretKeyRef: {name: sec, key: nope}}}]"))
        with pytest.raises(PlanError, match="nope"):
            create_pod_lines(pod, PLACE, configs, pause=True)

    def test_optional_references_are_skipped(self):
        pod, configs = desired(
            env_pod("""
            envFrom: [{configMapRef: {name: absent, optional: true}}, {secretRef: {name: absent2, optional: true}}]
            env:
            - {name: A, valueFrom: {configMapKeyRef: {name: absent, key: k, optional: true}}}
            - {name: B, valueFrom: {configMapKeyRef: {name: cfg, key: nope, optional: true}}}
            - {name: C, valueFrom: {secretKeyRef: {name: absent, key: k, optional: true}}}
            - {name: D, valueFrom: {secretKeyRef: {name: sec, key: nope, optional: true}}}
            - {name: E, value: kept}
        """)
        )
        assert env_of(create_pod_lines(pod, PLACE, configs, pause=True)) == [("E", "kept")]

    def test_service_env_reaches_init_containers_too(self):
        pod, configs = desired(
            pod_yaml("""
            initContainers: [{name: i, image: "busybox:1.36"}]
            containers: [{name: app, image: "busybox:1.36"}]
        """)
        )
        lines = create_pod_lines(pod, PLACE, configs, pause=True, service_env=[("WEB_SERVICE_HOST", "10.96.0.5")])
        for which in (1, 2):
            assert env_of(lines, which) == [("WEB_SERVICE_HOST", "10.96.0.5")]

    def test_container_env_directly(self):
        pod, configs = desired(env_pod("env: [{name: A, value: '$(S)-1'}]"))
        c = pod.spec.containers[0]
        assert container_env(c, pod, pod_uid(pod), PLACE, configs, [("S", "svc")]) == [("S", "svc"), ("A", "svc-1")]


class TestEnvTransport:
    """Environment values never reach a command line: docker's env file for single-line values,
    the docker client's own environment (``-e NAME``, value read from a 0600 file) for the rest."""

    def test_secret_values_are_data_in_a_private_file_removed_after_docker_run(self):
        pod, configs = desired(env_pod("env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: sec, key: token}}}]"))
        uid = pod_uid(pod)
        d = f"/run/kcli/pods/{uid}/env"
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        assert "s3cret" not in "\n".join(lines)
        app = runs(lines)[-1]
        assert flag_values(app, "--env-file") == [f"{d}/container-0.env"] and "-e" not in app
        i = next(i for i, line in enumerate(lines) if line.startswith("( umask 077 && "))
        write, rc, run, rm, check = lines[i : i + 5]
        # umask before the directory and any file exist; the directory 0700; content from base64
        assert write.startswith(
            f"( umask 077 && rm -f {d}/container-0.env && mkdir -p {d} && chmod 700 {d} && printf %s "
        )
        assert private_files(lines)[f"{d}/container-0.env"].decode().splitlines()[1:] == ["TOKEN=s3cret"]
        assert rc == "kcli_rc=0" and run.endswith(" >/dev/null || kcli_rc=$?") and is_run(run)
        assert rm == f"rm -f {d}/container-0.env"  # whether docker run succeeded or not
        assert check == '[ "$kcli_rc" -eq 0 ] || exit "$kcli_rc"'
        assert env_of(lines) == [("TOKEN", "s3cret")]

    def test_multi_line_values_go_through_the_client_environment_byte_for_byte(self):
        pem = "-----BEGIN KEY-----\nAAA'\"$(x)`y`\r\n-----END KEY-----\n\n"
        pod, configs = desired(env_pod("env: [{name: A, value: one}]"))
        lines = create_pod_lines(pod, PLACE, configs, pause=True, service_env=[("PEM", pem)])
        app = runs(lines)[-1]
        assert flag_values(app, "-e") == ["PEM"]
        assert env_of(lines) == [("A", "one"), ("PEM", pem)]
        assert pem.split("\n")[0] not in "\n".join(lines)

    @pytest.mark.parametrize("name", ["tls.crt", "my-key", "PATH", "LD_PRELOAD", "DOCKER_HOST", "https_proxy"])
    def test_multi_line_value_without_a_usable_shell_name_is_a_plan_error(self, name):
        pod, configs = desired(env_pod(f'env: [{{name: {name}, value: "a\\nb"}}]'))
        with pytest.raises(
            PlanError, match=re.escape(f"pod default/web: container app: env {name!r}: a value with a newline")
        ):
            create_pod_lines(pod, PLACE, configs, pause=True)

    @pytest.mark.parametrize("name", ["tls.crt", "my-key", "PATH", "LD_PRELOAD", "weird;name$(x)"])
    def test_single_line_values_take_any_name_docker_accepts(self, name):
        assert env_routes([(name, "v a l u e ")], "w") == ([(name, "v a l u e ")], [])

    def test_routes(self):
        long = "x" * ENV_FILE_LINE_MAX
        assert env_routes([("A", "1"), ("B", "a\nb"), ("C", "'q'"), ("D", long)], "w") == (
            [("A", "1")],
            [("B", "a\nb"), ("C", "'q'"), ("D", long)],
        )
        for env in ([("A B", "x")], [("", "x")], [("A", "a\0b")], [("A", "x" * ENV_STRING_MAX)]):
            with pytest.raises(PlanError):
                env_routes(env, "w")

    def test_no_env_no_files(self):
        pod, configs = desired(SIMPLE)
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        assert not any("umask" in line or "--env-file" in line for line in lines)
        assert lines[-1].startswith("docker run -d ") and lines[-1].endswith(" >/dev/null")


# --------------------------------------------------------------------------- resources


def with_resources(requests=None, limits=None) -> Container:
    return Container("c", "busybox:1.36", "IfNotPresent", resources=Resources(requests or {}, limits or {}))


class TestResources:
    @pytest.mark.parametrize(
        ("requests", "limits", "flags"),
        [
            ({}, {}, ["--cpu-shares", "2"]),
            ({"cpu": 1}, {}, ["--cpu-shares", "2"]),
            ({"cpu": 250}, {}, ["--cpu-shares", "256"]),
            ({"cpu": 1000}, {}, ["--cpu-shares", "1024"]),
            ({"cpu": 1500}, {"cpu": 2000}, ["--cpu-shares", "1536", "--cpu-period", "100000", "--cpu-quota", "200000"]),
            ({"cpu": 5}, {"cpu": 5}, ["--cpu-shares", "5", "--cpu-period", "100000", "--cpu-quota", "1000"]),
            (
                {"memory": 64 * MI},
                {"memory": 128 * MI},
                ["--cpu-shares", "2", "--memory", str(128 * MI), "--memory-swap", str(128 * MI)],
            ),
        ],
    )
    def test_kubelet_mapping(self, requests, limits, flags):
        assert resource_flags(with_resources(requests, limits)) == flags

    def test_limits_default_requests_through_the_builder(self):
        pod, configs = desired(
            pod_yaml("""
            containers: [{name: app, image: "busybox:1.36", resources: {limits: {cpu: 500m, memory: 1Gi}}}]
        """)
        )
        app = runs(create_pod_lines(pod, PLACE, configs, pause=True))[-1]
        i = app.index("--cpu-shares")
        assert app[i : i + 10] == [
            "--cpu-shares",
            "512",
            "--cpu-period",
            "100000",
            "--cpu-quota",
            "50000",
            "--memory",
            str(2**30),
            "--memory-swap",
            str(2**30),
        ]


# --------------------------------------------------------------------------- volumes


VOLUME_CONFIGS = f"""
    apiVersion: v1
    kind: ConfigMap
    metadata: {{name: cfg}}
    data: {{app.conf: "A=1\\n", other: two}}
    binaryData: {{blob: {base64.b64encode(b"bin").decode()}}}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {{name: sec}}
    stringData: {{password: hunter2, user: admin}}
    ---
"""


def volume_pod(mounts: str, volumes: str) -> str:
    return textwrap.dedent(VOLUME_CONFIGS) + textwrap.dedent(
        pod_yaml(f"""
        containers:
        - name: app
          image: "busybox:1.36"
          volumeMounts: {mounts}
        volumes: {volumes}
    """)
    )


class TestVolumes:
    def test_empty_dir_and_memory_medium(self):
        pod, configs = desired(
            volume_pod(
                "[{name: e, mountPath: /e}, {name: m, mountPath: /m, readOnly: true}, {name: e, mountPath: /sub, subPath: x/y}]",
                "[{name: e, emptyDir: {}}, {name: m, emptyDir: {medium: Memory, sizeLimit: 64Mi}}]",
            )
        )
        uid = pod_uid(pod)
        base = f"/var/lib/kcli/pods/{uid}/volumes/empty-dir"
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        assert lines[:4] == [
            f"mkdir -p {base}/e",
            f"chmod 0777 {base}/e",
            f"mkdir -p {base}/m",
            f"mountpoint -q {base}/m || mount -t tmpfs -o mode=0777,size={64 * MI} tmpfs {base}/m",
        ]
        assert flag_values(runs(lines)[-1], "-v") == [f"{base}/e:/e", f"{base}/m:/m:ro", f"{base}/e/x/y:/sub"]

    def test_memory_medium_without_size_limit(self):
        pod, configs = desired(volume_pod("[{name: m, mountPath: /m}]", "[{name: m, emptyDir: {medium: Memory}}]"))
        line = create_pod_lines(pod, PLACE, configs, pause=True)[1]
        assert line.endswith(" || mount -t tmpfs -o mode=0777 tmpfs " + line.split()[2])

    def test_config_map_files_read_only(self):
        pod, configs = desired(volume_pod("[{name: c, mountPath: /etc/app}]", "[{name: c, configMap: {name: cfg}}]"))
        uid = pod_uid(pod)
        d = f"/var/lib/kcli/pods/{uid}/volumes/configmap/c"
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        assert lines[0] == f"mkdir -p {d}"
        assert written_files(lines) == {
            f"{d}/app.conf": (b"A=1\n", "0644"),
            f"{d}/blob": (b"bin", "0644"),
            f"{d}/other": (b"two", "0644"),
        }
        assert flag_values(runs(lines)[-1], "-v") == [f"{d}:/etc/app:ro"]

    def test_secret_files_on_tmpfs_with_kubernetes_mode_0644_below_a_root_only_directory(self):
        pod, configs = desired(volume_pod("[{name: s, mountPath: /creds}]", "[{name: s, secret: {secretName: sec}}]"))
        uid = pod_uid(pod)
        d = f"/run/kcli/pods/{uid}/secret/s"
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        assert lines[:2] == ["mkdir -p /run/kcli/pods && chmod 0700 /run/kcli/pods", f"mkdir -p {d}"]
        assert written_files(lines) == {f"{d}/password": (b"hunter2", "0644"), f"{d}/user": (b"admin", "0644")}
        assert flag_values(runs(lines)[-1], "-v") == [f"{d}:/creds:ro"]
        assert "hunter2" not in "\n".join(lines)  # only base64 reaches the script

    def test_items_rename_with_modes_and_default_mode(self):
        pod, configs = desired(
            volume_pod(
                "[{name: c, mountPath: /c}, {name: s, mountPath: /s}]",
                "[{name: c, configMap: {name: cfg, items: [{key: other, path: sub/renamed, mode: 0400}]}},"
                " {name: s, secret: {secretName: sec, defaultMode: 0440, items: [{key: user, path: u}]}}]",
            )
        )
        uid = pod_uid(pod)
        assert written_files(create_pod_lines(pod, PLACE, configs, pause=True)) == {
            f"/var/lib/kcli/pods/{uid}/volumes/configmap/c/sub/renamed": (b"two", "0400"),
            f"/run/kcli/pods/{uid}/secret/s/u": (b"admin", "0440"),
        }

    def test_binary_secret_bytes_are_written_unchanged(self):
        raw = b"\xff\x00\x01\x80"
        text = textwrap.dedent(f"""
            apiVersion: v1
            kind: Secret
            metadata: {{name: bin}}
            data: {{k: {base64.b64encode(raw).decode()}}}
            ---
        """) + textwrap.dedent(
            pod_yaml("""
            containers: [{name: app, image: "busybox:1.36", volumeMounts: [{name: s, mountPath: /s}]}]
            volumes: [{name: s, secret: {secretName: bin}}]
        """)
        )
        pod, configs = desired(text)
        assert list(written_files(create_pod_lines(pod, PLACE, configs, pause=True)).values()) == [(raw, "0644")]

    def test_optional_missing_volume_source_is_an_empty_dir(self):
        pod, configs = desired(
            volume_pod("[{name: c, mountPath: /c}]", "[{name: c, configMap: {name: absent, optional: true}}]")
        )
        uid = pod_uid(pod)
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        assert lines[0] == f"mkdir -p /var/lib/kcli/pods/{uid}/volumes/configmap/c"
        assert written_files(lines) == {}

    def test_optional_item_key_missing_is_skipped(self):
        pod, configs = desired(
            volume_pod(
                "[{name: c, mountPath: /c}]",
                "[{name: c, configMap: {name: cfg, optional: true, items: [{key: nope, path: n}, {key: other, path: o}]}}]",
            )
        )
        uid = pod_uid(pod)
        assert list(written_files(create_pod_lines(pod, PLACE, configs, pause=True))) == [
            f"/var/lib/kcli/pods/{uid}/volumes/configmap/c/o"
        ]

    @pytest.mark.parametrize(
        ("volumes", "message"),
        [
            ("[{name: c, configMap: {name: absent}}]", "ConfigMap default/absent is needed"),
            ("[{name: c, secret: {secretName: absent}}]", "Secret default/absent is needed"),
            ("[{name: c, configMap: {name: cfg, items: [{key: nope, path: n}]}}]", "ConfigMap cfg has no key 'nope'"),
            ("[{name: other, emptyDir: {}}]", "container app mounts unknown volume c"),
        ],
    )
    def test_plan_errors(self, volumes, message):
        pod, configs = desired(volume_pod("[{name: c, mountPath: /c}]", volumes))
        with pytest.raises(PlanError, match=re.escape(message)):
            create_pod_lines(pod, PLACE, configs, pause=True)

    def test_host_path_types(self):
        pod, configs = desired(
            volume_pod(
                "[{name: a, mountPath: /a}, {name: b, mountPath: /b}, {name: c, mountPath: /c}, {name: d, mountPath: /d}]",
                "[{name: a, hostPath: {path: /data/a, type: DirectoryOrCreate}},"
                " {name: b, hostPath: {path: /data/b.sock, type: Socket}},"
                " {name: c, hostPath: {path: /data/f.log, type: FileOrCreate}},"
                " {name: d, hostPath: {path: /data/d}}]",
            )
        )
        lines = create_pod_lines(pod, PLACE, configs, pause=True)
        assert lines[:3] == [
            "mkdir -p /data/a",
            "[ -S /data/b.sock ] || { printf '%s\\n' 'hostPath /data/b.sock is not a Socket' >&2; exit 1; }",
            "[ -e /data/f.log ] || { mkdir -p /data && touch /data/f.log; }",
        ]
        assert flag_values(runs(lines)[-1], "-v") == ["/data/a:/a", "/data/b.sock:/b", "/data/f.log:/c", "/data/d:/d"]


# --------------------------------------------------------------------------- delete


class TestDelete:
    def test_delete_lines(self):
        assert delete_pod_lines("abcd-1", grace=30) == [
            'ids=$(docker ps -aq --filter label=io.kcli.pod-uid=abcd-1); if [ -n "$ids" ]; then '
            "docker stop -t 10 $ids >/dev/null 2>&1 || true; docker rm -f -v $ids >/dev/null; fi",
            "awk '{print $2}' /proc/mounts | while IFS= read -r m; do "
            'case $m in /var/lib/kcli/pods/abcd-1/*) umount "$m" || true;; esac; done',
            "rm -rf /var/lib/kcli/pods/abcd-1 /run/kcli/pods/abcd-1",
        ]

    def test_a_uid_that_is_not_a_plain_name_removes_containers_only(self):
        for uid in ("../../etc", "a/b", "x'$(id)", ".."):
            lines = delete_pod_lines(uid)
            assert len(lines) == 1 and shlex.split(lines[0])[:6] == [
                "ids=$(docker",
                "ps",
                "-aq",
                "--filter",
                f"label=io.kcli.pod-uid={uid});",
                "if",
            ]

    def test_short_grace_is_kept(self):
        assert "docker stop -t 3 $ids" in delete_pod_lines("u", grace=3)[0]

    def test_delete_matches_what_create_labels(self):
        pod, configs = desired(SIMPLE)
        uid = pod_uid(pod)
        for argv in runs(create_pod_lines(pod, PLACE, configs, pause=True)):
            assert labels_of(argv)["io.kcli.pod-uid"] == uid
        assert f"label=io.kcli.pod-uid={uid}" in delete_pod_lines(uid)[0]


# --------------------------------------------------------------------------- single-container layout


class TestSingleLayout:
    def test_which_pods_need_a_pause_container(self):
        assert not uses_pause(desired(SIMPLE)[0])
        assert uses_pause(
            desired(
                pod_yaml("""
            containers: [{name: a, image: "busybox:1.36"}, {name: b, image: "busybox:1.36"}]
        """)
            )[0]
        )
        assert uses_pause(
            desired(
                pod_yaml("""
            initContainers: [{name: i, image: "busybox:1.36"}]
            containers: [{name: a, image: "busybox:1.36"}]
        """)
            )[0]
        )
        assert uses_pause(
            desired(
                pod_yaml("""
            shareProcessNamespace: true
            containers: [{name: a, image: "busybox:1.36"}]
        """)
            )[0]
        )

    def test_one_docker_run_holds_the_pod_network_and_the_pod_labels(self):
        pod, configs = desired(
            pod_yaml("""
            hostAliases: [{ip: 10.1.2.3, hostnames: [db]}]
            containers:
            - name: app
              image: "busybox:1.36"
              args: [sleep, "60"]
              ports: [{containerPort: 80, hostPort: 8080, name: http}]
              resources: {requests: {cpu: 100m}}
        """)
        )
        uid = pod_uid(pod)
        lines = create_pod_lines(pod, PLACE, configs, dns_args=["--dns", "10.244.1.1"])
        (app,) = runs(lines)
        labels = labels_of(app)
        without_labels = [w for i, w in enumerate(app) if w != "--label" and app[i - 1] != "--label"]
        assert without_labels == [
            "docker",
            "run",
            "-d",
            "--name",
            f"k8s_app_web_default_{uid[:8]}_0",
            "--init",
            "--restart",
            "always",
            "--network",
            "kcli-pods",
            "--ip",
            "10.244.1.7",
            "--hostname",
            "web",
            "--dns",
            "10.244.1.1",
            "-p",
            "8080:80/tcp",
            "--add-host",
            "db:10.1.2.3",
            "--cpu-shares",
            "102",
            "busybox:1.36",
            "sleep",
            "60",
        ]
        assert labels["io.kcli.layout"] == "single"
        assert labels["io.kcli.type"] == "container" and labels["io.kcli.container"] == "app"
        assert labels["io.kubernetes.docker.type"] == "container" and labels["io.kubernetes.container.name"] == "app"
        # what the pause container carries in the other layout, so the pod is re-read from this one
        assert labels["io.kcli.containers"] == "app" and labels["io.kcli.restart-policy"] == "Always"
        assert json.loads(labels["io.kcli.host-ports"]) == [{"port": 8080, "protocol": "TCP", "ip": ""}]
        assert json.loads(labels["io.kcli.requests"]) == {"cpu": 100, "memory": 0}
        assert labels["io.kcli.pod-uid"] == uid and labels["io.kcli.node"] == "n1"
        assert not any(PAUSE_IMAGE in line for line in lines)
        assert image_prelude(pod) == (
            f"{image_var('busybox:1.36')}=0; docker image inspect busybox:1.36 >/dev/null 2>&1 "
            f"&& {image_var('busybox:1.36')}=1",
        )

    @pytest.mark.parametrize(("policy", "docker"), [("Always", "always"), ("OnFailure", "on-failure"), ("Never", "no")])
    def test_restart_policy_is_the_pods(self, policy, docker):
        pod, configs = desired(
            pod_yaml(f"""
            restartPolicy: {policy}
            containers: [{{name: app, image: "busybox:1.36"}}]
        """)
        )
        (app,) = runs(create_pod_lines(pod, PLACE, configs))
        assert flag_values(app, "--restart") == [docker]

    def test_host_network(self):
        pod, configs = desired(
            pod_yaml("""
            hostNetwork: true
            containers: [{name: app, image: "busybox:1.36"}]
        """)
        )
        (app,) = runs(create_pod_lines(pod, PLACE, configs, dns_args=["--dns", "1.1.1.1"]))
        assert flag_values(app, "--network") == ["host"] and "--ip" not in app and "--dns" not in app

    def test_environment_still_travels_as_data(self):
        pod, configs = desired(
            pod_yaml("""
            containers: [{name: app, image: "busybox:1.36", env: [{name: TOKEN, value: s3cret}]}]
        """)
        )
        lines = create_pod_lines(pod, PLACE, configs)
        assert env_of(lines) == [("TOKEN", "s3cret")]
        assert not any("s3cret" in w for w in runs(lines)[0])

    def test_a_pod_of_several_containers_cannot_skip_the_pause_container(self):
        pod, configs = desired(
            pod_yaml("""
            containers: [{name: a, image: "busybox:1.36"}, {name: b, image: "busybox:1.36"}]
        """)
        )
        with pytest.raises(PlanError, match="only a pod of one container"):
            create_pod_lines(pod, PLACE, configs, pause=False)


class TestBatchedDelete:
    def test_one_stop_and_one_rm_for_every_pod_of_the_node(self):
        a = PodContainers("uid-a", ("aaaaaaaaaaaa",))
        b = PodContainers("uid-b", ("bbbbbbbbbbb1", "bbbbbbbbbbb2"), ("ccccccccccc0",))
        lines = delete_pods_lines([a, b], grace=30)
        assert lines[0] == "docker stop -t 30 aaaaaaaaaaaa bbbbbbbbbbb1 bbbbbbbbbbb2 >/dev/null 2>&1 || true"
        assert lines[1] == (
            "if ! docker rm -f -v aaaaaaaaaaaa bbbbbbbbbbb1 bbbbbbbbbbb2 ccccccccccc0 >/dev/null 2>&1; then "
            'for u in uid-a uid-b; do ids=$(docker ps -aq --filter "label=io.kcli.pod-uid=$u"); '
            'if [ -n "$ids" ]; then docker rm -f -v $ids >/dev/null; fi; done; fi'
        )
        assert lines[2] == (
            "awk '{print $2}' /proc/mounts | while IFS= read -r m; do case $m in "
            '/var/lib/kcli/pods/uid-a/*|/var/lib/kcli/pods/uid-b/*) umount "$m" || true;; esac; done'
        )
        assert (
            lines[3]
            == "rm -rf /var/lib/kcli/pods/uid-a /run/kcli/pods/uid-a /var/lib/kcli/pods/uid-b /run/kcli/pods/uid-b"
        )

    def test_values_read_from_a_node_are_checked_and_quoted(self):
        with pytest.raises(PlanError, match="not a docker container id"):
            delete_pods_lines([PodContainers("u", ("$(reboot)",))])
        lines = delete_pods_lines([PodContainers("x'$(id)", ())])
        assert lines == [
            "for u in 'x'\"'\"'$(id)'; do ids=$(docker ps -aq --filter \"label=io.kcli.pod-uid=$u\"); "
            'if [ -n "$ids" ]; then docker rm -f -v $ids >/dev/null; fi; done'
        ]  # no directory removed


class TestProbes:
    def test_a_probed_pod_runs_its_probes_in_the_pause_containers_healthcheck(self):
        pod, configs = desired(
            pod_yaml("""
            containers:
            - name: app
              image: "busybox:1.36"
              ports: [{name: http, containerPort: 8080}]
              readinessProbe:
                httpGet: {path: "/ready?x=1 2", port: http, httpHeaders: [{name: X-A, value: "b c"}]}
                periodSeconds: 2
                timeoutSeconds: 3
              startupProbe: {tcpSocket: {port: 8080}, failureThreshold: 30}
        """)
        )
        assert uses_pause(pod)
        sandbox = runs(create_pod_lines(pod, PLACE, configs))[0]
        assert flag_values(sandbox, "--health-interval") == ["1s"] and flag_values(sandbox, "--health-retries") == ["1"]
        assert flag_values(sandbox, "--health-timeout") == ["4s"]
        (cmd,) = flag_values(sandbox, "--health-cmd")
        words = shlex.split(cmd)  # what the pause container's sh runs
        assert words == [
            "exec",
            "/kcli-probe",
            "/.kcli-probe-state",
            "s",
            "app",
            "tcp",
            "8080",
            "/",
            "1",
            "10",
            "0",
            "1",
            "30",
            "-",
            "r",
            "app",
            "http",
            "8080",
            "/ready?x=1 2",
            "3",
            "2",
            "0",
            "1",
            "3",
            "X-A: b c",
        ]
        assert labels_of(sandbox)["io.kcli.probes"] == "app"

    def test_a_probe_on_an_unknown_port_name_is_a_plan_error(self):
        pod, configs = desired(
            pod_yaml("""
            containers: [{name: app, image: "busybox:1.36", readinessProbe: {tcpSocket: {port: 8080}}}]
        """)
        )
        c = pod.spec.containers[0]
        c = dataclasses.replace(c, readiness_probe=dataclasses.replace(c.readiness_probe, port="web"))
        pod = dataclasses.replace(
            pod, template=dataclasses.replace(pod.template, spec=dataclasses.replace(pod.spec, containers=(c,)))
        )
        with pytest.raises(PlanError, match="probe port 'web'"):
            create_pod_lines(pod, PLACE, configs)

    def test_liveness_and_exec_probes_share_the_pid_namespace_and_mark_the_containers(self):
        pod, configs = desired(
            pod_yaml("""
            containers:
            - name: app
              image: "busybox:1.36"
              livenessProbe: {exec: {command: [cat, /tmp/healthy]}, periodSeconds: 2, failureThreshold: 2}
        """)
        )
        lines = create_pod_lines(pod, PLACE, configs)
        sandbox, app = runs(lines)
        (cmd,) = flag_values(sandbox, "--health-cmd")
        assert shlex.split(cmd)[3:14] == ["l", "app", "exec", "0", "cat\x1f/tmp/healthy", "1", "2", "0", "1", "2", "-"]
        assert flag_values(app, "--pid") == [f"container:k8s_POD_web_default_{pod_uid(pod)[:8]}_0"]
        assert ("KCLI_CONTAINER", "app") in env_of(lines)

    def test_readiness_alone_needs_no_shared_pid_namespace(self):
        pod, configs = desired(
            pod_yaml("""
            containers: [{name: app, image: "busybox:1.36", readinessProbe: {tcpSocket: {port: 80}}}]
        """)
        )
        lines = create_pod_lines(pod, PLACE, configs)
        assert "--pid" not in runs(lines)[1] and not any(k == "KCLI_CONTAINER" for k, _ in env_of(lines))


class TestTermination:
    def test_pre_stop_hooks_run_before_sigterm_and_each_pod_keeps_its_grace_period(self):
        a = PodContainers(
            "uid-a", ("aaaaaaaaaaaa",), grace=5, pre_stop=(("aaaaaaaaaaaa", {"exec": ["sh", "-c", "echo bye > /x"]}),)
        )
        b = PodContainers("uid-b", ("bbbbbbbbbbbb",), grace=60, pre_stop=(("bbbbbbbbbbbb", {"sleep": 90}),))
        lines = delete_pods_lines([a, b])
        assert lines[0] == (
            "( timeout 5 docker exec aaaaaaaaaaaa sh -c 'echo bye > /x' >/dev/null 2>&1 ) & ( sleep 60 ) & wait"
        )  # a sleep hook never outlasts the grace period
        assert lines[1] == (
            "docker stop -t 5 aaaaaaaaaaaa >/dev/null 2>&1 & docker stop -t 60 bbbbbbbbbbbb >/dev/null 2>&1 & wait"
        )
        with pytest.raises(PlanError, match="not a docker container id"):
            delete_pods_lines([PodContainers("u", ("aaaaaaaaaaaa",), pre_stop=(("x;reboot", {"sleep": 1}),))])

    def test_the_hook_and_the_grace_period_are_labelled_at_creation(self):
        pod, configs = desired(
            pod_yaml("""
            terminationGracePeriodSeconds: 7
            containers:
            - {name: app, image: "busybox:1.36", lifecycle: {preStop: {exec: {command: [nginx, -s, quit]}}}}
        """)
        )
        (app,) = runs(create_pod_lines(pod, PLACE, configs))
        labels = labels_of(app)
        assert labels["io.kcli.grace"] == "7" and json.loads(labels["io.kcli.pre-stop"]) == {
            "exec": ["nginx", "-s", "quit"]
        }


def test_a_native_sidecar_is_started_detached_in_its_turn_and_kept_running():
    pod, configs = desired(
        pod_yaml("""
        initContainers:
        - {name: proxy, image: "busybox:1.36", restartPolicy: Always, command: [sleep, "3600"]}
        - {name: migrate, image: "busybox:1.36", command: ["true"]}
        containers:
        - {name: app, image: "busybox:1.36"}
    """)
    )
    argvs = runs(create_pod_lines(pod, PLACE, configs))
    names = [next(a[i + 1] for i in range(len(a)) if a[i] == "--name").split("_")[1] for a in argvs]
    assert names == ["POD", "proxy", "migrate", "app"]  # in order: the sidecar before the next init container
    proxy, migrate = argvs[1], argvs[2]
    assert proxy[:5] == ["docker", "run", "-d", "--restart", "always"]  # never waited for: it does not exit
    assert "-d" not in migrate[:4]  # a plain init container runs to completion first
