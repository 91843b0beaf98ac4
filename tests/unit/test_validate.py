"""Manifest validation: every error at once with file, doc, kind/name and path; defaults; no crashes."""

from __future__ import annotations

import base64
import copy
import random
import textwrap

import pytest
import yaml

from kcli.core.objects import (
    ConfigMap,
    DaemonSet,
    Deployment,
    Document,
    Job,
    ObjectKey,
    Pod,
    Secret,
    Service,
    Source,
    default_pull_policy,
    pod_template_hash,
    spec_hash,
)
from kcli.core.validate import validate_documents

FILE = "manifests/web.yaml"

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
"""


def docs(text: str, file: str = FILE) -> list[Document]:
    return [Document(Source(file, i + 1), d) for i, d in enumerate(yaml.safe_load_all(textwrap.dedent(text)))]


def check(text: str, **kw):
    return validate_documents(docs(text), **kw)


def messages(problems) -> list[str]:
    return [str(p) for p in problems]


# --------------------------------------------------------------------------- valid input and defaults


def test_valid_deployment_gets_kubernetes_defaults():
    objects, errors, warnings = check(DEPLOYMENT)
    assert errors == () and warnings == ()
    (d,) = objects
    assert isinstance(d, Deployment)
    assert (d.namespace, d.replicas, d.revision_history_limit, d.progress_deadline_seconds) == ("default", 2, 10, 600)
    assert (d.strategy.type, d.strategy.max_surge, d.strategy.max_unavailable) == ("RollingUpdate", "25%", "25%")
    c = d.template.spec.containers[0]
    assert d.template.spec.restart_policy == "Always"
    assert d.template.spec.dns_policy == "ClusterFirst"
    assert d.template.spec.termination_grace_period_seconds == 30
    assert c.image_pull_policy == "IfNotPresent"
    assert c.ports[0].protocol == "TCP"
    assert d.ref == "deployment.apps/web"
    assert d.key == ObjectKey("Deployment", "default", "web")
    assert d.manifest["spec"]["replicas"] == 2  # original kept for last-applied
    assert d.source == Source(FILE, 1)


def test_replicas_default_to_one():
    objects, errors, _ = check(DEPLOYMENT.replace("  replicas: 2\n", ""))
    assert errors == ()
    assert objects[0].replicas == 1


@pytest.mark.parametrize(
    "image, policy",
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("registry.k8s.io/redis@sha256:cb111d1b", "IfNotPresent"),
    ],
)
def test_image_pull_policy_default(image, policy):
    assert default_pull_policy(image) == policy


def test_service_job_configmap_secret_defaults():
    objects, errors, _ = check("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{name: a, port: 80}, {name: b, port: 81, targetPort: 0}]
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {name: pi}
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: pi, image: perl}]
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {name: queue}
        spec:
          parallelism: 3
          template:
            spec:
              restartPolicy: OnFailure
              containers: [{name: w, image: busybox}]
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: s, namespace: prod}
        data: {user: YWRtaW4=}
        stringData: {pass: hunter2}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c}
        data: {a: "1"}
    """)
    assert errors == ()
    svc, job, queue, secret, cm = objects
    assert isinstance(svc, Service) and svc.type == "ClusterIP"
    assert (svc.ports[0].target_port, svc.ports[0].protocol) == (80, "TCP")
    assert svc.ports[1].target_port == 81  # targetPort 0 is unset: it defaults to port
    assert isinstance(job, Job) and (job.completions, job.parallelism, job.backoff_limit) == (1, 1, 6)
    assert (queue.completions, queue.parallelism) == (None, 3)
    assert isinstance(secret, Secret) and secret.type == "Opaque" and secret.namespace == "prod"
    assert secret.data == {"user": b"admin", "pass": b"hunter2"}
    assert isinstance(cm, ConfigMap) and cm.data == {"a": "1"}
    assert cm.content_hash() != ConfigMap(meta=cm.meta, data={"a": "2"}).content_hash()


def test_request_defaults_to_limit():
    objects, errors, _ = check("""
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          containers:
          - name: c
            image: busybox
            resources: {limits: {cpu: "0.5", memory: 128Mi}, requests: {cpu: 100m}}
    """)
    assert errors == ()
    res = objects[0].spec.containers[0].resources
    assert res.requests == {"cpu": 100, "memory": 134217728}
    assert res.limits == {"cpu": 500, "memory": 134217728}


def test_pod_template_hash_is_stable_and_uses_safe_alphabet():
    (d,) = check(DEPLOYMENT).objects
    (same,) = check(
        DEPLOYMENT.replace("ports: [{containerPort: 80}]", "ports: [{containerPort: 80, protocol: TCP}]")
    ).objects
    (other,) = check(DEPLOYMENT.replace("nginx:1.27", "nginx:1.28")).objects
    h = pod_template_hash(d.template)
    assert h == pod_template_hash(same.template)  # defaults do not change the hash
    assert h != pod_template_hash(other.template)
    assert h != pod_template_hash(d.template, extra="ConfigMap/page=abc")
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    assert spec_hash({"b": 1, "a": [1, 2]}) == spec_hash({"a": [1, 2], "b": 1})
    assert len(spec_hash({})) == 10


# --------------------------------------------------------------------------- errors


def test_error_names_file_doc_kind_name_and_path():
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n" + DEPLOYMENT.replace(
        "containerPort: 80", "containerPort: 70000"
    )
    objects, errors, _ = check(text)
    assert messages(errors) == [
        "manifests/web.yaml: doc 2 (Deployment/web): spec.template.spec.containers[0].ports[0].containerPort: "
        "must be between 1 and 65535, inclusive"
    ]
    assert [o.kind for o in objects] == ["Namespace"]  # the invalid object is not built


def test_every_error_is_listed_not_only_the_first():
    _, errors, warnings = check(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: Web, labelz: {}}
        spec:
          replicas: three
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: other}}
            spec:
              restartPolicy: Never
              containers:
              - name: web
                image: nginx
                imagePullPolicy: Sometimes
                ports: [{containerPort: 0, protocol: XYZ}, {containerPort: http}]
                resources: {requests: {cpu: 2, memory: 1K}, limits: {cpu: 1}}
              - name: web
                image: nginx
              - image: nginx
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: 1svc}
        spec:
          ports: [{port: 80, nodePort: 30080}, {port: 0, name: b}]
    """,
        known=set(),
    )
    p = "manifests/web.yaml: doc 1 (Deployment/Web): "
    q = "manifests/web.yaml: doc 2 (Service/1svc): "
    assert messages(errors) == [
        p + "metadata.labelz: unknown field",
        p + 'metadata.name: invalid value "Web": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'example.com', regex used for validation is "
        r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        p + 'spec.replicas: must be integer, got string "three"',
        p + "spec.template.metadata.labels: `selector` does not match template `labels` "
        "(selector: app=web; labels: app=other)",
        p + 'spec.template.spec.containers[0].imagePullPolicy: unsupported value "Sometimes": supported values: '
        '"Always", "IfNotPresent", "Never"',
        p + "spec.template.spec.containers[0].ports[0].containerPort: must be between 1 and 65535, inclusive",
        p + 'spec.template.spec.containers[0].ports[0].protocol: unsupported value "XYZ": supported values: '
        '"TCP", "UDP", "SCTP"',
        p + 'spec.template.spec.containers[0].ports[1].containerPort: must be integer, got string "http"',
        p + "spec.template.spec.containers[0].resources.requests.cpu: must be less than or equal to cpu limit of 1",
        p + 'spec.template.spec.containers[0].resources.requests.memory: invalid value "1K": quantities must match '
        "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        p + 'spec.template.spec.containers[1].name: duplicate value "web"',
        p + "spec.template.spec.containers[2].name: required value",
        p + 'spec.template.spec.restartPolicy: unsupported value "Never": supported values: "Always"',
        q + 'metadata.name: invalid value "1svc": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character "
        "(e.g. 'my-name', or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        q + "spec.ports[0].name: required value (every port needs a name when there is more than one)",
        q + "spec.ports[0].nodePort: may not be used when `type` is 'ClusterIP'",
        q + "spec.ports[1].port: must be between 1 and 65535, inclusive",
    ]
    assert warnings == ()  # the unknown field is an error, not also an "unimplemented" warning


@pytest.mark.parametrize(
    "kind, api, name, ok",
    [
        ("Namespace", "v1", "a.b", False),
        ("Namespace", "v1", "team-a", True),
        ("ConfigMap", "v1", "a.b", True),
        ("Service", "v1", "a.b", False),
        ("Service", "v1", "9lives", False),
        ("Pod", "v1", "9lives", True),
        ("ConfigMap", "v1", "x" * 254, False),
        ("Namespace", "v1", "x" * 64, False),
    ],
)
def test_dns_name_rule_per_kind(kind, api, name, ok):
    extra = {"Service": "spec: {ports: [{port: 80}]}", "Pod": "spec: {containers: [{name: c, image: i}]}"}.get(kind, "")
    _, errors, _ = check(f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: '{name}'}}\n{extra}\n")
    assert (errors == ()) is ok, messages(errors)
    if not ok:
        assert errors[0].path == "metadata.name"


def test_labels_and_selectors_are_checked():
    _, errors, _ = check("""
        apiVersion: v1
        kind: Pod
        metadata: {name: p, labels: {"bad key!": x, app: "-bad-"}}
        spec:
          nodeSelector: {disk: "a b"}
          containers: [{name: c, image: i}]
    """)
    assert [(e.path, e.message.split(":")[0]) for e in errors] == [
        ("metadata.labels", 'invalid label key "bad key!"'),
        ("metadata.labels.app", 'invalid value "-bad-"'),
        ("spec.nodeSelector.disk", 'invalid value "a b"'),
    ]


def test_missing_required_fields():
    _, errors, _ = check("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {labels: {a: b}}
        spec:
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: []
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {name: j}
        spec:
          template:
            spec:
              containers: [{name: c, image: i}]
    """)
    assert [(e.doc, e.path, e.message) for e in errors] == [
        (1, "metadata.name", "required value"),
        (1, "spec.selector", "required value"),
        (1, "spec.template.spec.containers", "required value"),
        (2, "spec.template.spec.restartPolicy", 'required value: supported values: "OnFailure", "Never"'),
    ]


def test_volumes_mounts_and_unsupported_volume_types():
    _, errors, _ = check("""
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          containers:
          - name: c
            image: i
            volumeMounts: [{name: data, mountPath: /data}, {name: gone, mountPath: /x}, {name: cache, mountPath: /data}]
          volumes:
          - {name: data, nfs: {server: nfs.example, path: /x}}
          - {name: cache, emptyDir: {sizeLimit: 1Q}}
          - {name: cache, hostPath: {path: relative}}
    """)
    assert [(e.path, e.message) for e in errors] == [
        ("spec.containers[0].volumeMounts[1].name", 'not found: "gone" (no volume of that name in the pod)'),
        ("spec.containers[0].volumeMounts[2].mountPath", "must be unique"),
        (
            "spec.volumes[0].nfs",
            "volume type nfs is not supported by kcli "
            "(supported: emptyDir, hostPath, configMap, secret, persistentVolumeClaim, downwardAPI)",
        ),
        (
            "spec.volumes[1].emptyDir.sizeLimit",
            'invalid value "1Q": quantities must match the regular expression '
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        ("spec.volumes[2].hostPath.path", 'invalid value "relative": must be an absolute path'),
        ("spec.volumes[2].name", 'duplicate value "cache"'),
    ]


def test_rolling_update_and_secret_checks():
    _, errors, _ = check(
        DEPLOYMENT.replace(
            "  replicas: 2\n", "  replicas: 2\n  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}\n"
        )
        + """
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {a: "not base64!"}
"""
    )
    assert [(e.doc, e.path, e.message) for e in errors] == [
        (1, "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"),
        (2, "data.a", "illegal base64 data"),
    ]


# --------------------------------------------------------------------------- references

POD_WITH_REFS = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    env:
    - {name: A, valueFrom: {configMapKeyRef: {name: cfg, key: a}}}
    - {name: B, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: C, valueFrom: {configMapKeyRef: {name: maybe, key: x, optional: true}}}
    envFrom: [{secretRef: {name: more}}]
    volumeMounts: [{name: page, mountPath: /www}]
  volumes: [{name: page, configMap: {name: page}}]
"""


def test_references_missing_everywhere_are_errors():
    _, errors, warnings = check(POD_WITH_REFS, known={ObjectKey("Secret", "default", "more")})
    assert messages(errors) == [
        'manifests/web.yaml: doc 1 (Pod/p): spec.containers[0].env[0].valueFrom.configMapKeyRef.name: ConfigMap "cfg" '
        "not found: it is neither in the applied set nor in the cluster (namespace default)",
        'manifests/web.yaml: doc 1 (Pod/p): spec.containers[0].env[1].valueFrom.secretKeyRef.name: Secret "creds" '
        "not found: it is neither in the applied set nor in the cluster (namespace default)",
        'manifests/web.yaml: doc 1 (Pod/p): spec.volumes[0].configMap.name: ConfigMap "page" '
        "not found: it is neither in the applied set nor in the cluster (namespace default)",
    ]
    assert warnings == ()


def test_references_satisfied_by_the_set_and_key_checked():
    text = (
        POD_WITH_REFS
        + """
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {b: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: page}
data: {index.html: hi}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: x}
---
apiVersion: v1
kind: Secret
metadata: {name: more, namespace: other}
"""
    )
    _, errors, _ = check(text, known=set())
    assert [(e.path, e.message) for e in errors] == [
        ("spec.containers[0].env[0].valueFrom.configMapKeyRef.name", 'key "a" not found in ConfigMap "cfg"'),
        (
            "spec.containers[0].envFrom[0].secretRef.name",
            'Secret "more" not found: it is neither in the applied set nor in the cluster (namespace default)',
        ),
    ]


def test_without_cluster_knowledge_missing_references_are_warnings():
    objects, errors, warnings = check(POD_WITH_REFS, known=None)
    assert errors == () and len(objects) == 1
    assert [w.path for w in warnings] == [
        "spec.containers[0].env[0].valueFrom.configMapKeyRef.name",
        "spec.containers[0].env[1].valueFrom.secretKeyRef.name",
        "spec.containers[0].envFrom[0].secretRef.name",
        "spec.volumes[0].configMap.name",
    ]
    assert (
        warnings[0].message
        == 'ConfigMap "cfg" is not in the applied set (namespace default); it must exist in the cluster'
    )


# --------------------------------------------------------------------------- kinds and warnings


def test_unsupported_kinds_are_errors_or_skipped_with_a_warning():
    text = """
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {name: fast}
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: hello}
        ---
        apiVersion: extensions/v1beta1
        kind: DaemonSet
        metadata: {name: old}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w}
    """
    _, errors, _ = check(text)
    assert messages(errors) == [
        "manifests/web.yaml: doc 1 (StorageClass/fast): kind: StorageClass objects are not supported by kcli: its "
        "one class, local-path (a directory on the node of the claim's first pod), is built in",
        "manifests/web.yaml: doc 2 (CronJob/hello): kind: CronJob needs a scheduler running in the cluster; kcli has "
        "no agent: not supported",
        'manifests/web.yaml: doc 3 (DaemonSet/old): apiVersion: apiVersion "extensions/v1beta1" is not supported for '
        "DaemonSet; kcli supports apps/v1",
        "manifests/web.yaml: doc 4 (Widget/w): kind: Widget (example.com/v1) is not supported by kcli",
    ]
    objects, errors, warnings = check(textwrap.dedent(text) + "---\n" + DEPLOYMENT, skip_unsupported=True)
    assert errors == () and [o.kind for o in objects] == ["Deployment"]
    assert messages(warnings)[1] == (
        "manifests/web.yaml: doc 2 (CronJob/hello): skipped: CronJob needs a scheduler "
        "running in the cluster; kcli has no agent: not supported"
    )
    assert len(warnings) == 4


def test_unimplemented_fields_make_one_warning_per_object():
    objects, errors, warnings = check("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              securityContext: {runAsUser: 1000, seLinuxOptions: {level: "s0:c123,c456"}}
              affinity:
                podAntiAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                  - {labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}
              containers:
              - name: web
                image: nginx
                livenessProbe: {httpGet: {path: /, port: 80}}
                readinessProbe: {tcpSocket: {port: 80}}
                lifecycle: {preStop: {exec: {command: [sleep, "5"]}}}
                env: [{name: IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}]
    """)
    assert errors == () and len(objects) == 1
    assert (
        messages(warnings)
        == [
            "manifests/web.yaml: doc 1 (Deployment/web): fields not implemented by kcli (ignored): "
            "spec.template.spec.affinity.podAntiAffinity, "
            "spec.template.spec.securityContext.seLinuxOptions"  # probes, preStop exec, runAsUser, status.hostIP are implemented
        ]
    )


def test_duplicate_objects_are_reported_with_the_first_location():
    _, errors, _ = validate_documents(docs(DEPLOYMENT, "a.yaml") + docs(DEPLOYMENT, "b.yaml"))
    assert messages(errors) == [
        "b.yaml: doc 1 (Deployment/web): metadata.name: duplicate object: Deployment default/web is already defined "
        "in a.yaml: doc 1"
    ]


def test_odd_documents_are_errors_not_crashes():
    _, errors, _ = validate_documents(
        [
            Document(Source("f.yaml", 1), None),  # empty document: ignored like kubectl
            Document(Source("f.yaml", 2), ["a", "list"]),
            Document(Source("f.yaml", 3), "text"),
            Document(Source("f.yaml", 4), {"kind": "Pod"}),
            Document(Source("f.yaml", 5), {"apiVersion": 1, "kind": ["Pod"]}),
            Document(Source("f.yaml", 6), {"apiVersion": "v1", "kind": "Pod", "metadata": [], "spec": "x"}),
        ]
    )
    assert messages(errors) == [
        "f.yaml: doc 2: a document must be a Kubernetes object (a mapping), got array",
        "f.yaml: doc 3: a document must be a Kubernetes object (a mapping), got string",
        "f.yaml: doc 4 (Pod): apiVersion: required value",
        "f.yaml: doc 5: apiVersion: must be string, got integer",
        "f.yaml: doc 5: kind: must be string, got array",
        "f.yaml: doc 6 (Pod): metadata: must be object, got array []",
        'f.yaml: doc 6 (Pod): spec: must be object, got string "x"',
    ]


JUNK = [None, 0, -1, 70000, "", "x", "-1", True, [], [None], ["x"], {}, {"a": None}, [{}], 1.5, {"name": []}]


def _mutations(doc, rng: random.Random, n: int):
    """Replace one random subtree of ``doc`` with junk, ``n`` times (deterministic)."""
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + (i,))

    walk(doc, ())
    for _ in range(n):
        path = rng.choice(paths[1:])
        mutated = copy.deepcopy(doc)
        node = mutated
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = copy.deepcopy(rng.choice(JUNK))
        yield mutated


def test_never_crashes_on_any_shape():
    base = yaml.safe_load(textwrap.dedent(POD_WITH_REFS))
    dep = yaml.safe_load(textwrap.dedent(DEPLOYMENT))
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {
            "type": "NodePort",
            "ports": [{"port": 80, "targetPort": "http", "nodePort": 30001}],
            "selector": {"a": "b"},
        },
    }
    rng = random.Random(4)
    for original in (base, dep, svc):
        for mutated in _mutations(original, rng, 300):
            objects, errors, warnings = validate_documents([Document(Source("fuzz.yaml", 1), mutated)], known=set())
            for p in errors + warnings:
                assert p.file == "fuzz.yaml" and p.doc == 1
            assert len(objects) + bool(errors) >= 1 or warnings


def test_supported_objects_are_typed():
    objects, errors, _ = check("""
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent, namespace: kube-system}
        spec:
          selector: {matchLabels: {app: agent}}
          template:
            metadata: {labels: {app: agent}}
            spec:
              tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
              nodeSelector: {disk: ssd}
              containers: [{name: a, image: busybox}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a, b]}]}]
          containers: [{name: c, image: busybox, ports: [{containerPort: 80, hostPort: 8080}]}]
    """)
    assert errors == ()
    ds, pod = objects
    assert isinstance(ds, DaemonSet) and ds.namespace == "kube-system"
    assert ds.template.spec.tolerations[0].operator == "Exists"
    assert ds.update_strategy.type == "RollingUpdate" and ds.update_strategy.max_unavailable == 1
    assert isinstance(pod, Pod)
    assert pod.spec.required_node_terms[0].match_expressions[0].values == ("a", "b")
    assert pod.spec.containers[0].ports[0].host_port == 8080


def test_recursive_aliases_and_alias_bombs_are_refused_before_any_walk():
    loop: dict = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    loop["data"] = loop
    level: list = ["x"] * 10
    for _ in range(6):
        level = [level] * 10  # 10^7 values through shared references, as YAML aliases build them
    bomb = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": level}
    _, errors, _ = validate_documents([Document(Source("f.yaml", 1), loop), Document(Source("f.yaml", 2), bomb)])
    assert messages(errors) == [
        "f.yaml: doc 1 (ConfigMap/x): nested deeper than 100 levels (or a recursive YAML alias)",
        "f.yaml: doc 2 (Pod/p): more than 1000000 values (too many YAML aliases?)",
    ]


# --------------------------------------------------------------------------- bounded input (issue 8)


def _deployment(replicas: int, name: str = "web") -> str:
    return DEPLOYMENT.replace("  replicas: 2\n", f"  replicas: {replicas}\n").replace("name: web}", f"name: {name}}}")


JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  parallelism: %d
  completions: %d
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"""


def test_replicas_are_bounded_by_the_pod_network():
    _, errors, _ = check(_deployment(65536))
    assert errors == ()
    _, errors, _ = check(_deployment(1_000_000_000))
    assert messages(errors) == [
        f"{FILE}: doc 1 (Deployment/web): spec.replicas: must be <= 65536 (the pod network "
        "10.244.0.0/16 holds at most 65536 pods)"
    ]
    _, errors, _ = check(_deployment(5000), pod_cidr="10.1.0.0/20")
    assert [e.message for e in errors] == ["must be <= 4096 (the pod network 10.1.0.0/20 holds at most 4096 pods)"]
    _, errors, _ = check(
        DEPLOYMENT.replace("kind: Deployment", "kind: ReplicaSet").replace("  replicas: 2\n", "  replicas: 70000\n")
    )
    assert [e.path for e in errors] == ["spec.replicas"]
    _, errors, _ = check(JOB % (100_000, 200_000))
    assert [e.path for e in errors] == ["spec.completions", "spec.parallelism"]
    assert errors[0].message == "must be <= 65536 (the pod network 10.244.0.0/16 holds at most 65536 pods)"


def test_pods_asked_for_by_the_whole_set_are_bounded_too():
    _, errors, _ = check(
        _deployment(30000, "a")
        + "---"
        + _deployment(30000, "b")
        + "---"
        + JOB % (5000, 10000)
        + "---"
        + _deployment(537, "c")
    )
    assert messages(errors) == [
        f"{FILE}: doc 4 (Deployment/c): spec.replicas: the objects of this apply ask for more than 65536 pods at once "
        "(this one brings the total to 65537); the pod network 10.244.0.0/16 holds at most 65536 pods"
    ]
    _, errors, _ = check(_deployment(30000, "a") + "---" + _deployment(30000, "b") + "---" + JOB % (10000, 10))
    assert errors == ()  # the Job runs min(parallelism, completions) = 10 pods at once


def _config(kind: str, sections: dict) -> list[Document]:
    return [Document(Source(FILE, 1), {"apiVersion": "v1", "kind": kind, "metadata": {"name": "big"}, **sections})]


def test_configmaps_and_secrets_hold_at_most_one_mib():
    mib = 1024 * 1024
    ok = _config(
        "ConfigMap", {"data": {"a": "x" * (mib - 10)}, "binaryData": {"b": base64.b64encode(b"y" * 10).decode()}}
    )
    assert validate_documents(ok).errors == ()
    over = _config("ConfigMap", {"data": {"a": "x" * 10}, "binaryData": {"b": base64.b64encode(b"y" * mib).decode()}})
    assert messages(validate_documents(over).errors) == [
        f"{FILE}: doc 1 (ConfigMap/big): binaryData: Too long: may not be more than 1048576 bytes (the ConfigMap's "
        "data and binaryData hold 1048586 bytes together)"
    ]
    ten_mb = _config("ConfigMap", {"data": {"k": "a" * 10_000_000}})
    assert [(e.path, e.message.split(" (")[0]) for e in validate_documents(ten_mb).errors] == [
        ("data", "Too long: may not be more than 1048576 bytes")
    ]
    # multi-byte characters count as bytes, as the API server counts them
    utf8 = _config("ConfigMap", {"data": {"k": "é" * (mib // 2 + 1)}})
    assert [e.path for e in validate_documents(utf8).errors] == ["data"]
    # a Secret's data is counted decoded; stringData replaces data keys of the same name
    secret = _config(
        "Secret",
        {"data": {"a": base64.b64encode(b"z" * (mib - 100)).decode()}, "stringData": {"a": "short", "b": "x" * 50}},
    )
    assert validate_documents(secret).errors == ()
    secret = _config(
        "Secret", {"data": {"a": base64.b64encode(b"z" * (mib - 100)).decode()}, "stringData": {"b": "x" * 101}}
    )
    assert [(e.path, e.message) for e in validate_documents(secret).errors] == [
        (
            "data",
            "Too long: may not be more than 1048576 bytes (the Secret's data and stringData hold 1048577 bytes "
            "together)",
        )
    ]


def test_annotations_hold_at_most_256_kib():
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "annotations": {"note": "x" * (256 * 1024 - 4)}},
    }
    assert validate_documents([Document(Source(FILE, 1), doc)]).errors == ()
    doc["metadata"]["annotations"]["n"] = "y"
    assert [(e.path, e.message) for e in validate_documents([Document(Source(FILE, 1), doc)]).errors] == [
        (
            "metadata.annotations",
            "Too long: may not be more than 262144 bytes (keys and values hold 262146 bytes together)",
        )
    ]


def test_nul_anywhere_is_an_error_with_its_path():
    pod = yaml.safe_load(
        textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: p, labels: {app: web}}
        spec:
          containers:
          - name: c
            image: busybox
            command: [sh, -c, "echo a\\0b"]
            env: [{name: A, value: "x\\0"}]
    """)
    )
    assert pod["spec"]["containers"][0]["env"][0]["value"] == "x\x00"
    pod["metadata"]["labels"]["k\x00"] = "v"
    _, errors, _ = validate_documents([Document(Source(FILE, 1), pod)])
    assert messages(errors) == [
        f"{FILE}: doc 1 (Pod/p): metadata.labels.k\\x00: keys must not contain NUL (\\x00)",
        f"{FILE}: doc 1 (Pod/p): spec.containers[0].command[2]: must not contain NUL (\\x00), found at character 6",
        f"{FILE}: doc 1 (Pod/p): spec.containers[0].env[0].value: must not contain NUL (\\x00), found at character 1",
    ]


def test_long_values_are_cut_and_control_characters_escaped_in_messages():
    _, errors, _ = check(
        DEPLOYMENT.replace("metadata: {name: web}", "metadata: {name: web, labels: {a: '" + "v" * 5000 + "'}}")
    )
    (e,) = errors
    assert e.path == "metadata.labels.a"
    assert e.message.startswith('invalid value "' + "v" * 100 + '... (5000 characters)": must be no more than 63')
    _, errors, _ = check(DEPLOYMENT.replace("image: nginx:1.27", 'image: "nginx\\n\\u001b[0m"'))
    assert [e.message for e in errors] == ['invalid value "nginx\\x0a\\x1b[0m": invalid reference format']


# --------------------------------------------------------------------------- image references and paths

VALID_IMAGES = [
    "nginx",
    "nginx:1.27",
    "library/nginx:latest",
    "docker.io/library/nginx:1.27-alpine",
    "kcli.local/busybox:1",
    "localhost:5000/team/app:v1.2.3",
    "localhost/app",
    "registry.k8s.io/pause:3.10",
    "[::1]:5000/app:x",
    "gcr.io/google_samples/gb-redisslave:v1",
    "quay.io/a/b.c__d---e:TAG_1.x",
    "Registry.Example.COM/app",
    "nginx@sha256:" + "a" * 64,
    "nginx:1.27@sha256:" + "0123456789abcdef" * 4,
    "a" * 255,
    "x:" + "t" * 128,
]
INVALID_IMAGES = [
    ("x:1'; id > /tmp/PWN; echo '", "invalid reference format: repository name must be lowercase"),
    ("x:1';id>/tmp/pwn;echo'", "invalid reference format"),
    ("nginx:1.27 ", "invalid reference format"),
    (" nginx", "invalid reference format"),
    ("nginx\n", "invalid reference format"),
    ("$(id)", "invalid reference format"),
    ("`id`", "invalid reference format"),
    ("NGINX", "invalid reference format: repository name must be lowercase"),
    ("library/Nginx:1", "invalid reference format: repository name must be lowercase"),
    ("nginx:", "invalid reference format"),
    ("nginx::1", "invalid reference format"),
    ("nginx:-1", "invalid reference format"),
    ("x:" + "t" * 129, "invalid reference format"),
    ("a___b", "invalid reference format"),
    ("-a", "invalid reference format"),
    ("a/", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("a" * 256, "invalid reference format: repository name must not be more than 255 characters"),
    ("nginx@sha256:abc", "invalid reference format"),
    ("nginx@sha256:" + "a" * 63, "invalid reference format: a sha256 digest is 64 lowercase hex characters"),
    ("nginx@md5:" + "a" * 32, "invalid reference format: unsupported digest algorithm 'md5'"),
    ("a" * 64, "invalid repository name: cannot specify 64-byte hexadecimal strings"),
]


@pytest.mark.parametrize("image", VALID_IMAGES)
def test_valid_image_references(image: str):
    _, errors, _ = check(DEPLOYMENT.replace("image: nginx:1.27", f"image: '{image}'"))
    assert errors == ()


@pytest.mark.parametrize("image, message", INVALID_IMAGES)
def test_invalid_image_references_are_refused_with_the_field_path(image: str, message: str):
    doc = yaml.safe_load(textwrap.dedent(DEPLOYMENT))
    doc["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": image}]
    _, errors, _ = validate_documents([Document(Source(FILE, 1), doc)])
    assert [e.path for e in errors] == ["spec.template.spec.initContainers[0].image"]
    assert errors[0].message.endswith(f'": {message}')


@pytest.mark.parametrize(
    "path, message",
    [
        ("/", None),
        ("/data", None),
        ("/var/run/docker.sock", None),
        ("/a.b/c-d_e", None),
        ("relative", "must be an absolute path"),
        ("/a/../etc", "must not contain '..'"),
        ("/..", "must not contain '..'"),
        ("//etc", 'must be a clean path (no "//", "/./" or trailing "/")'),
        ("/etc/", 'must be a clean path (no "//", "/./" or trailing "/")'),
        ("/etc/./x", 'must be a clean path (no "//", "/./" or trailing "/")'),
        ("/tmp/x'; touch /tmp/PWN; '", None),  # odd but clean: quoting is the node script's job
        ("/tmp/a\nb", "must not contain control characters (NUL, newline, ...)"),
        ("/tmp/a:/etc", 'must not contain ":" (docker cannot mount such a path)'),
    ],
)
def test_host_paths_and_mount_paths_are_clean_absolute_paths(path: str, message: str | None):
    errors = _mount_errors({"mountPath": path}, {"hostPath": {"path": path, "type": "Directory"}})
    if message is None:
        assert errors == ()
    else:
        assert [(e.path, e.message) for e in errors] == [
            ("spec.containers[0].volumeMounts[0].mountPath", f'invalid value "{_shown(path)}": {message}'),
            ("spec.volumes[0].hostPath.path", f'invalid value "{_shown(path)}": {message}'),
        ]


def _shown(v: str) -> str:
    return v.replace("\n", "\\x0a")


def _mount_errors(mount: dict, volume: dict) -> tuple:
    """Errors of a Pod whose one container mounts the one volume ``h``."""
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "volumeMounts": [{"name": "h", **mount}]}],
            "volumes": [{"name": "h", **volume}],
        },
    }
    return validate_documents([Document(Source(FILE, 1), doc)]).errors


@pytest.mark.parametrize(
    "sub, message",
    [
        ("a", None),
        ("a/b", None),
        ("a.conf", None),
        ("/etc", "must be a relative path"),
        ("../x", "must not contain '..'"),
        ("a/../../x", "must not contain '..'"),
        ("a:b", 'must not contain ":" (docker cannot mount such a path)'),
    ],
)
def test_sub_paths_are_relative_without_backsteps(sub: str, message: str | None):
    errors = _mount_errors({"mountPath": "/m", "subPath": sub}, {"emptyDir": {}})
    assert [(e.path, e.message) for e in errors] == (
        [] if message is None else [("spec.containers[0].volumeMounts[0].subPath", f'invalid value "{sub}": {message}')]
    )


def test_referenced_names_and_node_names_follow_the_dns_rules():
    _, errors, _ = check(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          nodeName: "Node_1"
          imagePullSecrets: [{name: "reg cred"}]
          containers:
          - name: c
            image: busybox
            env: [{name: A, valueFrom: {configMapKeyRef: {name: "x;y", key: k}}}]
            envFrom: [{secretRef: {name: "$(id)"}}]
          volumes: [{name: v, configMap: {name: "../etc"}}]
    """,
        known=set(),
    )
    assert [e.path for e in errors if e.message.startswith("invalid value")] == [
        "spec.containers[0].env[0].valueFrom.configMapKeyRef.name",
        "spec.containers[0].envFrom[0].secretRef.name",
        "spec.imagePullSecrets[0].name",
        "spec.nodeName",
        "spec.volumes[0].configMap.name",
    ]


def test_probes_kcli_runs_and_those_it_does_not():
    base = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          containers:
          - name: app
            image: "busybox:1.36"
            ports: [{name: http, containerPort: 8080}]
            readinessProbe: %s
        """
    ok = check(base % "{httpGet: {path: /ready, port: http, httpHeaders: [{name: X-A, value: b}]}, periodSeconds: 2}")
    assert not ok.errors and not ok.warnings
    c = ok.objects[0].spec.containers[0]
    assert (
        c.readiness_probe.type,
        c.readiness_probe.port,
        c.readiness_probe.path,
        c.readiness_probe.period,
        c.readiness_probe.headers,
        c.readiness_probe.failure,
    ) == ("http", "http", "/ready", 2, (("X-A", "b"),), 3)
    bad_port = check(base % "{tcpSocket: {port: nope}}")
    assert [e.path for e in bad_port.errors] == ["spec.containers[0].readinessProbe.tcpSocket.port"]
    exec_ = check(base % "{exec: {command: [cat, /tmp/x]}, failureThreshold: 2}")
    assert not exec_.warnings and exec_.objects[0].spec.containers[0].readiness_probe.command == ("cat", "/tmp/x")
    for handler, path in (
        ("{grpc: {port: 9090}}", "readinessProbe.grpc"),
        ("{httpGet: {port: 8080, scheme: HTTPS}}", "readinessProbe.httpGet.scheme"),
    ):
        res = check(base % handler)
        assert not res.errors and res.objects[0].spec.containers[0].readiness_probe is None
        assert f"spec.containers[0].{path}" in str(res.warnings[0])
