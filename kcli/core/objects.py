"""Desired objects: frozen data for the kinds kcli supports, with Kubernetes defaults applied.

``build_object(doc)`` turns one *validated* manifest dict (see :mod:`kcli.core.validate`) into a
dataclass. Every object keeps its original manifest (``.manifest``) for last-applied config and its
source (file, document number). Maps are plain dicts: treat them as read-only.

Defaults (docs/k8s-reference.md §5.1): Deployment replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10,
progressDeadlineSeconds 600; pod restartPolicy Always, dnsPolicy ClusterFirst,
terminationGracePeriodSeconds 30; imagePullPolicy Always for ``:latest``/untagged images else
IfNotPresent; port protocol TCP; Service type ClusterIP and targetPort = port; Job parallelism 1,
completions 1 (when neither is set), backoffLimit 6; namespace ``default``; a resource request
missing where a limit is set defaults to the limit.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from kcli.core.quantity import resource_value

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DEFAULT_NAMESPACE = "default"
IntOrString = int | str


# --------------------------------------------------------------------------- sources, keys


@dataclass(frozen=True)
class Source:
    """Where a document came from: file name and 1-based document number in that file."""

    file: str
    doc: int

    def __str__(self) -> str:
        return f"{self.file}: doc {self.doc}"


@dataclass(frozen=True)
class Document:
    """One parsed YAML document, before validation (``data`` may be any YAML value)."""

    source: Source
    data: Any


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object: kind, namespace ("" for cluster-scoped kinds) and name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


# --------------------------------------------------------------------------- hashing


def canonical_json(data: Any) -> str:
    """Sorted, compact JSON: the one serialisation every hash in kcli is computed over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_data(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def spec_hash(data: Any, length: int = 10) -> str:
    """Short, stable content hash: first ``length`` hex digits of sha256 over canonical JSON."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()[:length]


SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""apimachinery ``rand`` alphabet: no vowels (no words), no 0/1/3 (look like letters)."""


def safe_encode(s: str) -> str:
    """apimachinery ``rand.SafeEncodeString``: map each byte into :data:`SAFE_ALPHABET`."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in s.encode("utf-8"))


def fnv32a(data: bytes) -> int:
    """FNV-1a, 32 bit (Go ``hash/fnv.New32a``)."""
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def to_data(obj: Any) -> Any:
    """Dataclass → plain JSON-able data with empty values (None, "", (), {}, False) omitted.

    Omitting empties (Go ``omitempty``) keeps hashes stable when kcli later grows a field whose
    default is empty. Fields declared with ``metadata={"data": False}`` are left out.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _fields_data(obj)
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    return obj


def _fields_data(obj: DataclassInstance) -> dict[str, Any]:
    """``to_data`` of one dataclass instance."""
    out = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("data", True) is False:
            continue
        v = to_data(getattr(obj, f.name))
        if v is None or v is False or v == "" or v == [] or v == {}:
            continue
        out[f.name] = v
    return out


# --------------------------------------------------------------------------- common pieces


@dataclass(frozen=True)
class OwnerReference:
    """metadata.ownerReferences[]: an owner in the same namespace (or cluster-scoped), by kind and
    name (kcli has no object uids; a uid in the manifest is kept but not compared)."""

    api_version: str
    kind: str
    name: str
    uid: str = ""
    controller: bool = False


@dataclass(frozen=True)
class ObjectMeta:
    name: str
    namespace: str  # "" for cluster-scoped kinds (Namespace)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    owner_references: tuple[OwnerReference, ...] = ()


@dataclass(frozen=True)
class LabelSelectorRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Kubernetes label-selector semantics (an empty selector matches everything)."""
        for k, v in self.match_labels.items():
            if labels.get(k) != v:
                return False
        for r in self.match_expressions:
            present = r.key in labels
            if r.operator == "In" and not (present and labels[r.key] in r.values):
                return False
            if r.operator == "NotIn" and present and labels[r.key] in r.values:
                return False
            if r.operator == "Exists" and not present:
                return False
            if r.operator == "DoesNotExist" and present:
                return False
        return True

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.match_labels.items())]
        for r in self.match_expressions:
            if r.operator in ("In", "NotIn"):
                parts.append(f"{r.key} {r.operator.lower()} ({','.join(r.values)})")
            else:
                parts.append(r.key if r.operator == "Exists" else f"!{r.key}")
        return ",".join(parts)


@dataclass(frozen=True)
class KeyRef:
    """``configMapKeyRef`` / ``secretKeyRef``."""

    name: str
    key: str
    optional: bool = False


@dataclass(frozen=True)
class ResourceFieldRef:
    resource: str
    container_name: str = ""
    divisor: str = "1"


@dataclass(frozen=True)
class EnvVar:
    """Exactly one of value / config_map_key_ref / secret_key_ref / field_ref / resource_field_ref."""

    name: str
    value: str | None = None
    config_map_key_ref: KeyRef | None = None
    secret_key_ref: KeyRef | None = None
    field_ref: str | None = None  # fieldPath, e.g. metadata.name, status.podIP, spec.nodeName
    resource_field_ref: ResourceFieldRef | None = None


@dataclass(frozen=True)
class EnvFromSource:
    """``envFrom``: exactly one of config_map / secret is set."""

    config_map: str | None = None
    secret: str | None = None
    prefix: str = ""
    optional: bool = False


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    protocol: str = "TCP"
    name: str = ""
    host_port: int = 0  # 0 = not published
    host_ip: str = ""


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""


@dataclass(frozen=True)
class Resources:
    """Parsed requests/limits: ``cpu`` in millicores, everything else in integer units (bytes)."""

    requests: Mapping[str, int] = field(default_factory=dict)
    limits: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    """A readiness/startup probe kcli runs (httpGet over HTTP, tcpSocket), kubelet's defaults."""

    type: str  # "http" | "tcp" | "exec"
    port: int | str  # number, or the name of a container port (0 for exec)
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success: int = 1
    failure: int = 3
    command: tuple[str, ...] = ()  # exec


@dataclass(frozen=True)
class SecurityContext:
    """A pod's or a container's ``securityContext`` as written: None (or empty) where unset, so
    a container's unset values fall back to the pod's (``effective_security_context``). Pod-only:
    fs_group, supplemental_groups, sysctls; container-only: privileged .. cap_drop."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    seccomp: str = ""  # seccompProfile.type: RuntimeDefault, Unconfined, Localhost
    privileged: bool = False
    allow_privilege_escalation: bool | None = None
    read_only_root_filesystem: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    fs_group: int | None = None
    supplemental_groups: tuple[int, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()  # (name, value)


def effective_security_context(pod: SecurityContext | None, container: SecurityContext | None) -> SecurityContext:
    """Kubernetes' merge (DetermineEffectiveSecurityContext): the container's runAsUser,
    runAsGroup, runAsNonRoot and seccompProfile override the pod's; the rest is the container's,
    plus the pod's fsGroup, supplementalGroups and sysctls."""
    p, c = pod or SecurityContext(), container or SecurityContext()
    return dataclasses.replace(
        c,
        run_as_user=c.run_as_user if c.run_as_user is not None else p.run_as_user,
        run_as_group=c.run_as_group if c.run_as_group is not None else p.run_as_group,
        run_as_non_root=c.run_as_non_root if c.run_as_non_root is not None else p.run_as_non_root,
        seccomp=c.seccomp or p.seccomp,
        fs_group=p.fs_group,
        supplemental_groups=p.supplemental_groups,
        sysctls=p.sysctls,
    )


LINUX_CAPABILITIES = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    }
)
"""Linux capabilities (capability.h) as Kubernetes writes them: no ``CAP_`` prefix."""


def capability_name(raw: str) -> str | None:
    """``net_admin``/``NET_ADMIN`` → ``NET_ADMIN`` (the runtime upper-cases, as containerd does), ``ALL``
    as is; None for anything else (a ``CAP_`` prefix too: the runtime would add a second one)."""
    name = raw.upper()
    return name if name == "ALL" or name in LINUX_CAPABILITIES else None


def normalize_sysctl(name: str) -> str:
    """Upstream's NormalizeName: a name written with ``/`` separators (``net/ipv4/tcp_syncookies``)
    in the dotted form; a ``.`` inside a component becomes ``/`` in exchange."""
    first = next((ch for ch in name if ch in "./"), ".")
    return name if first == "." else name.translate(str.maketrans("./", "/."))


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    image_pull_policy: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str = ""
    env: tuple[EnvVar, ...] = ()
    env_from: tuple[EnvFromSource, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    volume_mounts: tuple[VolumeMount, ...] = ()
    resources: Resources = field(default_factory=Resources)
    tty: bool = False
    stdin: bool = False
    restart_policy: str = ""  # init containers only: "Always" makes a native sidecar
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    liveness_probe: Probe | None = None
    pre_stop_exec: tuple[str, ...] = ()  # lifecycle.preStop.exec.command
    pre_stop_sleep: int | None = None  # lifecycle.preStop.sleep.seconds
    security_context: SecurityContext | None = None


@dataclass(frozen=True)
class KeyToPath:
    key: str
    path: str
    mode: int | None = None


@dataclass(frozen=True)
class DownwardFile:
    """A downwardAPI volume item: ``path`` holding a fieldRef's or a resourceFieldRef's value."""

    path: str
    field_path: str = ""
    resource: ResourceFieldRef | None = None
    mode: int | None = None


@dataclass(frozen=True)
class Volume:
    """A pod volume; ``source`` is one of emptyDir, hostPath, configMap, secret, persistentVolumeClaim
    (``ref_name``: the claim; ``read_only``)."""

    name: str
    source: str
    medium: str = ""  # emptyDir: "" or "Memory"
    size_limit: int | None = None  # emptyDir sizeLimit in bytes
    path: str = ""  # hostPath path
    host_path_type: str = ""  # hostPath type
    ref_name: str = ""  # configMap name / secret secretName
    items: tuple[KeyToPath, ...] = ()
    default_mode: int = 0o644
    optional: bool = False
    read_only: bool = False  # persistentVolumeClaim readOnly
    downward: tuple[DownwardFile, ...] = ()  # downwardAPI items


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""  # "" = all effects
    toleration_seconds: int | None = None


@dataclass(frozen=True)
class NodeSelectorRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSelectorTerm:
    """Requirements ANDed; ``match_fields`` only supports ``metadata.name``."""

    match_expressions: tuple[NodeSelectorRequirement, ...] = ()
    match_fields: tuple[NodeSelectorRequirement, ...] = ()


@dataclass(frozen=True)
class PreferredSchedulingTerm:
    weight: int
    preference: NodeSelectorTerm


@dataclass(frozen=True)
class DnsConfig:
    """spec.dnsConfig: merged into the resolv.conf the dnsPolicy gives (options: (name, value or None))."""

    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class HostAlias:
    ip: str
    hostnames: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSpec:
    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...] = ()
    volumes: tuple[Volume, ...] = ()
    restart_policy: str = "Always"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_name: str = ""
    required_node_terms: tuple[NodeSelectorTerm, ...] = ()  # ORed; empty = no requirement
    preferred_node_terms: tuple[PreferredSchedulingTerm, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    image_pull_secrets: tuple[str, ...] = ()
    termination_grace_period_seconds: int = 30
    dns_policy: str = "ClusterFirst"
    dns_config: DnsConfig | None = None
    hostname: str = ""
    subdomain: str = ""
    host_aliases: tuple[HostAlias, ...] = ()
    enable_service_links: bool = True
    share_process_namespace: bool = False
    security_context: SecurityContext | None = None  # pod-level
    service_account_name: str = ""  # serviceAccountName (or serviceAccount); "" means "default"


@dataclass(frozen=True)
class PodTemplate:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    spec: PodSpec
    manifest: Mapping[str, Any] = field(default_factory=dict, metadata={"data": False}, compare=False)

    def data(self) -> dict[str, Any]:
        """Canonical, defaulted form (what hashes are computed over)."""
        return _fields_data(self)


# --------------------------------------------------------------------------- kinds


@dataclass(frozen=True, kw_only=True)
class KubeObject:
    """Fields shared by every kind; ``manifest`` is the document exactly as written."""

    kind: ClassVar[str] = ""
    api_version: ClassVar[str] = ""
    resource: ClassVar[str] = ""  # kubectl's ``-o name`` prefix, e.g. deployment.apps
    namespaced: ClassVar[bool] = True

    meta: ObjectMeta
    manifest: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    source: Source | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def namespace(self) -> str:
        return self.meta.namespace

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.kind, self.meta.namespace, self.meta.name)

    @property
    def ref(self) -> str:
        """kubectl style ``deployment.apps/web``."""
        return f"{self.resource}/{self.meta.name}"


@dataclass(frozen=True, kw_only=True)
class Namespace(KubeObject):
    kind: ClassVar[str] = "Namespace"
    api_version: ClassVar[str] = "v1"
    resource: ClassVar[str] = "namespace"
    namespaced: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class ConfigMap(KubeObject):
    kind: ClassVar[str] = "ConfigMap"
    api_version: ClassVar[str] = "v1"
    resource: ClassVar[str] = "configmap"

    data: Mapping[str, str] = field(default_factory=dict)
    binary_data: Mapping[str, bytes] = field(default_factory=dict)
    immutable: bool = False

    def content_hash(self) -> str:
        return spec_hash({"data": dict(self.data), "binaryData": dict(self.binary_data)})

    def keys(self) -> set[str]:
        return set(self.data) | set(self.binary_data)


@dataclass(frozen=True, kw_only=True)
class Secret(KubeObject):
    """``data`` holds decoded bytes: base64 ``data`` merged with ``stringData`` (which wins)."""

    kind: ClassVar[str] = "Secret"
    api_version: ClassVar[str] = "v1"
    resource: ClassVar[str] = "secret"

    type: str = "Opaque"
    data: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    immutable: bool = False

    def content_hash(self, key: bytes) -> str:
        """HMAC-SHA256 of the content, keyed by the cluster's secret key (kept on the cluster,
        never in git): it ends up in pod labels, spec hashes and the state file, and without
        the key it tells nothing about the values."""
        if not key:
            raise ValueError("a Secret's content hash needs the cluster's secret key")
        payload = canonical_json({"type": self.type, "data": dict(self.data)}).encode()
        return hmac.new(key, payload, hashlib.sha256).hexdigest()[:16]

    def keys(self) -> set[str]:
        return set(self.data)


@dataclass(frozen=True, kw_only=True)
class ServiceAccount(KubeObject):
    """Recorded, nothing more: with no API server there are no tokens to issue, so none is mounted."""

    kind: ClassVar[str] = "ServiceAccount"
    api_version: ClassVar[str] = "v1"
    resource: ClassVar[str] = "serviceaccount"

    automount_token: bool | None = None  # automountServiceAccountToken
    image_pull_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: IntOrString
    protocol: str = "TCP"
    name: str = ""
    node_port: int | None = None


@dataclass(frozen=True, kw_only=True)
class Service(KubeObject):
    kind: ClassVar[str] = "Service"
    api_version: ClassVar[str] = "v1"
    resource: ClassVar[str] = "service"

    type: str = "ClusterIP"
    selector: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str = ""  # "" = allocate, "None" = headless
    session_affinity: str = "None"
    session_affinity_timeout: int = 10800
    external_traffic_policy: str = ""  # "Cluster" by default for NodePort/LoadBalancer
    internal_traffic_policy: str = "Cluster"
    publish_not_ready_addresses: bool = False
    external_ips: tuple[str, ...] = ()

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"


@dataclass(frozen=True, kw_only=True)
class Pod(KubeObject):
    kind: ClassVar[str] = "Pod"
    api_version: ClassVar[str] = "v1"
    resource: ClassVar[str] = "pod"

    spec: PodSpec

    @property
    def template(self) -> PodTemplate:
        """The pod seen as a template (labels, annotations, spec) for hashing."""
        return PodTemplate(self.meta.labels, self.meta.annotations, self.spec, self.manifest.get("spec") or {})


@dataclass(frozen=True)
class DeploymentStrategy:
    type: str = "RollingUpdate"
    max_surge: IntOrString = "25%"
    max_unavailable: IntOrString = "25%"


@dataclass(frozen=True, kw_only=True)
class Deployment(KubeObject):
    kind: ClassVar[str] = "Deployment"
    api_version: ClassVar[str] = "apps/v1"
    resource: ClassVar[str] = "deployment.apps"

    replicas: int = 1
    selector: LabelSelector
    template: PodTemplate
    strategy: DeploymentStrategy = field(default_factory=DeploymentStrategy)
    min_ready_seconds: int = 0
    revision_history_limit: int = 10
    progress_deadline_seconds: int = 600
    paused: bool = False


@dataclass(frozen=True, kw_only=True)
class ReplicaSet(KubeObject):
    kind: ClassVar[str] = "ReplicaSet"
    api_version: ClassVar[str] = "apps/v1"
    resource: ClassVar[str] = "replicaset.apps"

    replicas: int = 1
    selector: LabelSelector
    template: PodTemplate
    min_ready_seconds: int = 0


@dataclass(frozen=True)
class DaemonSetUpdateStrategy:
    type: str = "RollingUpdate"
    max_unavailable: IntOrString = 1
    max_surge: IntOrString = 0


@dataclass(frozen=True, kw_only=True)
class DaemonSet(KubeObject):
    kind: ClassVar[str] = "DaemonSet"
    api_version: ClassVar[str] = "apps/v1"
    resource: ClassVar[str] = "daemonset.apps"

    selector: LabelSelector
    template: PodTemplate
    update_strategy: DaemonSetUpdateStrategy = field(default_factory=DaemonSetUpdateStrategy)
    min_ready_seconds: int = 0
    revision_history_limit: int = 10


@dataclass(frozen=True, kw_only=True)
class Job(KubeObject):
    """``completions`` is None for a work-queue Job (parallelism set, completions not)."""

    kind: ClassVar[str] = "Job"
    api_version: ClassVar[str] = "batch/v1"
    resource: ClassVar[str] = "job.batch"

    template: PodTemplate
    completions: int | None = 1
    parallelism: int = 1
    backoff_limit: int = 6
    suspend: bool = False
    active_deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
    completion_mode: str = "NonIndexed"


@dataclass(frozen=True, kw_only=True)
class PersistentVolumeClaim(KubeObject):
    """A claim on storage; ``storage`` the requested bytes; ``volume_name`` binds it to a PV."""

    kind: ClassVar[str] = "PersistentVolumeClaim"
    api_version: ClassVar[str] = "v1"
    resource: ClassVar[str] = "persistentvolumeclaim"

    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    storage: int = 0
    storage_class: str = ""  # "" with no volumeName: the default class
    volume_name: str = ""


@dataclass(frozen=True, kw_only=True)
class StatefulSet(KubeObject):
    """Pods ``NAME-0 … NAME-(n-1)`` with stable names, each with its own claims from
    ``claim_templates`` (``TEMPLATE-NAME-i``); ``partition``: RollingUpdate's."""

    kind: ClassVar[str] = "StatefulSet"
    api_version: ClassVar[str] = "apps/v1"
    resource: ClassVar[str] = "statefulset.apps"

    replicas: int = 1
    selector: LabelSelector
    template: PodTemplate
    service_name: str = ""
    pod_management_policy: str = "OrderedReady"
    update_strategy: str = "RollingUpdate"
    partition: int = 0
    claim_templates: tuple[PersistentVolumeClaim, ...] = ()
    min_ready_seconds: int = 0
    revision_history_limit: int = 10


@dataclass(frozen=True, kw_only=True)
class PersistentVolume(KubeObject):
    """A pre-created volume: a directory on a node (``hostPath`` or ``local``; ``node`` from a
    ``local`` volume's nodeAffinity on kubernetes.io/hostname)."""

    kind: ClassVar[str] = "PersistentVolume"
    api_version: ClassVar[str] = "v1"
    resource: ClassVar[str] = "persistentvolume"
    namespaced: ClassVar[bool] = False

    capacity: int = 0
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    reclaim_policy: str = "Retain"
    storage_class: str = ""
    path: str = ""
    node: str = ""
    claim: tuple[str, str] | None = None  # claimRef (namespace, name)


AnyObject = (
    Namespace
    | ConfigMap
    | Secret
    | ServiceAccount
    | Service
    | Pod
    | Deployment
    | ReplicaSet
    | DaemonSet
    | Job
    | PersistentVolumeClaim
    | PersistentVolume
    | StatefulSet
)
KINDS: dict[tuple[str, str], type[KubeObject]] = {
    (cls.api_version, cls.kind): cls
    for cls in (
        Namespace,
        ConfigMap,
        Secret,
        ServiceAccount,
        Service,
        Pod,
        Deployment,
        ReplicaSet,
        DaemonSet,
        Job,
        PersistentVolumeClaim,
        PersistentVolume,
        StatefulSet,
    )
}
"""(apiVersion, kind) → class, for every supported kind."""


# --------------------------------------------------------------------------- hashes


def pod_template_hash(template: PodTemplate, extra: str = "", collision_count: int | None = None) -> str:
    """Deployment → ReplicaSet hash (docs/k8s-reference.md §5.5), e.g. ``"5d9c7b9c8d"``.

    Like upstream: FNV-32a, printed as decimal, ``SafeEncodeString``; the collision count is
    appended as 8 little-endian bytes when set. Unlike upstream the hashed bytes are kcli's
    canonical JSON of the defaulted template (not Go's spew dump), so values differ from a real
    cluster. ``extra`` folds in the content hashes of referenced ConfigMaps/Secrets, so a changed
    ConfigMap yields a new ReplicaSet (a new revision).
    """
    payload = canonical_json(template.data()).encode("utf-8")
    if extra:
        payload += b"\x00" + extra.encode("utf-8")
    if collision_count is not None:
        payload += int(collision_count).to_bytes(8, "little", signed=False)
    return safe_encode(str(fnv32a(payload)))


# --------------------------------------------------------------------------- building


def default_pull_policy(image: str) -> str:
    """Always for ``:latest`` or untagged images (digests count as tagged), else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _target_port(p: dict[Any, Any]) -> IntOrString:
    """spec.ports[].targetPort, defaulting to the port."""
    target = p.get("targetPort")
    return int(p.get("port") or 0) if target is None or target in (0, "") else target


def _d(v: Any) -> dict[Any, Any]:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _strmap(v: Any) -> dict[str, str]:
    return {str(k): "" if x is None else str(x) for k, x in _d(v).items()}


def _str(v: Any, default: str = "") -> str:
    return default if v is None else str(v)


def build_meta(meta: Any, namespaced: bool) -> ObjectMeta:
    m = _d(meta)
    ns = (_str(m.get("namespace")) or DEFAULT_NAMESPACE) if namespaced else ""
    owners = tuple(
        OwnerReference(
            _str(o.get("apiVersion")),
            _str(o.get("kind")),
            _str(o.get("name")),
            _str(o.get("uid")),
            o.get("controller") is True,
        )
        for o in map(_d, _l(m.get("ownerReferences")))
    )
    return ObjectMeta(_str(m.get("name")), ns, _strmap(m.get("labels")), _strmap(m.get("annotations")), owners)


def build_label_selector(sel: Any) -> LabelSelector:
    s = _d(sel)
    exprs = tuple(
        LabelSelectorRequirement(
            _str(e.get("key")), _str(e.get("operator")), tuple(str(v) for v in _l(e.get("values")))
        )
        for e in _l(s.get("matchExpressions"))
        if isinstance(e, dict)
    )
    return LabelSelector(_strmap(s.get("matchLabels")), exprs)


def _resources(r: Any) -> Resources:
    r = _d(r)
    limits = {str(k): resource_value(str(k), v) for k, v in _d(r.get("limits")).items() if v is not None}
    requests = {str(k): resource_value(str(k), v) for k, v in _d(r.get("requests")).items() if v is not None}
    for k, v in limits.items():
        requests.setdefault(k, v)
    return Resources(requests, limits)


def _key_ref(r: dict[Any, Any]) -> KeyRef:
    return KeyRef(_str(r.get("name")), _str(r.get("key")), bool(r.get("optional")))


def _env(e: dict[Any, Any]) -> EnvVar:
    vf = _d(e.get("valueFrom"))
    cm, sec, fr, rf = (vf.get(k) for k in ("configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef"))
    return EnvVar(
        name=_str(e.get("name")),
        value=None if vf else _str(e.get("value")),
        config_map_key_ref=_key_ref(cm) if isinstance(cm, dict) else None,
        secret_key_ref=_key_ref(sec) if isinstance(sec, dict) else None,
        field_ref=_str(fr.get("fieldPath")) if isinstance(fr, dict) else None,
        resource_field_ref=(
            ResourceFieldRef(_str(rf.get("resource")), _str(rf.get("containerName")), _str(rf.get("divisor"), "1"))
            if isinstance(rf, dict)
            else None
        ),
    )


def _env_from(e: dict[Any, Any]) -> EnvFromSource:
    cm, sec = _d(e.get("configMapRef")), _d(e.get("secretRef"))
    ref = cm or sec
    return EnvFromSource(
        config_map=_str(cm.get("name")) if "configMapRef" in e else None,
        secret=_str(sec.get("name")) if "secretRef" in e else None,
        prefix=_str(e.get("prefix")),
        optional=bool(ref.get("optional")),
    )


def probe_of(p: Any) -> Probe | None:
    """An httpGet (HTTP), tcpSocket or exec probe; None for any other handler (grpc, HTTPS)."""
    p = _d(p)
    http, tcp, exe = _d(p.get("httpGet")), _d(p.get("tcpSocket")), _d(p.get("exec"))
    if "httpGet" in p and _str(http.get("scheme"), "HTTP").upper() == "HTTP":
        kind, src = "http", http
    elif "tcpSocket" in p:
        kind, src = "tcp", tcp
    elif "exec" in p and _l(exe.get("command")):
        kind, src = "exec", {"port": 0}
    else:
        return None
    port = src.get("port")

    def num(k: str, d: int) -> int:
        v = p.get(k)
        return int(v) if isinstance(v, int) and v >= 0 else d

    return Probe(
        kind,
        port if isinstance(port, int) else _str(port),
        _str(http.get("path")) or "/" if kind == "http" else "/",
        tuple((_str(h.get("name")), _str(h.get("value"))) for h in map(_d, _l(http.get("httpHeaders")))),
        num("initialDelaySeconds", 0),
        num("periodSeconds", 10) or 10,
        num("timeoutSeconds", 1) or 1,
        num("successThreshold", 1) or 1,
        num("failureThreshold", 3) or 3,
        tuple(str(w) for w in _l(exe.get("command"))) if kind == "exec" else (),
    )


def _opt_int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def security_context_of(v: Any) -> SecurityContext | None:
    """A pod's or a container's ``securityContext`` dict → :class:`SecurityContext` (None when absent)."""
    if not isinstance(v, dict):
        return None
    caps = _d(v.get("capabilities"))
    flag = v.get("runAsNonRoot")
    escalation = v.get("allowPrivilegeEscalation")
    return SecurityContext(
        run_as_user=_opt_int(v.get("runAsUser")),
        run_as_group=_opt_int(v.get("runAsGroup")),
        run_as_non_root=flag if isinstance(flag, bool) else None,
        seccomp=_str(_d(v.get("seccompProfile")).get("type")),
        privileged=v.get("privileged") is True,
        allow_privilege_escalation=escalation if isinstance(escalation, bool) else None,
        read_only_root_filesystem=v.get("readOnlyRootFilesystem") is True,
        cap_add=tuple(str(x) for x in _l(caps.get("add"))),
        cap_drop=tuple(str(x) for x in _l(caps.get("drop"))),
        fs_group=_opt_int(v.get("fsGroup")),
        supplemental_groups=tuple(g for g in _l(v.get("supplementalGroups")) if _opt_int(g) is not None),
        sysctls=tuple((_str(x.get("name")), _str(x.get("value"))) for x in map(_d, _l(v.get("sysctls")))),
    )


def _container(c: dict[Any, Any]) -> Container:
    image = _str(c.get("image"))
    return Container(
        readiness_probe=probe_of(c["readinessProbe"]) if "readinessProbe" in c else None,
        startup_probe=probe_of(c["startupProbe"]) if "startupProbe" in c else None,
        liveness_probe=probe_of(c["livenessProbe"]) if "livenessProbe" in c else None,
        pre_stop_exec=tuple(
            str(w) for w in _l(_d(_d(_d(c.get("lifecycle")).get("preStop")).get("exec")).get("command"))
        ),
        pre_stop_sleep=(lambda v: v if isinstance(v, int) else None)(
            _d(_d(_d(c.get("lifecycle")).get("preStop")).get("sleep")).get("seconds")
        ),
        name=_str(c.get("name")),
        image=image,
        image_pull_policy=_str(c.get("imagePullPolicy")) or default_pull_policy(image),
        command=tuple(str(x) for x in _l(c.get("command"))),
        args=tuple(str(x) for x in _l(c.get("args"))),
        working_dir=_str(c.get("workingDir")),
        env=tuple(_env(e) for e in _l(c.get("env")) if isinstance(e, dict)),
        env_from=tuple(_env_from(e) for e in _l(c.get("envFrom")) if isinstance(e, dict)),
        ports=tuple(
            ContainerPort(
                container_port=int(p.get("containerPort") or 0),
                protocol=_str(p.get("protocol")) or "TCP",
                name=_str(p.get("name")),
                host_port=int(p.get("hostPort") or 0),
                host_ip=_str(p.get("hostIP")),
            )
            for p in _l(c.get("ports"))
            if isinstance(p, dict)
        ),
        volume_mounts=tuple(
            VolumeMount(_str(m.get("name")), _str(m.get("mountPath")), bool(m.get("readOnly")), _str(m.get("subPath")))
            for m in _l(c.get("volumeMounts"))
            if isinstance(m, dict)
        ),
        resources=_resources(c.get("resources")),
        tty=bool(c.get("tty")),
        stdin=bool(c.get("stdin")),
        restart_policy=_str(c.get("restartPolicy")),
        security_context=security_context_of(c.get("securityContext")),
    )


def _items(v: Any) -> tuple[KeyToPath, ...]:
    return tuple(
        KeyToPath(_str(i.get("key")), _str(i.get("path")), i.get("mode") if isinstance(i.get("mode"), int) else None)
        for i in _l(v)
        if isinstance(i, dict)
    )


VOLUME_SOURCES = ("emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "downwardAPI")


def _volume(v: dict[Any, Any]) -> Volume:
    name = _str(v.get("name"))
    if "emptyDir" in v:
        ed = _d(v.get("emptyDir"))
        size = ed.get("sizeLimit")
        return Volume(
            name,
            "emptyDir",
            medium=_str(ed.get("medium")),
            size_limit=resource_value("memory", size) if size is not None else None,
        )
    if "hostPath" in v:
        hp = _d(v.get("hostPath"))
        return Volume(name, "hostPath", path=_str(hp.get("path")), host_path_type=_str(hp.get("type")))
    if "downwardAPI" in v:
        da = _d(v.get("downwardAPI"))
        mode = da.get("defaultMode")
        files = []
        for it in _l(da.get("items")):
            it = _d(it)
            rf = _d(it.get("resourceFieldRef"))
            files.append(
                DownwardFile(
                    _str(it.get("path")),
                    _str(_d(it.get("fieldRef")).get("fieldPath")),
                    ResourceFieldRef(
                        _str(rf.get("resource")), _str(rf.get("containerName")), _str(rf.get("divisor"), "1")
                    )
                    if rf
                    else None,
                    it.get("mode") if isinstance(it.get("mode"), int) else None,
                )
            )
        return Volume(name, "downwardAPI", downward=tuple(files), default_mode=mode if isinstance(mode, int) else 0o644)
    if "persistentVolumeClaim" in v:
        pvc = _d(v.get("persistentVolumeClaim"))
        return Volume(
            name, "persistentVolumeClaim", ref_name=_str(pvc.get("claimName")), read_only=bool(pvc.get("readOnly"))
        )
    if "configMap" in v:
        cm = _d(v.get("configMap"))
        mode = cm.get("defaultMode")
        return Volume(
            name,
            "configMap",
            ref_name=_str(cm.get("name")),
            items=_items(cm.get("items")),
            default_mode=mode if isinstance(mode, int) else 0o644,
            optional=bool(cm.get("optional")),
        )
    sec = _d(v.get("secret"))
    mode = sec.get("defaultMode")
    return Volume(
        name,
        "secret",
        ref_name=_str(sec.get("secretName")),
        items=_items(sec.get("items")),
        default_mode=mode if isinstance(mode, int) else 0o644,
        optional=bool(sec.get("optional")),
    )


def _ns_requirements(v: Any) -> tuple[NodeSelectorRequirement, ...]:
    return tuple(
        NodeSelectorRequirement(_str(r.get("key")), _str(r.get("operator")), tuple(str(x) for x in _l(r.get("values"))))
        for r in _l(v)
        if isinstance(r, dict)
    )


def _ns_term(t: Any) -> NodeSelectorTerm:
    t = _d(t)
    return NodeSelectorTerm(_ns_requirements(t.get("matchExpressions")), _ns_requirements(t.get("matchFields")))


def build_pod_spec(spec: Any) -> PodSpec:
    """Defaulted :class:`PodSpec` from a validated ``spec`` dict."""
    s = _d(spec)
    na = _d(_d(s.get("affinity")).get("nodeAffinity"))
    required = _d(na.get("requiredDuringSchedulingIgnoredDuringExecution"))
    tgp = s.get("terminationGracePeriodSeconds")
    return PodSpec(
        containers=tuple(_container(c) for c in _l(s.get("containers")) if isinstance(c, dict)),
        init_containers=tuple(_container(c) for c in _l(s.get("initContainers")) if isinstance(c, dict)),
        volumes=tuple(_volume(v) for v in _l(s.get("volumes")) if isinstance(v, dict)),
        restart_policy=_str(s.get("restartPolicy")) or "Always",
        node_selector=_strmap(s.get("nodeSelector")),
        node_name=_str(s.get("nodeName")),
        required_node_terms=tuple(_ns_term(t) for t in _l(required.get("nodeSelectorTerms"))),
        preferred_node_terms=tuple(
            PreferredSchedulingTerm(int(p.get("weight") or 0), _ns_term(p.get("preference")))
            for p in _l(na.get("preferredDuringSchedulingIgnoredDuringExecution"))
            if isinstance(p, dict)
        ),
        tolerations=tuple(
            Toleration(
                key=_str(t.get("key")),
                operator=_str(t.get("operator")) or "Equal",
                value=_str(t.get("value")),
                effect=_str(t.get("effect")),
                toleration_seconds=t.get("tolerationSeconds") if isinstance(t.get("tolerationSeconds"), int) else None,
            )
            for t in _l(s.get("tolerations"))
            if isinstance(t, dict)
        ),
        host_network=bool(s.get("hostNetwork")),
        host_pid=bool(s.get("hostPID")),
        host_ipc=bool(s.get("hostIPC")),
        image_pull_secrets=tuple(_str(_d(r).get("name")) for r in _l(s.get("imagePullSecrets"))),
        termination_grace_period_seconds=tgp if isinstance(tgp, int) else 30,
        dns_policy=_str(s.get("dnsPolicy")) or "ClusterFirst",
        dns_config=_dns_config(s.get("dnsConfig")),
        hostname=_str(s.get("hostname")),
        subdomain=_str(s.get("subdomain")),
        host_aliases=tuple(
            HostAlias(_str(a.get("ip")), tuple(str(h) for h in _l(a.get("hostnames"))))
            for a in _l(s.get("hostAliases"))
            if isinstance(a, dict)
        ),
        enable_service_links=s.get("enableServiceLinks") is not False,
        share_process_namespace=bool(s.get("shareProcessNamespace")),
        security_context=security_context_of(s.get("securityContext")),
        service_account_name=_str(s.get("serviceAccountName") or s.get("serviceAccount")),
    )


def _dns_config(v: Any) -> DnsConfig | None:
    if not isinstance(v, dict):
        return None
    return DnsConfig(
        tuple(str(x) for x in _l(v.get("nameservers"))),
        tuple(str(x) for x in _l(v.get("searches"))),
        tuple(
            (_str(_d(o).get("name")), None if _d(o).get("value") is None else _str(_d(o).get("value")))
            for o in _l(v.get("options"))
            if _d(o).get("name")
        ),
    )


def build_pod_template(t: Any) -> PodTemplate:
    t = _d(t)
    m = _d(t.get("metadata"))
    return PodTemplate(
        _strmap(m.get("labels")), _strmap(m.get("annotations")), build_pod_spec(t.get("spec")), _d(t.get("spec"))
    )


def _int(v: Any, default: int) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _or(v: Any, default: Any) -> Any:
    return default if v is None else v


def _b64(v: Any) -> bytes:
    return base64.b64decode(str(v or "").encode("ascii"), validate=False)


def build_object(doc: Mapping[str, Any], source: Source | None = None) -> AnyObject:
    """Validated manifest dict → typed object with defaults. Raises KeyError for unsupported kinds."""
    cls = KINDS[(str(doc.get("apiVersion")), str(doc.get("kind")))]
    common: dict[str, Any] = {
        "meta": build_meta(doc.get("metadata"), cls.namespaced),
        "manifest": doc,
        "source": source,
    }
    spec = _d(doc.get("spec"))
    if cls is Namespace:
        return Namespace(**common)
    if cls is ConfigMap:
        return ConfigMap(
            **common,
            data=_strmap(doc.get("data")),
            binary_data={str(k): _b64(v) for k, v in _d(doc.get("binaryData")).items()},
            immutable=bool(doc.get("immutable")),
        )
    if cls is Secret:
        data = {str(k): _b64(v) for k, v in _d(doc.get("data")).items()}
        data.update({str(k): _str(v).encode("utf-8") for k, v in _d(doc.get("stringData")).items()})
        return Secret(**common, type=_str(doc.get("type")) or "Opaque", data=data, immutable=bool(doc.get("immutable")))
    if cls is ServiceAccount:
        automount = doc.get("automountServiceAccountToken")
        return ServiceAccount(
            **common,
            automount_token=automount if isinstance(automount, bool) else None,
            image_pull_secrets=tuple(_str(_d(r).get("name")) for r in _l(doc.get("imagePullSecrets"))),
        )
    if cls is Service:
        stype = _str(spec.get("type")) or "ClusterIP"
        cfg = _d(_d(spec.get("sessionAffinityConfig")).get("clientIP"))
        return Service(
            **common,
            type=stype,
            selector=_strmap(spec.get("selector")),
            ports=tuple(
                ServicePort(
                    port=int(p.get("port") or 0),
                    target_port=_target_port(p),
                    protocol=_str(p.get("protocol")) or "TCP",
                    name=_str(p.get("name")),
                    node_port=p.get("nodePort") if isinstance(p.get("nodePort"), int) else None,
                )
                for p in _l(spec.get("ports"))
                if isinstance(p, dict)
            ),
            cluster_ip=_str(spec.get("clusterIP")),
            session_affinity=_str(spec.get("sessionAffinity")) or "None",
            session_affinity_timeout=_int(cfg.get("timeoutSeconds"), 10800),
            external_traffic_policy=_str(spec.get("externalTrafficPolicy"))
            or ("Cluster" if stype in ("NodePort", "LoadBalancer") else ""),
            internal_traffic_policy=_str(spec.get("internalTrafficPolicy")) or "Cluster",
            publish_not_ready_addresses=bool(spec.get("publishNotReadyAddresses")),
            external_ips=tuple(str(x) for x in _l(spec.get("externalIPs"))),
        )
    if cls is Pod:
        return Pod(**common, spec=build_pod_spec(spec))
    if cls is PersistentVolumeClaim:
        return build_claim(common, spec)
    if cls is PersistentVolume:
        return build_volume(common, spec)
    template = build_pod_template(spec.get("template"))
    selector = build_label_selector(spec.get("selector"))
    if cls is Deployment:
        st = _d(spec.get("strategy"))
        stype = _str(st.get("type")) or "RollingUpdate"
        ru = _d(st.get("rollingUpdate"))
        strategy = (
            DeploymentStrategy(stype, _or(ru.get("maxSurge"), "25%"), _or(ru.get("maxUnavailable"), "25%"))
            if stype == "RollingUpdate"
            else DeploymentStrategy(stype, 0, 0)
        )
        return Deployment(
            **common,
            replicas=_int(spec.get("replicas"), 1),
            selector=selector,
            template=template,
            strategy=strategy,
            min_ready_seconds=_int(spec.get("minReadySeconds"), 0),
            revision_history_limit=_int(spec.get("revisionHistoryLimit"), 10),
            progress_deadline_seconds=_int(spec.get("progressDeadlineSeconds"), 600),
            paused=bool(spec.get("paused")),
        )
    if cls is StatefulSet:
        us = _d(spec.get("updateStrategy"))
        claims = []
        for t in _l(spec.get("volumeClaimTemplates")):
            t = _d(t)
            claims.append(
                build_claim(
                    {"meta": build_meta(t.get("metadata"), True), "manifest": t, "source": source}, _d(t.get("spec"))
                )
            )
        return StatefulSet(
            **common,
            replicas=_int(spec.get("replicas"), 1),
            selector=selector,
            template=template,
            service_name=_str(spec.get("serviceName")),
            pod_management_policy=_str(spec.get("podManagementPolicy")) or "OrderedReady",
            update_strategy=_str(us.get("type")) or "RollingUpdate",
            partition=_int(_d(us.get("rollingUpdate")).get("partition"), 0),
            claim_templates=tuple(claims),
            min_ready_seconds=_int(spec.get("minReadySeconds"), 0),
            revision_history_limit=_int(spec.get("revisionHistoryLimit"), 10),
        )
    if cls is ReplicaSet:
        return ReplicaSet(
            **common,
            replicas=_int(spec.get("replicas"), 1),
            selector=selector,
            template=template,
            min_ready_seconds=_int(spec.get("minReadySeconds"), 0),
        )
    if cls is DaemonSet:
        us = _d(spec.get("updateStrategy"))
        ru = _d(us.get("rollingUpdate"))
        return DaemonSet(
            **common,
            selector=selector,
            template=template,
            update_strategy=DaemonSetUpdateStrategy(
                _str(us.get("type")) or "RollingUpdate", _or(ru.get("maxUnavailable"), 1), _or(ru.get("maxSurge"), 0)
            ),
            min_ready_seconds=_int(spec.get("minReadySeconds"), 0),
            revision_history_limit=_int(spec.get("revisionHistoryLimit"), 10),
        )
    # Job: parallelism defaults to 1; completions to 1 only when neither is set (upstream).
    completions = spec.get("completions")
    parallelism = spec.get("parallelism")
    if completions is None and parallelism is None:
        completions = 1
    return Job(
        **common,
        template=template,
        completions=completions if isinstance(completions, int) else None,
        parallelism=_int(parallelism, 1),
        backoff_limit=_int(spec.get("backoffLimit"), 6),
        suspend=bool(spec.get("suspend")),
        active_deadline_seconds=spec.get("activeDeadlineSeconds")
        if isinstance(spec.get("activeDeadlineSeconds"), int)
        else None,
        ttl_seconds_after_finished=(
            spec.get("ttlSecondsAfterFinished") if isinstance(spec.get("ttlSecondsAfterFinished"), int) else None
        ),
        completion_mode=_str(spec.get("completionMode")) or "NonIndexed",
    )


def _storage(v: Any) -> int:
    try:
        return resource_value("storage", v) if v is not None else 0
    except (ValueError, TypeError):
        return 0


def build_claim(common: dict[str, Any], spec: Mapping[str, Any]) -> PersistentVolumeClaim:
    modes = tuple(str(m) for m in _l(spec.get("accessModes"))) or ("ReadWriteOnce",)
    return PersistentVolumeClaim(
        **common,
        access_modes=modes,
        storage=_storage(_d(_d(spec.get("resources")).get("requests")).get("storage")),
        storage_class=_str(spec.get("storageClassName")),
        volume_name=_str(spec.get("volumeName")),
    )


def build_volume(common: dict[str, Any], spec: Mapping[str, Any]) -> PersistentVolume:
    source = _d(spec.get("hostPath")) or _d(spec.get("local"))
    node = ""
    for term in _l(_d(_d(spec.get("nodeAffinity")).get("required")).get("nodeSelectorTerms")):
        for req in _l(_d(term).get("matchExpressions")):
            req = _d(req)
            if (
                req.get("key") == "kubernetes.io/hostname"
                and req.get("operator") == "In"
                and len(_l(req.get("values"))) == 1
            ):
                node = _str(_l(req.get("values"))[0])
    ref = _d(spec.get("claimRef"))
    return PersistentVolume(
        **common,
        capacity=_storage(_d(spec.get("capacity")).get("storage")),
        access_modes=tuple(str(m) for m in _l(spec.get("accessModes"))) or ("ReadWriteOnce",),
        reclaim_policy=_str(spec.get("persistentVolumeReclaimPolicy")) or "Retain",
        storage_class=_str(spec.get("storageClassName")),
        path=_str(source.get("path")),
        node=node,
        claim=(_str(ref.get("namespace")) or DEFAULT_NAMESPACE, _str(ref.get("name"))) if ref.get("name") else None,
    )


def referenced_configs(spec: PodSpec) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap/Secret a pod spec reads (env, envFrom, volumes, pull secrets)."""
    refs: set[tuple[str, str]] = set()
    for c in spec.init_containers + spec.containers:
        for e in c.env:
            if e.config_map_key_ref:
                refs.add(("ConfigMap", e.config_map_key_ref.name))
            if e.secret_key_ref:
                refs.add(("Secret", e.secret_key_ref.name))
        for ef in c.env_from:
            if ef.config_map is not None:
                refs.add(("ConfigMap", ef.config_map))
            if ef.secret is not None:
                refs.add(("Secret", ef.secret))
    for v in spec.volumes:
        if v.source == "configMap":
            refs.add(("ConfigMap", v.ref_name))
        elif v.source == "secret":
            refs.add(("Secret", v.ref_name))
    for name in spec.image_pull_secrets:
        refs.add(("Secret", name))
    return refs
