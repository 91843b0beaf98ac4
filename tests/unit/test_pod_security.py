"""Pod fields real apps carry (issue 12, item 3): securityContext (pod and container),
serviceAccountName and ServiceAccount objects, and every env fieldRef.

Validation is checked through ``validate_documents`` (errors with their paths, warnings), the node
side through the argv ``create_pod_lines`` builds, and the runAsNonRoot check by running its lines
under ``sh`` with a stub ``docker``."""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import pytest

from kcli.core.objects import (
    ObjectKey,
    SecurityContext,
    ServiceAccount,
    capability_name,
    effective_security_context,
    normalize_sysctl,
    to_data,
)
from kcli.core.podrun import create_pod_lines, pod_uid, security_flags, sysctl_flags
from kcli.core.validate import SERVICE_ACCOUNT_WARNING
from kcli.core.workloads import failure_reason
from kcli.errors import PlanError
from tests.unit.test_planner import Sim, deployment, objs
from tests.unit.test_podrun import PLACE, desired, env_of, pod_yaml, runs
from tests.unit.test_validate import check, messages

BOUTIQUE = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: frontend}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      serviceAccountName: frontend
      securityContext: {fsGroup: 1000, runAsGroup: 1000, runAsNonRoot: true, runAsUser: 1000,
                        seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: server
        image: gcr.io/google-samples/microservices-demo/frontend:v0.10.2
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          privileged: false
          readOnlyRootFilesystem: true
        env: [{name: HOST, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}]
"""


def pod_with(spec: str):
    """(DesiredPod, configs) of a one-container pod with ``spec`` merged in (YAML, 4-space indented)."""
    return desired(pod_yaml(spec))


def app_argv(pod, configs, **kw) -> list[str]:
    return runs(create_pod_lines(pod, PLACE, configs, **kw))[-1]


def flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, w in enumerate(argv[:-1]) if w == flag]


# --------------------------------------------------------------------------- validation


class TestValidation:
    def test_a_real_world_deployment_is_accepted_with_one_warning_about_tokens(self):
        objects, errors, warnings = check(BOUTIQUE)
        assert errors == ()
        sa, dep = objects
        assert isinstance(sa, ServiceAccount) and sa.key.kind == "ServiceAccount" and sa.namespace == "default"
        spec = dep.template.spec
        assert spec.service_account_name == "frontend"
        assert spec.security_context == SecurityContext(
            run_as_user=1000, run_as_group=1000, run_as_non_root=True, seccomp="RuntimeDefault", fs_group=1000
        )
        assert spec.containers[0].security_context == SecurityContext(
            allow_privilege_escalation=False, cap_drop=("ALL",), read_only_root_filesystem=True
        )
        assert messages(warnings) == [f"manifests/web.yaml: doc 1 (ServiceAccount/frontend): {SERVICE_ACCOUNT_WARNING}"]

    def test_the_token_warning_is_given_once_per_apply_not_per_pod(self):
        pods = "\n---\n".join(
            pod_yaml(
                """
            serviceAccountName: robot
            containers: [{name: app, image: "busybox:1"}]
        """,
                name=f"p{i}",
            )
            for i in range(3)
        )
        _, errors, warnings = check(pods)
        assert errors == () and messages(warnings) == [
            f"manifests/web.yaml: doc 1 (Pod/p0): spec.serviceAccountName: {SERVICE_ACCOUNT_WARNING}"
        ]
        _, _, none = check(pod_yaml('containers: [{name: app, image: "busybox:1"}]'))
        assert none == ()  # no ServiceAccount named: nothing to warn about

    def test_service_account_fields_kcli_ignores_are_named(self):
        _, errors, warnings = check("""
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: robot}
            automountServiceAccountToken: false
            imagePullSecrets: [{name: reg}]
        """)
        assert errors == ()
        assert (
            "fields not implemented by kcli (ignored): imagePullSecrets (not added to its pods: name them in the "
            "pod spec)" in messages(warnings)[1]
        )

    def test_service_account_name_is_a_dns_subdomain(self):
        _, errors, _ = check(pod_yaml('serviceAccountName: Robot_1\ncontainers: [{name: app, image: "busybox:1"}]'))
        assert [e.path for e in errors] == ["spec.serviceAccountName"]

    def test_capability_names_are_checked(self):
        _, errors, _ = check(
            pod_yaml("""
            containers:
            - name: app
              image: "busybox:1"
              securityContext: {capabilities: {add: [NET_ADMIN, net_raw, NET_ADMINN, CAP_SYS_TIME], drop: [ALL, "rm -rf"]}}
        """)
        )
        assert [(e.path, e.message) for e in errors] == [
            (
                "spec.containers[0].securityContext.capabilities.add[2]",
                'unsupported value "NET_ADMINN": must be a Linux '
                "capability without the CAP_ prefix (such as NET_ADMIN, SYS_TIME) or ALL",
            ),
            (
                "spec.containers[0].securityContext.capabilities.add[3]",
                'unsupported value "CAP_SYS_TIME": must be a Linux '
                'capability without the CAP_ prefix (such as NET_ADMIN, SYS_TIME) or ALL: write "SYS_TIME"',
            ),
            (
                "spec.containers[0].securityContext.capabilities.drop[1]",
                'unsupported value "rm -rf": must be a Linux '
                "capability without the CAP_ prefix (such as NET_ADMIN, SYS_TIME) or ALL",
            ),
        ]

    def test_only_safe_sysctls_and_none_in_a_host_namespace(self):
        _, errors, _ = check(
            pod_yaml("""
            hostNetwork: true
            securityContext:
              sysctls:
              - {name: kernel.shm_rmid_forced, value: "1"}
              - {name: net.ipv4.ip_forward, value: "1"}
              - {name: "Net.Bad Name", value: "1"}
              - {name: net/ipv4/tcp_syncookies, value: "1"}
              - {name: kernel.shm_rmid_forced, value: "0"}
            containers: [{name: app, image: "busybox:1"}]
        """)
        )
        by_path = {e.path: e.message for e in errors}
        assert sorted(by_path) == [f"spec.securityContext.sysctls[{i}].name" for i in (1, 2, 3, 4)]
        assert by_path["spec.securityContext.sysctls[1].name"].startswith(
            'forbidden sysctl "net.ipv4.ip_forward": not in Kubernetes\' safe set (kernel.shm_rmid_forced, '
        )
        assert "must have at most 253 characters and match regex" in by_path["spec.securityContext.sysctls[2].name"]
        assert by_path["spec.securityContext.sysctls[3].name"] == (
            'invalid value "net/ipv4/tcp_syncookies": may not be specified when `hostNetwork` is true'
        )
        assert by_path["spec.securityContext.sysctls[4].name"] == 'duplicate value "kernel.shm_rmid_forced"'

    def test_ids_privileged_and_what_is_not_implemented(self):
        _, errors, warnings = check(
            pod_yaml("""
            securityContext: {runAsUser: -1, fsGroup: 2147483648, supplementalGroups: [5, -2], runAsGroup: 7,
                              seLinuxOptions: {level: "s0:c1"}}
            containers:
            - name: app
              image: "busybox:1"
              securityContext: {privileged: true, allowPrivilegeEscalation: false, seccompProfile: {type: Localhost,
                                localhostProfile: p.json}, procMount: Unmasked}
        """)
        )
        assert [(e.path, e.message) for e in errors] == [
            (
                "spec.containers[0].securityContext",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ),
            ("spec.securityContext.fsGroup", "must be between 0 and 2147483647, inclusive"),
            ("spec.securityContext.runAsUser", "must be between 0 and 2147483647, inclusive"),
            ("spec.securityContext.supplementalGroups[1]", "must be between 0 and 2147483647, inclusive"),
        ]
        _, errors, warnings = check(
            pod_yaml("""
            securityContext: {runAsGroup: 7, seLinuxOptions: {level: "s0:c1"}}
            containers:
            - name: app
              image: "busybox:1"
              securityContext: {privileged: true, seccompProfile: {type: Localhost, localhostProfile: p.json},
                                procMount: Unmasked}
        """)
        )
        assert errors == ()
        assert messages(warnings) == [
            "manifests/web.yaml: doc 1 (Pod/web): fields not implemented by kcli (ignored): "
            "spec.containers[0].securityContext.procMount, "
            "spec.containers[0].securityContext.seccompProfile.type (Localhost), "
            "spec.securityContext.runAsGroup (without runAsUser: the image's user keeps its group), "
            "spec.securityContext.seLinuxOptions",
            "manifests/web.yaml: doc 1 (Pod/web): spec.containers[0].securityContext.privileged: privileged container: "
            "docker run --privileged gives it every capability and the node's devices, i.e. root on the node (a dockerd "
            "that itself runs unprivileged refuses it)",
        ]

    def test_every_env_field_ref_is_implemented_and_the_rest_refused(self):
        refs = [
            "metadata.name",
            "metadata.namespace",
            "metadata.uid",
            "spec.nodeName",
            "spec.serviceAccountName",
            "status.podIP",
            "status.podIPs",
            "status.hostIP",
            "status.hostIPs",
            "metadata.labels['app']",
        ]
        env = ", ".join(f'{{name: V{i}, valueFrom: {{fieldRef: {{fieldPath: "{r}"}}}}}}' for i, r in enumerate(refs))
        _, errors, warnings = check(pod_yaml(f'containers: [{{name: app, image: "busybox:1", env: [{env}]}}]'))
        assert errors == () and warnings == ()  # nothing said to be ignored: all of them are set
        _, errors, _ = check(
            pod_yaml(
                'containers: [{name: app, image: "busybox:1", env: '
                "[{name: L, valueFrom: {fieldRef: {fieldPath: metadata.labels}}}]}]"
            )
        )
        assert [e.path for e in errors] == ["spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"]
        assert errors[0].message.startswith('unsupported value "metadata.labels": supported values: "metadata.name", ')


# --------------------------------------------------------------------------- objects


def test_a_pod_without_these_fields_hashes_as_before():
    """No new key in the hashed data of a pod that sets none of them: no rollout on upgrade."""
    dep = objs(deployment())[0]
    data = to_data(dep.template.spec)
    assert "security_context" not in data and "service_account_name" not in data
    assert "security_context" not in data["containers"][0]


def test_the_container_overrides_the_pod_as_kubernetes_merges():
    pod = SecurityContext(
        run_as_user=1,
        run_as_group=2,
        run_as_non_root=True,
        seccomp="Unconfined",
        fs_group=3,
        supplemental_groups=(4,),
        sysctls=(("a", "b"),),
        privileged=True,
    )
    assert effective_security_context(pod, SecurityContext(run_as_user=5, run_as_non_root=False)) == SecurityContext(
        run_as_user=5,
        run_as_group=2,
        run_as_non_root=False,
        seccomp="Unconfined",
        fs_group=3,
        supplemental_groups=(4,),
        sysctls=(("a", "b"),),
    )  # privileged is the container's alone
    assert effective_security_context(None, None) == SecurityContext()


@pytest.mark.parametrize(
    "raw, name",
    [
        ("NET_ADMIN", "NET_ADMIN"),
        ("sys_time", "SYS_TIME"),
        ("all", "ALL"),
        ("CAP_NET_ADMIN", None),
        ("NOPE", None),
        ("", None),
    ],
)
def test_capability_names(raw, name):
    assert capability_name(raw) == name


def test_sysctl_names_with_slashes_are_normalized_as_upstream():
    assert normalize_sysctl("net/ipv4/tcp_syncookies") == "net.ipv4.tcp_syncookies"
    assert normalize_sysctl("net/ipv4/conf/eno2.100/rp_filter") == "net.ipv4.conf.eno2/100.rp_filter"
    assert normalize_sysctl("kernel.shm_rmid_forced") == "kernel.shm_rmid_forced"


# --------------------------------------------------------------------------- docker run flags


class TestDockerFlags:
    def test_security_context_becomes_docker_flags(self):
        pod, configs = pod_with("""
            securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000, 2000],
                              seccompProfile: {type: RuntimeDefault}}
            containers:
            - name: app
              image: "busybox:1.36"
              securityContext:
                readOnlyRootFilesystem: true
                allowPrivilegeEscalation: false
                capabilities: {drop: [ALL], add: [net_bind_service]}
        """)
        argv = app_argv(pod, configs)
        assert flag_values(argv, "--user") == ["1000:3000"]
        assert flag_values(argv, "--group-add") == ["2000", "4000"]  # fsGroup, then supplementalGroups, once each
        assert "--read-only" in argv and "--privileged" not in argv
        assert flag_values(argv, "--security-opt") == ["no-new-privileges"]  # RuntimeDefault: docker's own profile
        assert flag_values(argv, "--cap-drop") == ["ALL"] and flag_values(argv, "--cap-add") == ["NET_BIND_SERVICE"]
        assert argv.index("--user") < argv.index("busybox:1.36")  # flags, not arguments of the image

    def test_the_container_overrides_the_pod_and_init_containers_get_it_too(self):
        pod, configs = pod_with("""
            securityContext: {runAsUser: 1000, runAsGroup: 3000}
            initContainers: [{name: init, image: "busybox:1.36", securityContext: {privileged: true}}]
            containers:
            - {name: a, image: "busybox:1.36", securityContext: {runAsUser: 2000, seccompProfile: {type: Unconfined}}}
            - {name: b, image: "busybox:1.36"}
        """)
        sandbox, init, a, b = runs(create_pod_lines(pod, PLACE, configs))
        assert "--user" not in sandbox  # the pause container (kcli-probe) stays root
        assert flag_values(init, "--user") == ["1000:3000"] and "--privileged" in init
        assert flag_values(a, "--user") == ["2000:3000"]
        assert flag_values(a, "--security-opt") == ["seccomp=unconfined"]
        assert flag_values(b, "--user") == ["1000:3000"] and "--privileged" not in b

    def test_no_security_context_no_flags(self):
        pod, configs = pod_with('containers: [{name: app, image: "busybox:1.36"}]')
        argv = app_argv(pod, configs)
        assert not {
            "--user",
            "--group-add",
            "--read-only",
            "--security-opt",
            "--cap-add",
            "--cap-drop",
            "--privileged",
            "--sysctl",
        } & set(argv)
        assert security_flags(pod, pod.spec.containers[0]) == [] and sysctl_flags(pod) == []

    def test_sysctls_go_on_the_container_owning_the_network_namespace(self):
        sysctls = (
            'securityContext: {sysctls: [{name: net.ipv4.ip_local_port_range, value: "1024 65000"}, '
            '{name: kernel.shm_rmid_forced, value: "1"}]}\n'
        )
        want = ["net.ipv4.ip_local_port_range=1024 65000", "kernel.shm_rmid_forced=1"]
        single, configs = pod_with(sysctls + 'containers: [{name: app, image: "busybox:1.36"}]')
        (argv,) = runs(create_pod_lines(single, PLACE, configs))
        assert flag_values(argv, "--sysctl") == want and "--ip" in argv
        pause, configs = pod_with(
            sysctls + 'containers: [{name: a, image: "busybox:1.36"}, {name: b, image: "busybox:1.36"}]'
        )
        sandbox, a, b = runs(create_pod_lines(pause, PLACE, configs))
        assert flag_values(sandbox, "--sysctl") == want and "--ip" in sandbox
        assert "--sysctl" not in a and "--sysctl" not in b  # they join the pause container's namespaces

    def test_fs_group_owns_the_volumes_kcli_makes(self):
        text = (
            pod_yaml("""
            securityContext: {fsGroup: 2000}
            volumes:
            - {name: scratch, emptyDir: {}}
            - {name: cfg, configMap: {name: cfg}}
            - {name: host, hostPath: {path: /srv}}
            - {name: claim, persistentVolumeClaim: {claimName: data}}
            containers: [{name: app, image: "busybox:1.36"}]
        """)
            + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n"
        )
        pod, configs = desired(text)
        lines = create_pod_lines(
            pod, PLACE, configs, claim_paths={"data": "/opt/local-path-provisioner/pvc-1_default_data"}
        )
        uid = pod_uid(pod)
        empty, cfg = (
            f"/var/lib/kcli/pods/{uid}/volumes/empty-dir/scratch",
            f"/var/lib/kcli/pods/{uid}/volumes/configmap/cfg",
        )
        group_lines = [ln for ln in lines if ln.startswith(("chgrp", "chmod g", "chmod -R"))]
        assert group_lines == [
            f"chgrp 2000 {empty}",
            f"chmod g+rwxs {empty}",  # setgid, group-writable
            f"chgrp -R 2000 {cfg}",
            f"chmod -R g+rX {cfg}",
            f"chmod g+s {cfg}",
            *(
                f"{c} /opt/local-path-provisioner/pvc-1_default_data"  # a claim: the whole volume
                for c in ("chgrp -R 2000", "chmod -R g+rwX", "chmod g+s")
            ),
        ]
        assert lines.index(f"chgrp 2000 {empty}") < next(i for i, ln in enumerate(lines) if ln.startswith("docker run"))
        assert not any("/srv" in ln for ln in group_lines)  # hostPath: as Kubernetes, untouched
        assert flag_values(runs(lines)[-1], "--group-add") == ["2000"]


# --------------------------------------------------------------------------- runAsNonRoot


def non_root_pod(container_sc: str = "", pod_sc: str = "runAsNonRoot: true"):
    return pod_with(f"""
        securityContext: {{{pod_sc}}}
        containers: [{{name: app, image: "busybox:1.36", securityContext: {{{container_sc}}}}}]
    """)


def check_lines(lines: list[str]) -> list[str]:
    """The lines of the node-side check: from reading the image's user to the case on it."""
    start = next(i for i, ln in enumerate(lines) if ln.startswith("kcli_user="))
    return lines[start : start + 2]


def run_check(lines: list[str], image_user: str) -> subprocess.CompletedProcess:
    """The check under sh -e, ``docker image inspect -f`` answering ``image_user``."""
    stub = "docker() { [ \"$1 $2 $3 $4\" = 'image inspect -f {{.Config.User}}' ] || exit 99; printf '%s\\n' \"$KCLI_TEST_USER\"; }"
    script = "\n".join(["set -e", stub, *lines, "echo passed"])
    return subprocess.run(
        [shutil.which("sh") or "/bin/sh", "-c", script],
        capture_output=True,
        text=True,
        env={"KCLI_TEST_USER": image_user, "PATH": "/usr/bin:/bin"},
        timeout=10,
    )


class TestRunAsNonRoot:
    def test_run_as_user_zero_is_refused_at_plan_time_with_kubelets_message(self):
        pod, configs = non_root_pod("runAsUser: 0")
        with pytest.raises(
            PlanError,
            match=r"pod default/web: container's runAsUser breaks non-root policy "
            r"\(pod: \"web_default\(.*\)\", container: app\)",
        ):
            create_pod_lines(pod, PLACE, configs)

    def test_a_non_zero_user_or_no_run_as_non_root_needs_no_check(self):
        for pod, configs in (
            non_root_pod("runAsUser: 1000"),
            non_root_pod("runAsNonRoot: false"),
            non_root_pod(pod_sc="runAsUser: 0"),
        ):
            assert not any(ln.startswith("kcli_user=") for ln in create_pod_lines(pod, PLACE, configs))

    def test_the_image_user_is_checked_on_the_node_after_the_pull_before_any_container(self):
        pod, configs = non_root_pod()
        lines = create_pod_lines(pod, PLACE, configs)
        read, _ = check_lines(lines)
        assert read == "kcli_user=$(docker image inspect -f '{{.Config.User}}' busybox:1.36)"
        at = lines.index(read)
        assert any("docker pull" in ln for ln in lines[:at])
        assert not any(ln.startswith("docker run") for ln in lines[:at])

    @pytest.mark.parametrize(
        "image_user, passes, says",
        [
            ("", False, "image will run as root"),
            ("0", False, "image will run as root"),
            ("0:0", False, "image will run as root"),
            ("000", False, "image will run as root"),
            ("root", False, "image has non-numeric user (root), cannot verify user is non-root"),
            ("nobody:nogroup", False, "image has non-numeric user (nobody), cannot verify user is non-root"),
            ("1000", True, ""),
            ("65534:65534", True, ""),
            ("10", True, ""),
        ],
    )
    @pytest.mark.skipif(not shutil.which("sh"), reason="needs sh")
    def test_the_node_check_follows_kubelet(self, image_user, passes, says):
        pod, configs = non_root_pod()
        res = run_check(check_lines(create_pod_lines(pod, PLACE, configs)), image_user)
        assert (res.returncode == 0) == passes, res
        if passes:
            assert res.stdout == "passed\n"
        else:
            assert res.stdout == "" and res.stderr.startswith(
                f"CreateContainerConfigError: container has runAsNonRoot and {says}"
            )
            assert res.stderr.endswith(f'(pod: "web_default({pod_uid(pod)})", container: app)\n')
            assert failure_reason(res.stderr) == "CreateContainerConfigError"

    @pytest.mark.skipif(not shutil.which("sh"), reason="needs sh")
    def test_a_hostile_image_user_is_printed_not_run(self, tmp_path):
        pod, configs = non_root_pod()
        marker = tmp_path / "PWN"
        user = f"$(touch {marker})`touch {marker}`'\"; touch {marker}"
        res = run_check(check_lines(create_pod_lines(pod, PLACE, configs)), user)
        assert res.returncode == 1 and not marker.exists()
        assert f"non-numeric user ({user}), cannot verify" in res.stderr


# --------------------------------------------------------------------------- field refs, ServiceAccount objects


def test_field_refs_service_account_and_host_ips():
    pod, configs = pod_with("""
        serviceAccountName: robot
        containers:
        - name: app
          image: "busybox:1.36"
          env:
          - {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
          - {name: HOSTS, valueFrom: {fieldRef: {fieldPath: status.hostIPs}}}
          - {name: PODS, valueFrom: {fieldRef: {fieldPath: status.podIPs}}}
    """)
    assert env_of(create_pod_lines(pod, PLACE, configs)) == [
        ("SA", "robot"),
        ("HOSTS", "192.168.56.11"),
        ("PODS", "10.244.1.7"),
    ]
    legacy, configs = pod_with("""
        serviceAccount: old-name
        containers: [{name: app, image: "busybox:1.36", env: [{name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}]}]
    """)
    assert env_of(create_pod_lines(legacy, PLACE, configs)) == [("SA", "old-name")]


def test_a_service_account_is_applied_recorded_and_deleted():
    sim = Sim()
    sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot}\nautomountServiceAccountToken: false\n"
    web = deployment().replace("containers:", "serviceAccountName: robot\n          containers:")
    _, _, _, message = sim.converge(objs(sa + "---" + textwrap.dedent(web)))
    assert "serviceaccount/robot created" in message and "ServiceAccount/default/robot" in sim.state["objects"]
    assert len(sim.pods("web-")) == 3
    _, _, _, message = sim.converge(objs(sa + "---" + textwrap.dedent(web)))
    assert "serviceaccount/robot" not in message  # unchanged: nothing to say
    _, _, _, message = sim.converge([], delete=[ObjectKey("ServiceAccount", "default", "robot")])
    assert "serviceaccount/robot deleted" in message and "ServiceAccount/default/robot" not in sim.state["objects"]
    assert len(sim.pods("web-")) == 3  # pods do not depend on it
