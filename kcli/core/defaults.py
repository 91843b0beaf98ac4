"""The API server's defaults, as ``kubectl get -o json|yaml`` shows them: a manifest dict in, the
defaulted object (a new dict) out. The manifest itself is never changed, so the last-applied
configuration stays exactly what the user wrote. No I/O: callers (``kcli/cli/live_objects.py``,
``kcli/cli/workload_get.py``, ``kcli/cli/volume_get.py``) add what only the cluster knows
(metadata, allocations, node names, status).

The behaviour reproduced is summed up in ``docs/k8s-reference.md`` (§4.6, §5.1); upstream's
defaulting functions are named below so they can be read side by side; the expected
shapes are recorded in ``tests/unit/data/apiserver/`` (checked by ``tests/unit/test_defaults.py``).

Every pod spec, pod templates included (SetDefaults_PodSpec, SetDefaults_Container and friends):
  dnsPolicy ClusterFirst, restartPolicy Always, securityContext {}, terminationGracePeriodSeconds
  30, schedulerName default-scheduler; ``serviceAccount`` mirrors ``serviceAccountName`` (the v1
  conversion). Containers and init containers: imagePullPolicy (Always for ``:latest`` or no tag,
  else IfNotPresent: ``default_pull_policy`` in ``kcli/core/objects.py``, the rule kcli pulls by),
  terminationMessagePath /dev/termination-log, terminationMessagePolicy File, resources {} (its
  quantities in canonical form, rounded up to milli units), ports[].protocol TCP, env
  ``fieldRef.apiVersion`` v1 and ``resourceFieldRef.divisor`` "0"; probes timeoutSeconds 1,
  periodSeconds 10, successThreshold 1, failureThreshold 3, ``httpGet`` path / and scheme HTTP
  (lifecycle hooks' too), ``grpc.service`` "". Volumes: none given → emptyDir {}, hostPath type
  "", configMap/secret/downwardAPI/projected defaultMode 420, a projected serviceAccountToken
  expirationSeconds 3600.

Pods only (SetDefaults_Pod and the admission plugins a default API server runs):
  enableServiceLinks true; requests default to limits (containers and init containers); with
  hostNetwork every port's hostPort is its containerPort; serviceAccountName/serviceAccount
  "default" (ServiceAccount admission); priority 0 and preemptionPolicy PreemptLowerPriority
  (Priority admission; the two built-in system classes have their own values); tolerations of
  ``node.kubernetes.io/not-ready`` and ``unreachable`` NoExecute for 300 s unless the pod already
  tolerates them (DefaultTolerationSeconds). What a controller writes into its pods: a
  StatefulSet's hostname, subdomain and claim volumes; a DaemonSet's node affinity and
  tolerations (``kcli/core/controllers/daemonset.py``).

Left out on purpose: the ``kube-api-access-XXXXX`` projected volume and its mount the
ServiceAccount admission adds: kcli has no API server to issue tokens and mounts none (see
``ServiceAccount`` in ``kcli/core/objects.py``), so showing one would describe a file that is not
there.

Kinds: Deployment (replicas 1, strategy RollingUpdate 25%/25%, revisionHistoryLimit 10,
progressDeadlineSeconds 600), ReplicaSet (replicas 1), DaemonSet (updateStrategy RollingUpdate
maxUnavailable 1 maxSurge 0, revisionHistoryLimit 10), StatefulSet (replicas 1,
podManagementPolicy OrderedReady, updateStrategy RollingUpdate partition 0,
persistentVolumeClaimRetentionPolicy Retain/Retain, revisionHistoryLimit 10, volumeClaimTemplates
as claims), Job (parallelism/completions 1, backoffLimit 6, completionMode NonIndexed, suspend
false, manualSelector false, podReplacementPolicy, and the selector and labels the Job registry generates from its
uid), Service (type ClusterIP, sessionAffinity None, ports' protocol TCP and targetPort = port,
internal/externalTrafficPolicy Cluster, ipFamilies/ipFamilyPolicy as a single-stack IPv4 cluster
allocates them, allocateLoadBalancerNodePorts), Secret (type Opaque; ``stringData`` folded into
``data``; every value replaced by the placeholder, whatever came in), Namespace (the
``kubernetes.io/metadata.name`` label, finalizer ``kubernetes``), PersistentVolumeClaim
(volumeMode Filesystem) and PersistentVolume (reclaim policy Retain, volumeMode Filesystem).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

from kcli.core.objects import default_pull_policy
from kcli.core.quantity import QuantityError, parse_quantity

JSON = dict[str, Any]

DEFAULT_MODE = 420  # 0644, the volume sources' defaultMode
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_TOLERATION_SECONDS = 300
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
SYSTEM_PRIORITIES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}
JOB_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")


def _d(v: Any) -> JSON:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _unset(v: Any) -> bool:
    """Go's zero value for the scalar fields defaulted when "unset" (nil, "", 0)."""
    return v is None or v == "" or (isinstance(v, int) and not isinstance(v, bool) and v == 0)


# --------------------------------------------------------------------------- quantities

_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}


def _format_of(text: str) -> str:
    body = text.strip()
    if body[-2:] in _BINARY_SUFFIXES[1:]:
        return "BinarySI"
    if "e" in body.lower() and not body.endswith(("E",)):
        return "DecimalExponent"
    return "DecimalSI"


def canonical_quantity(value: Any, *, round_milli: bool = False) -> Any:
    """A ``resource.Quantity`` as the API server writes it back: ``"0.5"`` → ``"500m"``, ``1`` →
    ``"1"``, ``"1536Mi"`` stays, ``"1.5Gi"`` → ``"1536Mi"``, ``"2000m"`` → ``"2"``, ``"1e3"``
    stays (the suffix family is kept: binary, decimal SI or exponent). ``round_milli``: rounded
    up to milli units first, as resource lists are (SetDefaults_ResourceList). A value that is
    not a quantity comes back unchanged (validation reports it)."""
    try:
        d = parse_quantity(value)
    except QuantityError:
        return value
    fmt = "DecimalSI" if not isinstance(value, str) else _format_of(value)
    if round_milli:
        d = (d * 1000).to_integral_value(rounding=ROUND_CEILING) / 1000
    if d == 0:
        return "0"
    sign = "-" if d < 0 else ""
    d = abs(d)
    if fmt == "BinarySI" and (d != d.to_integral_value() or d < 1024):
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        n, power = int(d), 0
        while n % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
            n //= 1024
            power += 1
        return f"{sign}{n}{_BINARY_SUFFIXES[power]}"
    exp = -9
    mantissa = (d * Decimal(10) ** 9).to_integral_value(rounding=ROUND_CEILING)
    while mantissa % 1000 == 0 and exp < 18:
        mantissa //= 1000
        exp += 3
    if fmt == "DecimalExponent":
        return f"{sign}{int(mantissa)}" + (f"e{exp}" if exp else "")
    return f"{sign}{int(mantissa)}{_DECIMAL_SUFFIXES[exp]}"


def _resource_list(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    return {k: canonical_quantity(q, round_milli=True) for k, q in v.items()}


# --------------------------------------------------------------------------- containers


def _http_get(h: Any) -> Any:
    if not isinstance(h, dict):
        return h
    out = dict(h)
    if _unset(out.get("path")):
        out["path"] = "/"
    if _unset(out.get("scheme")):
        out["scheme"] = "HTTP"
    return out


def _handler(h: Any) -> Any:
    """A probe's or a lifecycle hook's handler: httpGet's path and scheme, grpc's service."""
    if not isinstance(h, dict):
        return h
    out = dict(h)
    if isinstance(out.get("httpGet"), dict):
        out["httpGet"] = _http_get(out["httpGet"])
    if isinstance(out.get("grpc"), dict) and out["grpc"].get("service") is None:
        out["grpc"] = {**out["grpc"], "service": ""}
    return out


def _probe(p: Any) -> Any:
    if not isinstance(p, dict):
        return p
    out = _handler(p)
    for field, default in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if _unset(out.get(field)):
            out[field] = default
    return out


def _field_ref(f: Any) -> Any:
    if isinstance(f, dict) and _unset(f.get("apiVersion")):
        return {**f, "apiVersion": "v1"}
    return f


def _resource_field_ref(r: Any) -> Any:
    if not isinstance(r, dict):
        return r
    return {**r, "divisor": canonical_quantity(r["divisor"]) if r.get("divisor") is not None else "0"}


def _env(e: Any) -> Any:
    if not isinstance(e, dict) or not isinstance(e.get("valueFrom"), dict):
        return e
    vf = dict(e["valueFrom"])
    if "fieldRef" in vf:
        vf["fieldRef"] = _field_ref(vf["fieldRef"])
    if "resourceFieldRef" in vf:
        vf["resourceFieldRef"] = _resource_field_ref(vf["resourceFieldRef"])
    return {**e, "valueFrom": vf}


def default_container(c: Mapping[str, Any], *, pod: bool = False, host_network: bool = False) -> JSON:
    """A container (or init container) as the API server holds it. ``pod``: a Pod's, not a
    template's (requests default to limits; with ``host_network`` ports get their hostPort)."""
    out = copy.deepcopy(dict(c))
    if _unset(out.get("imagePullPolicy")):
        out["imagePullPolicy"] = default_pull_policy(str(out.get("image") or ""))
    if _unset(out.get("terminationMessagePath")):
        out["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
    if _unset(out.get("terminationMessagePolicy")):
        out["terminationMessagePolicy"] = "File"
    res = dict(_d(out.get("resources")))
    for key in ("limits", "requests"):
        if key in res:
            res[key] = _resource_list(res[key])
    if pod and _d(res.get("limits")):
        requests = dict(_d(res.get("requests")))
        for name, q in res["limits"].items():
            requests.setdefault(name, q)
        res["requests"] = requests
    out["resources"] = res
    if isinstance(out.get("ports"), list):
        ports = []
        for p in out["ports"]:
            if isinstance(p, dict):
                p = dict(p)
                if _unset(p.get("protocol")):
                    p["protocol"] = "TCP"
                if pod and host_network and _unset(p.get("hostPort")):
                    p["hostPort"] = p.get("containerPort")
            ports.append(p)
        out["ports"] = ports
    if isinstance(out.get("env"), list):
        out["env"] = [_env(e) for e in out["env"]]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in out:
            out[probe] = _probe(out[probe])
    if isinstance(out.get("lifecycle"), dict):
        out["lifecycle"] = {k: _handler(h) if k in ("postStart", "preStop") else h for k, h in out["lifecycle"].items()}
    return out


# --------------------------------------------------------------------------- volumes

_VOLUME_SOURCES = (
    "emptyDir",
    "hostPath",
    "configMap",
    "secret",
    "persistentVolumeClaim",
    "downwardAPI",
    "projected",
    "ephemeral",
    "nfs",
    "csi",
    "iscsi",
    "rbd",
    "image",
    "local",
    "gitRepo",
    "glusterfs",
    "cephfs",
    "fc",
    "flexVolume",
    "azureDisk",
    "azureFile",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "cinder",
    "flocker",
    "vsphereVolume",
    "quobyte",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def _with_mode(src: Any) -> Any:
    if isinstance(src, dict) and src.get("defaultMode") is None:
        return {**src, "defaultMode": DEFAULT_MODE}
    return src


def _downward_items(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    out = []
    for it in items:
        if isinstance(it, dict):
            it = dict(it)
            if "fieldRef" in it:
                it["fieldRef"] = _field_ref(it["fieldRef"])
            if "resourceFieldRef" in it:
                it["resourceFieldRef"] = _resource_field_ref(it["resourceFieldRef"])
        out.append(it)
    return out


def default_volume(v: Mapping[str, Any]) -> JSON:
    out = copy.deepcopy(dict(v))
    if not any(k in out for k in _VOLUME_SOURCES):
        out["emptyDir"] = {}
    if isinstance(out.get("emptyDir"), dict) and out["emptyDir"].get("sizeLimit") is not None:
        out["emptyDir"] = {**out["emptyDir"], "sizeLimit": canonical_quantity(out["emptyDir"]["sizeLimit"])}
    if isinstance(out.get("hostPath"), dict) and out["hostPath"].get("type") is None:
        out["hostPath"] = {**out["hostPath"], "type": ""}
    for key in ("configMap", "secret"):
        if key in out:
            out[key] = _with_mode(out[key])
    if isinstance(out.get("downwardAPI"), dict):
        dw = _with_mode(out["downwardAPI"])
        if "items" in dw:
            dw["items"] = _downward_items(dw["items"])
        out["downwardAPI"] = dw
    if isinstance(out.get("projected"), dict):
        pj = _with_mode(out["projected"])
        sources = []
        for s in _l(pj.get("sources")):
            if isinstance(s, dict):
                s = dict(s)
                if isinstance(s.get("downwardAPI"), dict) and "items" in s["downwardAPI"]:
                    s["downwardAPI"] = {**s["downwardAPI"], "items": _downward_items(s["downwardAPI"]["items"])}
                if (
                    isinstance(s.get("serviceAccountToken"), dict)
                    and s["serviceAccountToken"].get("expirationSeconds") is None
                ):
                    s["serviceAccountToken"] = {**s["serviceAccountToken"], "expirationSeconds": 3600}
            sources.append(s)
        if "sources" in pj:
            pj["sources"] = sources
        out["projected"] = pj
    tmpl = _d(_d(out.get("ephemeral")).get("volumeClaimTemplate"))
    if tmpl:
        out["ephemeral"] = {**out["ephemeral"], "volumeClaimTemplate": {**tmpl, "spec": claim_spec(tmpl.get("spec"))}}
    return out


# --------------------------------------------------------------------------- pod specs


def _tolerates(tolerations: list[Any], key: str) -> bool:
    """Whether a toleration already covers the NoExecute taint ``key`` (DefaultTolerationSeconds)."""
    return any(
        isinstance(t, dict) and (t.get("key") in (key, None, "")) and (t.get("effect") in ("NoExecute", None, ""))
        for t in tolerations
    )


def default_pod_spec(spec: Mapping[str, Any], *, pod: bool = False) -> JSON:
    """A pod spec as the API server holds it: a template's (``pod=False``: what a Deployment,
    ReplicaSet, DaemonSet, StatefulSet or Job shows under ``spec.template.spec``) or a Pod's
    (``pod=True``: also SetDefaults_Pod's and the admission plugins' defaults)."""
    out = copy.deepcopy(dict(spec))
    host_network = out.get("hostNetwork") is True
    for key in ("initContainers", "containers"):
        if isinstance(out.get(key), list):
            out[key] = [
                default_container(c, pod=pod, host_network=host_network) if isinstance(c, dict) else c for c in out[key]
            ]
    if isinstance(out.get("volumes"), list):
        out["volumes"] = [default_volume(v) if isinstance(v, dict) else v for v in out["volumes"]]
    for key, default in (
        ("dnsPolicy", "ClusterFirst"),
        ("restartPolicy", "Always"),
        ("schedulerName", DEFAULT_SCHEDULER),
    ):
        if _unset(out.get(key)):
            out[key] = default
    if out.get("securityContext") is None:
        out["securityContext"] = {}
    if out.get("terminationGracePeriodSeconds") is None:
        out["terminationGracePeriodSeconds"] = 30
    if pod:
        if out.get("enableServiceLinks") is None:
            out["enableServiceLinks"] = True
        if _unset(out.get("serviceAccountName")) and _unset(out.get("serviceAccount")):
            out["serviceAccountName"] = "default"
        klass = out.get("priorityClassName")
        if _unset(klass):
            out["priority"] = 0
        elif klass in SYSTEM_PRIORITIES:
            out["priority"] = SYSTEM_PRIORITIES[str(klass)]
        if _unset(out.get("preemptionPolicy")):
            out["preemptionPolicy"] = "PreemptLowerPriority"
        tolerations = list(_l(out.get("tolerations")))
        for key in (NOT_READY, UNREACHABLE):
            if not _tolerates(tolerations, key):
                tolerations.append(
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                    }
                )
        out["tolerations"] = tolerations
    # the v1 conversion writes the deprecated serviceAccount from serviceAccountName (or reads it from there)
    account = out.get("serviceAccountName") or out.get("serviceAccount")
    if account:
        out["serviceAccountName"] = out["serviceAccount"] = account
    return out


def default_pod_template(template: Mapping[str, Any]) -> JSON:
    """``spec.template`` of a workload: its metadata as written and the template's pod spec
    defaults. (Older API servers also wrote ``creationTimestamp: null`` into the template's
    metadata; current ones leave the unset time out, as here.)"""
    t = copy.deepcopy(dict(template))
    return {**t, "metadata": _d(t.get("metadata")), "spec": default_pod_spec(_d(t.get("spec")))}


def _daemon_tolerations(host_network: bool) -> list[JSON]:
    from kcli.core.controllers.daemonset import daemon_tolerations

    return [{"key": t.key, "operator": t.operator, "effect": t.effect} for t in daemon_tolerations(host_network)]


def _add_or_update_toleration(tolerations: list[Any], new: JSON) -> list[Any]:
    """Upstream's AddOrUpdateTolerationInPodSpec: replaces a toleration of the same key, operator,
    value and effect, else appends."""
    ident = tuple(new.get(k) or "" for k in ("key", "operator", "value", "effect"))
    out, updated = [], False
    for t in tolerations:
        if isinstance(t, dict) and tuple(t.get(k) or "" for k in ("key", "operator", "value", "effect")) == ident:
            out.append(new)
            updated = True
        else:
            out.append(t)
    return out if updated else [*out, new]


def _ordinal(sts: str, pod: str) -> int | None:
    rest = pod[len(sts) + 1 :] if pod.startswith(f"{sts}-") else ""
    return int(rest) if rest.isdigit() else None


def controller_pod_spec(manifest: Mapping[str, Any], pod_name: str, template: Mapping[str, Any] | None = None) -> JSON:
    """The (undefaulted) spec of pod ``pod_name`` that ``manifest`` made: a Pod's own spec, or
    the workload's pod template (``template``: a Deployment's older revision) with what its
    controller adds — a StatefulSet's hostname, subdomain and claims (claims first, as upstream's
    updateStorage puts them), a DaemonSet's node affinity (added by the caller, who knows the
    node) and tolerations."""
    from kcli.core.volumes import claim_name

    kind = manifest.get("kind")
    spec = _d(manifest.get("spec"))
    if kind == "Pod":
        return copy.deepcopy(spec)
    out = copy.deepcopy(_d(_d(template if template is not None else spec.get("template")).get("spec")))
    name = str(_d(manifest.get("metadata")).get("name") or "")
    if kind == "StatefulSet":
        ordinal = _ordinal(name, pod_name)
        out["hostname"] = pod_name
        if spec.get("serviceName"):
            out["subdomain"] = spec["serviceName"]
        if ordinal is not None:
            claims = [
                {
                    "name": str(_d(c.get("metadata")).get("name") or ""),
                    "persistentVolumeClaim": {
                        "claimName": claim_name(str(_d(c.get("metadata")).get("name") or ""), name, ordinal)
                    },
                }
                for c in _l(spec.get("volumeClaimTemplates"))
                if isinstance(c, dict)
            ]
            own = {c["name"] for c in claims}
            rest = [v for v in _l(out.get("volumes")) if not (isinstance(v, dict) and v.get("name") in own)]
            if claims or rest:
                out["volumes"] = [*claims, *rest]
    if kind == "DaemonSet":
        tolerations = list(_l(out.get("tolerations")))
        for t in _daemon_tolerations(out.get("hostNetwork") is True):
            tolerations = _add_or_update_toleration(tolerations, t)
        out["tolerations"] = tolerations
    return out


def daemon_node_affinity(spec: Mapping[str, Any], node: str) -> JSON:
    """Upstream's ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity of a
    DaemonSet pod becomes exactly ``metadata.name In [node]`` (the preferred terms stay)."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    affinity = copy.deepcopy(_d(spec.get("affinity")))
    na = _d(affinity.get("nodeAffinity"))
    required = _d(na.get("requiredDuringSchedulingIgnoredDuringExecution"))
    affinity["nodeAffinity"] = {
        **na,
        "requiredDuringSchedulingIgnoredDuringExecution": {**required, "nodeSelectorTerms": [term]},
    }
    return affinity


def pod_spec(
    manifest: Mapping[str, Any], pod_name: str, node_name: str = "", template: Mapping[str, Any] | None = None
) -> JSON:
    """The spec of a live pod as the API server returns it: :func:`controller_pod_spec` with the
    Pod defaults, and the node it runs on."""
    raw = controller_pod_spec(manifest, pod_name, template)
    if manifest.get("kind") == "DaemonSet" and node_name:
        raw["affinity"] = daemon_node_affinity(raw, node_name)
    out = default_pod_spec(raw, pod=True)
    if node_name:
        out["nodeName"] = node_name
    return out


def _quantity_sum(values: list[Any]) -> Decimal:
    total = Decimal(0)
    for v in values:
        try:
            total += parse_quantity(v)
        except QuantityError:
            continue
    return total


def qos_class(spec: Mapping[str, Any]) -> str:
    """status.qosClass of a pod with this (defaulted) spec, as upstream's GetPodQOS computes it
    from cpu and memory: Guaranteed when every container's limits cover both and the requests
    equal the limits, BestEffort with no request or limit at all, Burstable otherwise."""
    containers = [c for key in ("initContainers", "containers") for c in _l(spec.get(key)) if isinstance(c, dict)]
    requests: dict[str, list[Any]] = {}
    limits: dict[str, list[Any]] = {}
    guaranteed = True
    for c in containers:
        res = _d(c.get("resources"))
        for name, q in _d(res.get("requests")).items():
            if name in ("cpu", "memory") and _quantity_sum([q]) > 0:
                requests.setdefault(name, []).append(q)
        found = set()
        for name, q in _d(res.get("limits")).items():
            if name in ("cpu", "memory") and _quantity_sum([q]) > 0:
                found.add(name)
                limits.setdefault(name, []).append(q)
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and set(requests) == set(limits):
        if all(_quantity_sum(requests[n]) == _quantity_sum(limits[n]) for n in requests):
            return "Guaranteed"
    return "Burstable"


# --------------------------------------------------------------------------- kinds


def claim_spec(spec: Any) -> JSON:
    """A PersistentVolumeClaim's spec (SetDefaults_PersistentVolumeClaimSpec): volumeMode
    Filesystem, quantities canonical. The storage class is not a default but an admission
    plugin's choice: the caller adds it for real claims."""
    out = copy.deepcopy(_d(spec))
    if out.get("volumeMode") is None:
        out["volumeMode"] = "Filesystem"
    res = _d(out.get("resources"))
    if res:
        out["resources"] = {k: _resource_list(v) if k in ("limits", "requests") else v for k, v in res.items()}
    return out


def volume_spec(spec: Any) -> JSON:
    """A PersistentVolume's spec (SetDefaults_PersistentVolume): reclaim policy Retain, volumeMode
    Filesystem, hostPath type "", capacity canonical."""
    out = copy.deepcopy(_d(spec))
    if _unset(out.get("persistentVolumeReclaimPolicy")):
        out["persistentVolumeReclaimPolicy"] = "Retain"
    if out.get("volumeMode") is None:
        out["volumeMode"] = "Filesystem"
    if isinstance(out.get("hostPath"), dict) and out["hostPath"].get("type") is None:
        out["hostPath"] = {**out["hostPath"], "type": ""}
    if isinstance(out.get("capacity"), dict):
        out["capacity"] = _resource_list(out["capacity"])
    return out


def service_spec(spec: Any) -> JSON:
    """A Service's spec (SetDefaults_Service and the IP family allocation of a single-stack IPv4
    cluster), without the ClusterIP and NodePorts the cluster allocates."""
    out = copy.deepcopy(_d(spec))
    if _unset(out.get("type")):
        out["type"] = "ClusterIP"
    stype = out["type"]
    if _unset(out.get("sessionAffinity")):
        out["sessionAffinity"] = "None"
    if out["sessionAffinity"] == "None":
        out.pop("sessionAffinityConfig", None)
    elif out["sessionAffinity"] == "ClientIP":
        cfg = _d(_d(out.get("sessionAffinityConfig")).get("clientIP"))
        if cfg.get("timeoutSeconds") is None:
            out["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if isinstance(out.get("ports"), list):
        ports = []
        for p in out["ports"]:
            if isinstance(p, dict):
                p = dict(p)
                if _unset(p.get("protocol")):
                    p["protocol"] = "TCP"
                if _unset(p.get("targetPort")):
                    p["targetPort"] = p.get("port")
            ports.append(p)
        out["ports"] = ports
    externally = stype in ("NodePort", "LoadBalancer") or (stype == "ClusterIP" and bool(_l(out.get("externalIPs"))))
    if externally and _unset(out.get("externalTrafficPolicy")):
        out["externalTrafficPolicy"] = "Cluster"
    if stype in ("ClusterIP", "NodePort", "LoadBalancer") and out.get("internalTrafficPolicy") is None:
        out["internalTrafficPolicy"] = "Cluster"
    if stype == "LoadBalancer" and out.get("allocateLoadBalancerNodePorts") is None:
        out["allocateLoadBalancerNodePorts"] = True
    if stype != "ExternalName":
        headless_without_selector = out.get("clusterIP") == "None" and not _d(out.get("selector"))
        if _unset(out.get("ipFamilyPolicy")):
            out["ipFamilyPolicy"] = "RequireDualStack" if headless_without_selector else "SingleStack"
        if not _l(out.get("ipFamilies")):
            out["ipFamilies"] = ["IPv4"]
        if out.get("clusterIP") == "None" and not out.get("clusterIPs"):
            out["clusterIPs"] = ["None"]
    return out


def _job(obj: JSON, uid: str) -> None:
    spec = obj["spec"]
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    for key, default in (
        ("parallelism", 1),
        ("backoffLimit", 6),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
        ("manualSelector", False),
    ):
        if spec.get(key) is None:
            spec[key] = default
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    name = str(_d(obj.get("metadata")).get("name") or "")
    if uid and spec.get("manualSelector") is not True:
        template = spec["template"]
        labels = dict(_d(_d(template.get("metadata")).get("labels")))
        labels.update({k: uid for k in JOB_UID_LABELS})
        labels.update({k: name for k in JOB_NAME_LABELS})
        template["metadata"] = {**_d(template.get("metadata")), "labels": labels}
        spec["selector"] = {"matchLabels": {JOB_UID_LABELS[0]: uid}}
    labels = _d(_d(spec["template"].get("metadata")).get("labels"))
    if labels and not _d(_d(obj.get("metadata")).get("labels")):
        obj["metadata"] = {**_d(obj.get("metadata")), "labels": dict(labels)}


def default_object(manifest: Mapping[str, Any], *, uid: str = "") -> JSON:
    """The object the API server would hold for ``manifest`` (a new dict; the manifest is not
    changed): the kind's defaults (see the module docstring), metadata as given (only the
    defaults of Namespaces and Jobs add labels to it). ``uid``: the object's uid, for the
    selector and labels a Job's are generated from."""
    obj: JSON = copy.deepcopy(dict(manifest))
    kind = obj.get("kind")
    spec = obj.get("spec")
    if kind in ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job") and isinstance(spec, dict):
        if isinstance(spec.get("template"), dict):
            spec["template"] = default_pod_template(spec["template"])
        else:
            spec["template"] = default_pod_template({})
    if kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        strategy = dict(_d(spec.get("strategy")))
        if _unset(strategy.get("type")):
            strategy["type"] = "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            ru = dict(_d(strategy.get("rollingUpdate")))
            for key in ("maxSurge", "maxUnavailable"):
                if ru.get(key) is None:
                    ru[key] = "25%"
            strategy["rollingUpdate"] = ru
        spec["strategy"] = strategy
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif kind == "ReplicaSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
    elif kind == "DaemonSet" and isinstance(spec, dict):
        us = dict(_d(spec.get("updateStrategy")))
        if _unset(us.get("type")):
            us["type"] = "RollingUpdate"
        if us["type"] == "RollingUpdate":
            ru = dict(_d(us.get("rollingUpdate")))
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
            us["rollingUpdate"] = ru
        spec["updateStrategy"] = us
        spec.setdefault("revisionHistoryLimit", 10)
    elif kind == "StatefulSet" and isinstance(spec, dict):
        if _unset(spec.get("podManagementPolicy")):
            spec["podManagementPolicy"] = "OrderedReady"
        us = dict(_d(spec.get("updateStrategy")))
        if _unset(us.get("type")):
            us["type"] = "RollingUpdate"
            us.setdefault("rollingUpdate", {})
        if us["type"] == "RollingUpdate" and isinstance(us.get("rollingUpdate"), dict):
            us["rollingUpdate"] = {"partition": 0, **us["rollingUpdate"]}
        spec["updateStrategy"] = us
        retention = dict(_d(spec.get("persistentVolumeClaimRetentionPolicy")))
        for key in ("whenDeleted", "whenScaled"):
            if _unset(retention.get(key)):
                retention[key] = "Retain"
        spec["persistentVolumeClaimRetentionPolicy"] = retention
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if isinstance(spec.get("volumeClaimTemplates"), list):
            spec["volumeClaimTemplates"] = [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    **c,
                    "metadata": _d(c.get("metadata")),
                    "spec": claim_spec(c.get("spec")),
                    "status": {"phase": "Pending", **_d(c.get("status"))},
                }
                if isinstance(c, dict)
                else c
                for c in spec["volumeClaimTemplates"]
            ]
    elif kind == "Job" and isinstance(spec, dict):
        _job(obj, uid)
    elif kind == "Service":
        obj["spec"] = service_spec(spec)
    elif kind == "Secret":
        from kcli.core.workloads import REDACTED

        keys = [*_d(obj.get("data")), *_d(obj.get("stringData"))]
        obj.pop("stringData", None)
        if keys:
            obj["data"] = {str(k): REDACTED for k in keys}
        if _unset(obj.get("type")):
            obj["type"] = "Opaque"
    elif kind == "Namespace":
        meta = dict(_d(obj.get("metadata")))
        if meta.get("name"):
            meta["labels"] = {**_d(meta.get("labels")), "kubernetes.io/metadata.name": meta["name"]}
        obj["metadata"] = meta
        ns_spec = dict(_d(spec))
        if not ns_spec.get("finalizers"):
            ns_spec["finalizers"] = ["kubernetes"]
        obj["spec"] = ns_spec
        obj.setdefault("status", {"phase": "Active"})
    elif kind == "PersistentVolumeClaim":
        obj["spec"] = claim_spec(spec)
    elif kind == "PersistentVolume":
        obj["spec"] = volume_spec(spec)
    elif kind == "Pod" and isinstance(spec, dict):
        obj["spec"] = default_pod_spec(spec, pod=True)
    return obj
