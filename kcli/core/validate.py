"""Validation of parsed manifest documents: every problem at once, each with file, doc, kind/name, path.

Two layers:

1. The upstream OpenAPI schema (strict: unknown fields are errors, as ``kubectl --validate=strict``),
   from the ``kubernetes-validate`` package's bundled JSON schemas, checked with jsonschema's
   ``iter_errors`` so that *all* schema errors are reported (``kubernetes_validate.validate`` stops
   at the first). This is an offline, read-only lookup of package data; it is the one import under
   ``kcli/core`` that reads files, and it does so once per kind (cached).
2. kcli's own checks for what a schema cannot say: required values, DNS-1123 names, label syntax,
   selectors matching template labels, quantities, ports, enums, volume/mount consistency, and
   references to ConfigMaps/Secrets (in the applied set or in a ``known`` set from the cluster).

Fields kcli does not implement become one warning per object; they never fail validation.
``validate_documents`` never raises on bad input.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ipaddress
import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from kcli.core.network import POD_CIDR
from kcli.core.objects import (
    KINDS,
    AnyObject,
    Document,
    ObjectKey,
    Source,
    build_label_selector,
    build_object,
    capability_name,
    normalize_sysctl,
    probe_of,
)
from kcli.core.quantity import QuantityError, parse_quantity

SCHEMA_VERSION = "1.34.0"
"""Kubernetes version whose OpenAPI schemas are used (falls back to the newest bundled one)."""

PathT = tuple[Any, ...]
YamlMap = dict[Any, Any]
"""A YAML mapping as parsed, not yet validated: its keys are usually but not necessarily strings."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Problem:
    """One validation error or warning. ``doc`` is 1-based; None for file-level problems."""

    file: str
    doc: int | None
    kind: str
    name: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.doc is not None:
            where += f": doc {self.doc}"
            if self.kind or self.name:
                where += f" ({self.kind or '?'}/{self.name})" if self.name else f" ({self.kind})"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ValidationResult(NamedTuple):
    objects: tuple[AnyObject, ...]
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


def format_path(path: Iterable[Any]) -> str:
    """``("spec", "containers", 0, "name")`` → ``spec.containers[0].name``."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


# --------------------------------------------------------------------------- kinds

UNSUPPORTED_HINTS = {
    "CronJob": "CronJob needs a scheduler running in the cluster; kcli has no agent: not supported",
    "StorageClass": "StorageClass objects are not supported by kcli: its one class, local-path (a directory on "
    "the node of the claim's first pod), is built in",
    "Ingress": "Ingress is not supported by kcli (no ingress controller); use a NodePort Service",
    "ReplicationController": "ReplicationController is not supported by kcli; use a Deployment (apps/v1)",
}


def _kind_error(api_version: str, kind: str) -> tuple[str, str] | None:
    """None when (apiVersion, kind) is supported, else (field, message explaining why not)."""
    if (api_version, kind) in KINDS:
        return None
    if kind in UNSUPPORTED_HINTS:
        return "kind", UNSUPPORTED_HINTS[kind]
    for av, k in KINDS:
        if k == kind:
            return "apiVersion", f'apiVersion "{api_version}" is not supported for {kind}; kcli supports {av}'
    return "kind", f"{kind} ({api_version}) is not supported by kcli"


# --------------------------------------------------------------------------- schema layer


@functools.lru_cache(maxsize=1)
def _schema_dir() -> tuple[str, str]:
    from kubernetes_validate import utils

    versions = utils.all_versions()
    version = SCHEMA_VERSION if SCHEMA_VERSION in versions else versions[-1]
    return version, f"kubernetes-json-schema/v{version}-local-strict"


@functools.lru_cache(maxsize=1)
def _definitions() -> Any:
    from kubernetes_validate import utils

    version, d = _schema_dir()
    return utils.schema_contents(f"{d}/_definitions.json", version)


@functools.cache
def _validator(api_version: str, kind: str) -> Any:
    import jsonschema  # type: ignore[import-untyped]
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    version, d = _schema_dir()
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = utils.schema_contents(f"{d}/{kind.lower()}-{group}.json", version)
    registry = Resource.from_contents(_definitions()) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


_JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _json_type(v: Any) -> str:
    return _JSON_TYPES.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    s = repr(v) if not isinstance(v, str) else f'"{v}"'
    return s if len(s) <= 40 else s[:37] + "..."


def _schema_types(schema: Any) -> list[str]:
    t = schema.get("type") if isinstance(schema, dict) else None
    ts = t if isinstance(t, list) else [t] if t else []
    return [x for x in ts if x != "null"]


class SchemaMemo(Protocol):
    """Documents already found free of schema violations (kept by the shell between runs)."""

    def __contains__(self, key: str) -> bool: ...

    def add(self, key: str) -> None: ...


def schema_key(data: YamlMap, api_version: str, kind: str) -> str | None:
    """What identifies one schema check: the document, its kind and the schema version. None for a
    Secret (a digest of secret values is kept nowhere)."""
    if kind == "Secret":
        return None
    text = json.dumps([SCHEMA_VERSION, api_version, kind, data], sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _schema_problems(data: YamlMap, api_version: str, kind: str, memo: SchemaMemo | None) -> list[tuple[PathT, str]]:
    if memo is None:
        return schema_problems(data, api_version, kind)
    key = schema_key(data, api_version, kind)
    if key is not None and key in memo:
        return []
    found = schema_problems(data, api_version, kind)
    if key is not None and not found:
        memo.add(key)
    return found


def schema_problems(data: YamlMap, api_version: str, kind: str) -> list[tuple[PathT, str]]:
    """Every schema violation of ``data`` as (path, message), in kubectl-like wording."""
    try:
        validator = _validator(api_version, kind)
    except Exception as exc:  # schema missing or unreadable: report, never crash
        return [((), f"cannot load the OpenAPI schema for {kind} ({api_version}): {exc}")]
    out: list[tuple[PathT, str]] = []
    for e in validator.iter_errors(data):
        path = tuple(e.absolute_path)
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            props = e.schema.get("properties", {}) if isinstance(e.schema, dict) else {}
            extras = [k for k in e.instance if k not in props] or ["?"]
            out.extend((path + (k,), "unknown field") for k in extras)
        elif e.validator == "required":
            missing = re.match(r"'(.*)' is a required property", e.message)
            out.append((path + (missing.group(1),) if missing else path, "required value"))
        elif e.validator == "type":
            want = _schema_types(e.schema) or [str(e.validator_value)]
            out.append((path, f"must be {' or '.join(want)}, got {_json_type(e.instance)} {_short(e.instance)}"))
        elif e.validator == "oneOf" and isinstance(e.schema, dict):
            want = [t for sub in e.schema.get("oneOf", []) for t in _schema_types(sub)]
            out.append(
                (path, f"must be {' or '.join(want) or 'valid'}, got {_json_type(e.instance)} {_short(e.instance)}")
            )
        else:
            out.append((path, e.message))
    return out


# --------------------------------------------------------------------------- name rules (kcli.core.names)

from kcli.core.names import (  # noqa: E402,F401 - re-exported: validate is where callers look for them
    _CONFIG_KEY,
    _DNS_1035,
    _DNS_LABEL,
    _DNS_SUBDOMAIN,
    _IANA_SVC,
    _LABEL_VALUE,
    _QUALIFIED_NAME,
    MSG_CONFIG_KEY,
    MSG_DNS_1035,
    MSG_DNS_LABEL,
    MSG_DNS_SUBDOMAIN,
    MSG_LABEL_VALUE,
    MSG_QUALIFIED_NAME,
    dns_1035_error,
    dns_label_error,
    dns_subdomain_error,
    label_key_error,
    label_value_error,
    port_name_error,
)

# Docker's image reference grammar (github.com/distribution/reference, regexp.go and normalize.go):
# [domain[:port]/]path[:tag][@digest], path components lowercase alphanumerics joined by [._] | __ | -+.
_REF_ALNUM = r"[a-z0-9]+"
_REF_PATH_COMPONENT = rf"{_REF_ALNUM}(?:(?:[._]|__|-+){_REF_ALNUM})*"
_REF_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REF_DOMAIN = rf"(?:{_REF_DOMAIN_COMPONENT}(?:\.{_REF_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REF_NAME = rf"(?:{_REF_DOMAIN}/)?{_REF_PATH_COMPONENT}(?:/{_REF_PATH_COMPONENT})*"
_REF_TAG = r"[\w][\w.-]{0,127}"
_REF_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"({_REF_NAME})(?::({_REF_TAG}))?(?:@({_REF_DIGEST}))?", re.ASCII)
_REF_IDENTIFIER = re.compile(r"[a-f0-9]{64}")
REF_NAME_MAX = 255
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


def image_reference_error(ref: str) -> str | None:
    """None when ``ref`` is an image reference docker accepts, else why not (docker's wording)."""
    if _REF_IDENTIFIER.fullmatch(ref):
        return "invalid repository name: cannot specify 64-byte hexadecimal strings"
    first, slash, rest = ref.partition("/")
    # docker.io is implied unless the first component looks like a registry (splitDockerDomain)
    is_domain = bool(slash) and (any(ch in first for ch in ".:") or first == "localhost" or first.lower() != first)
    remote = (rest if is_domain else ref).partition(":")[0]
    if remote.lower() != remote:
        return "invalid reference format: repository name must be lowercase"
    m = _REFERENCE.fullmatch(ref)
    if m is None:
        return "invalid reference format"
    if len(m.group(1)) > REF_NAME_MAX:
        return f"invalid reference format: repository name must not be more than {REF_NAME_MAX} characters"
    digest = m.group(3)
    if digest:
        algorithm, _, hexa = digest.partition(":")
        want = DIGEST_HEX_LENGTHS.get(algorithm)
        if want is None:
            return f"invalid reference format: unsupported digest algorithm {algorithm!r}"
        if len(hexa) != want or hexa.lower() != hexa:
            return f"invalid reference format: a {algorithm} digest is {want} lowercase hex characters"
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_path_error(v: str, absolute: bool = True) -> str | None:
    """Absolute (or, with ``absolute=False``, relative) paths as the node should see them: no ``..``,
    no empty or ``.`` components, no trailing ``/`` (except the root), no control characters, and no
    ``:``, which ``docker run -v SRC:DST`` would read as a separator."""
    if _CONTROL.search(v):
        return "must not contain control characters (NUL, newline, ...)"
    if ":" in v:
        return 'must not contain ":" (docker cannot mount such a path)'
    if absolute and not v.startswith("/"):
        return "must be an absolute path"
    if not absolute and v.startswith("/"):
        return "must be a relative path"
    parts = v.split("/")
    if ".." in parts:
        return "must not contain '..'"
    if v != "/" and any(p in ("", ".") for p in (parts[1:] if absolute else parts)):
        return 'must be a clean path (no "//", "/./" or trailing "/")'
    return None


def _clip(v: str, n: int = 100) -> str:
    """A value as shown in a message: control characters escaped, long values cut (a 10 MB value
    must not flood the terminal, a newline or escape sequence must not forge output)."""
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", v[:n])
    return shown if len(v) <= n else f"{shown}... ({len(v)} characters)"


NAME_RULES = {
    "Namespace": dns_label_error,
    "Service": dns_1035_error,
}
"""Per-kind metadata.name rule; every other supported kind uses DNS-1123 subdomain (as upstream)."""

# --------------------------------------------------------------------------- implemented fields

POD_SPEC_FIELDS = {
    "containers",
    "initContainers",
    "volumes",
    "restartPolicy",
    "nodeSelector",
    "nodeName",
    "affinity",
    "tolerations",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "imagePullSecrets",
    "terminationGracePeriodSeconds",
    "dnsPolicy",
    "dnsConfig",
    "hostname",
    "subdomain",
    "hostAliases",
    "enableServiceLinks",
    "shareProcessNamespace",
    "securityContext",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
}
CONTAINER_FIELDS = {
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "workingDir",
    "env",
    "envFrom",
    "ports",
    "volumeMounts",
    "resources",
    "tty",
    "stdin",
    "securityContext",
}
VOLUME_MOUNT_FIELDS = {"name", "mountPath", "readOnly", "subPath"}
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")
META_FIELDS = {"name", "namespace", "labels", "annotations", "ownerReferences"}
META_IGNORED = {"creationTimestamp", "uid", "resourceVersion", "generation", "managedFields", "selfLink"}
SPEC_FIELDS = {
    "Deployment": {
        "replicas",
        "selector",
        "template",
        "strategy",
        "minReadySeconds",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
        "paused",
    },
    "ReplicaSet": {"replicas", "selector", "template", "minReadySeconds"},
    "DaemonSet": {"selector", "template", "updateStrategy", "minReadySeconds", "revisionHistoryLimit"},
    "StatefulSet": {
        "replicas",
        "selector",
        "template",
        "serviceName",
        "podManagementPolicy",
        "updateStrategy",
        "volumeClaimTemplates",
        "minReadySeconds",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "ordinals",
    },
    "Job": {
        "template",
        "completions",
        "parallelism",
        "backoffLimit",
        "suspend",
        "selector",
        "manualSelector",
        "completionMode",
    },
    "Service": {
        "type",
        "selector",
        "ports",
        "clusterIP",
        "sessionAffinity",
        "sessionAffinityConfig",
        "externalTrafficPolicy",
        "internalTrafficPolicy",
        "publishNotReadyAddresses",
        "externalIPs",
    },
}
SUPPORTED_VOLUMES = ("emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "downwardAPI")
DEFAULT_STORAGE_CLASS = "local-path"  # kcli's one provisioner (kcli.core.volumes)
CLAIM_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod")  # what a directory on one node can honour
RECLAIM_POLICIES = ("Retain", "Delete")
DOWNWARD_FILE_FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels",
    "metadata.annotations",
)
RESOURCE_FIELDS = (
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
)
PV_FIELDS = {
    "hostPath",
    "local",
    "capacity",
    "accessModes",
    "persistentVolumeReclaimPolicy",
    "storageClassName",
    "nodeAffinity",
    "claimRef",
    "volumeMode",
    "mountOptions",
}
FIELD_REFS_IMPLEMENTED = {
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.podIP",
    "status.podIPs",
    "status.hostIP",
    "status.hostIPs",
}
"""What an env fieldRef may name, as upstream (besides metadata.labels['k'] and metadata.annotations['k']);
podrun sets every one of them."""
_FIELD_REF_SUBSCRIPT = re.compile(r"metadata\.(labels|annotations)\['[^']+'\]")
POD_SECURITY_FIELDS = {
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "fsGroup",
    "supplementalGroups",
    "sysctls",
    "seccompProfile",
}
CONTAINER_SECURITY_FIELDS = {
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "capabilities",
    "privileged",
    "seccompProfile",
}
SECCOMP_TYPES = ("RuntimeDefault", "Unconfined", "Localhost")
MAX_ID = 2147483647  # runAsUser, runAsGroup, fsGroup, supplementalGroups: 0 .. MaxInt32, as upstream
SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)
"""Kubernetes' safe sysctls: the ones kubelet allows without ``--allowed-unsafe-sysctls`` (kcli has no such switch)."""
_SYSCTL_NAME = re.compile(r"([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?")
SERVICE_ACCOUNT_WARNING = (
    "ServiceAccounts are recorded, but no service account token is mounted in any pod: kcli has no API server "
    "to issue tokens (nor one a token could be used with); serviceAccountName is seen only by fieldRef "
    "spec.serviceAccountName"
)
"""The one warning per apply that names a ServiceAccount or a pod's serviceAccountName."""
RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
NODE_PORT_RANGE = (30000, 32767)
POD_COUNT_FIELDS = {
    "Deployment": ("replicas",),
    "ReplicaSet": ("replicas",),
    "StatefulSet": ("replicas",),
    "Job": ("parallelism", "completions"),
}
"""Fields that ask for a number of pods: bounded by the pod network's capacity."""
MAX_CONFIG_BYTES = 1024 * 1024
"""Kubernetes' limit on the data of one ConfigMap or Secret (core.MaxSecretSize): 1 MiB."""
MAX_ANNOTATIONS_BYTES = 256 * 1024
"""Kubernetes' limit on an object's annotations, keys and values together (TotalAnnotationSizeLimitB)."""
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
TAINT_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")


# --------------------------------------------------------------------------- per-document checker


@dataclass
class _Ref:
    path: PathT
    kind: str  # ConfigMap | Secret
    name: str
    key: str | None
    optional: bool


class PodNetwork(NamedTuple):
    """The pod network the manifests are validated against: no cluster on it can run more pods than
    it has addresses, so larger replica counts are refused before anything is planned."""

    cidr: str
    capacity: int

    @classmethod
    def of(cls, cidr: str) -> PodNetwork:
        return cls(cidr, ipaddress.ip_network(cidr).num_addresses)

    def too_many(self) -> str:
        return f"the pod network {self.cidr} holds at most {self.capacity} pods"


DEFAULT_POD_NETWORK = PodNetwork.of(POD_CIDR)


@dataclass
class _Checker:
    """Collects errors, unimplemented field paths and ConfigMap/Secret references of one document."""

    kind: str
    pod_network: PodNetwork = DEFAULT_POD_NETWORK
    errors: list[tuple[PathT, str]] = field(default_factory=list)
    unimplemented: list[tuple[PathT, str]] = field(default_factory=list)
    refs: list[_Ref] = field(default_factory=list)
    warnings: list[tuple[PathT, str]] = field(default_factory=list)  # each its own warning (privileged)
    service_account: PathT | None = None  # where a pod names its ServiceAccount (one warning per apply)

    def err(self, path: PathT, msg: str) -> None:
        self.errors.append((path, msg))

    def unimpl(self, path: PathT, note: str = "") -> None:
        self.unimplemented.append((path, note))

    # typed accessors: None when absent or of the wrong type (the schema reports wrong types)
    @staticmethod
    def d(v: Any) -> YamlMap | None:
        return v if isinstance(v, dict) else None

    @staticmethod
    def dicts(v: Any) -> list[tuple[int, YamlMap]]:
        return [(i, x) for i, x in enumerate(v) if isinstance(x, dict)] if isinstance(v, list) else []

    @staticmethod
    def strs(v: Any) -> list[tuple[int, str]]:
        return [(i, x) for i, x in enumerate(v) if isinstance(x, str)] if isinstance(v, list) else []

    @staticmethod
    def s(v: Any) -> str | None:
        return v if isinstance(v, str) else None

    @staticmethod
    def i(v: Any) -> int | None:
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def required_str(self, obj: YamlMap, key: str, path: PathT) -> str | None:
        v = obj.get(key)
        if v is None or v == "":
            self.err(path + (key,), "required value")
            return None
        return self.s(v)

    def name_rule(self, v: str, path: PathT, rule: Any) -> None:
        msg = rule(v)
        if msg:
            self.err(path, f'invalid value "{_clip(v)}": {msg}')

    def enum(self, obj: YamlMap, key: str, path: PathT, allowed: Sequence[str]) -> str | None:
        v = obj.get(key)
        if isinstance(v, str) and v not in allowed:
            self.err(
                path + (key,),
                f'unsupported value "{v}": supported values: ' + ", ".join(f'"{a}"' for a in allowed if a),
            )
            return None
        return self.s(v)

    def non_negative(self, obj: YamlMap, key: str, path: PathT) -> None:
        v = self.i(obj.get(key))
        if v is not None and v < 0:
            self.err(path + (key,), "must be greater than or equal to 0")

    def port_range(self, v: Any, path: PathT, low: int = 1) -> None:
        p = self.i(v)
        if p is not None and not (low <= p <= 65535):
            self.err(path, f"must be between {low} and 65535, inclusive")

    def unknown_keys(
        self, obj: YamlMap, implemented: Collection[str], path: PathT, ignored: Collection[str] = ()
    ) -> None:
        for k in obj:
            if k not in implemented and k not in ignored:
                self.unimpl(path + (k,))

    # -- metadata and labels
    def labels(self, v: Any, path: PathT) -> None:
        for k, val in (self.d(v) or {}).items():
            if isinstance(k, str):
                msg = label_key_error(k)
                if msg:
                    self.err(path, f'invalid label key "{_clip(k)}": {msg}')
            if isinstance(val, str):
                msg = label_value_error(val)
                if msg:
                    self.err(path + (k,), f'invalid value "{_clip(val)}": {msg}')

    def metadata(self, doc: YamlMap) -> None:
        meta = self.d(doc.get("metadata"))
        if meta is None:
            if doc.get("metadata") is None:
                self.err(("metadata", "name"), "required value")
            return
        name = meta.get("name")
        if name is None or name == "":
            if meta.get("generateName"):
                self.err(("metadata", "generateName"), "generateName cannot be used with apply; set metadata.name")
            else:
                self.err(("metadata", "name"), "required value")
        elif isinstance(name, str):
            self.name_rule(name, ("metadata", "name"), NAME_RULES.get(self.kind, dns_subdomain_error))
        ns = meta.get("namespace")
        if isinstance(ns, str) and ns and self.kind != "Namespace":
            self.name_rule(ns, ("metadata", "namespace"), dns_label_error)
        self.labels(meta.get("labels"), ("metadata", "labels"))
        annotations = self.d(meta.get("annotations")) or {}
        for k in annotations:
            if isinstance(k, str) and label_key_error(k):
                self.err(("metadata", "annotations"), f'invalid annotation key "{_clip(k)}": {label_key_error(k)}')
        size = sum(
            len(str(k).encode()) + (len(v.encode()) if isinstance(v, str) else 0) for k, v in annotations.items()
        )
        if size > MAX_ANNOTATIONS_BYTES:
            self.err(
                ("metadata", "annotations"),
                f"Too long: may not be more than {MAX_ANNOTATIONS_BYTES} bytes "
                f"(keys and values hold {size} bytes together)",
            )
        self.unknown_keys(meta, META_FIELDS | {"generateName"}, ("metadata",), META_IGNORED)

    # -- quantities / resources
    def quantity(self, v: Any, path: PathT) -> int | None:
        if v is None or isinstance(v, (dict, list)):
            return None  # absent, or a type error the schema reports
        try:
            q = parse_quantity(v)
        except QuantityError as exc:
            self.err(path, f"invalid value {_short(v)}: {exc}")
            return None
        if q < 0:
            self.err(path, "must be greater than or equal to 0")
            return None
        return int(q * 1000)  # comparable across suffixes (milli-units)

    def resources(self, r: Any, path: PathT) -> None:
        r = self.d(r)
        if r is None:
            return
        parsed: dict[str, dict[str, int]] = {}
        for section in ("requests", "limits"):
            for k, v in (self.d(r.get(section)) or {}).items():
                q = self.quantity(v, path + (section, k))
                if q is not None:
                    parsed.setdefault(section, {})[str(k)] = q
                if (
                    isinstance(k, str)
                    and k not in STANDARD_RESOURCES
                    and not k.startswith("hugepages-")
                    and "/" not in k
                ):
                    self.err(
                        path + (section, k),
                        f'unsupported resource name "{k}": must be cpu, memory, '
                        "ephemeral-storage, hugepages-<size> or a domain-prefixed extended resource",
                    )
        req, lim = parsed.get("requests", {}), parsed.get("limits", {})
        for k, q in req.items():
            if k in lim:
                if k in STANDARD_RESOURCES and q > lim[k]:
                    self.err(path + ("requests", k), f"must be less than or equal to {k} limit of {r['limits'][k]}")
                elif k not in STANDARD_RESOURCES and not k.startswith("hugepages-") and q != lim[k]:
                    self.err(path + ("requests", k), f"must be equal to {k} limit of {r['limits'][k]}")
        self.unknown_keys(r, ("requests", "limits"), path)

    # -- pod spec
    def pod_spec(
        self, raw: Any, path: PathT, allowed_restart: Sequence[str] = RESTART_POLICIES, claims: Collection[str] = ()
    ) -> None:
        """``claims``: a StatefulSet's volumeClaimTemplates, volumes its containers may mount."""
        spec = self.d(raw)
        if spec is None:
            if raw is None:
                self.err(path, "required value")
            return
        volumes = self.volumes(spec.get("volumes"), path + ("volumes",)) | set(claims)
        containers = spec.get("containers")
        if not containers:
            self.err(path + ("containers",), "required value")
        seen: dict[str, PathT] = {}
        for key in ("initContainers", "containers"):
            for i, c in self.dicts(spec.get(key)):
                self.container(
                    c,
                    path + (key, i),
                    volumes,
                    seen,
                    init=key == "initContainers",
                    host_network=spec.get("hostNetwork") is True,
                )
        rp = spec.get("restartPolicy")
        if isinstance(rp, str) and rp not in allowed_restart:
            self.err(
                path + ("restartPolicy",),
                f'unsupported value "{rp}": supported values: ' + ", ".join(f'"{a}"' for a in allowed_restart),
            )
        elif rp is None and "Always" not in allowed_restart:
            self.err(
                path + ("restartPolicy",),
                "required value: supported values: " + ", ".join(f'"{a}"' for a in allowed_restart),
            )
        self.enum(spec, "dnsPolicy", path, DNS_POLICIES)
        self.dns_config(spec, path)
        for key in ("hostname", "subdomain"):
            if isinstance(spec.get(key), str) and spec[key]:
                self.name_rule(spec[key], path + (key,), dns_label_error)
        if isinstance(spec.get("nodeName"), str) and spec["nodeName"]:
            self.name_rule(spec["nodeName"], path + ("nodeName",), dns_subdomain_error)
        self.non_negative(spec, "terminationGracePeriodSeconds", path)
        self.labels(spec.get("nodeSelector"), path + ("nodeSelector",))
        for i, t in self.dicts(spec.get("tolerations")):
            self.toleration(t, path + ("tolerations", i))
        for i, r in self.dicts(spec.get("imagePullSecrets")):
            name = self.required_str(r, "name", path + ("imagePullSecrets", i))
            if name:
                self.name_rule(name, path + ("imagePullSecrets", i, "name"), dns_subdomain_error)
                self.refs.append(_Ref(path + ("imagePullSecrets", i, "name"), "Secret", name, None, False))
        for i, a in self.dicts(spec.get("hostAliases")):
            ip = self.required_str(a, "ip", path + ("hostAliases", i))
            if ip and not _is_ip(ip):
                self.err(path + ("hostAliases", i, "ip"), f'invalid value "{ip}": must be a valid IP address')
        self.affinity(spec.get("affinity"), path + ("affinity",))
        self.pod_security(spec, path)
        self.service_account_name(spec, path)
        self.unknown_keys(spec, POD_SPEC_FIELDS, path)

    # -- securityContext (pod and containers), ServiceAccounts
    def pod_security(self, spec: YamlMap, path: PathT) -> None:
        """The pod's securityContext and its containers', and what their merge cannot give docker."""
        pod_sc = self.d(spec.get("securityContext"))
        pp = path + ("securityContext",)
        if pod_sc is not None:
            self.security_context(pod_sc, pp, POD_SECURITY_FIELDS)
            self.sysctls(pod_sc.get("sysctls"), pp + ("sysctls",), spec)
        for key in ("initContainers", "containers"):
            for i, c in self.dicts(spec.get(key)):
                sc = self.d(c.get("securityContext"))
                cp = path + (key, i, "securityContext")
                if sc is not None:
                    self.security_context(sc, cp, CONTAINER_SECURITY_FIELDS)
                    self.privileges(sc, cp)
                self.group_without_user(pod_sc or {}, sc or {}, pp, cp)

    def security_context(self, sc: YamlMap, p: PathT, implemented: Collection[str]) -> None:
        for key in ("runAsUser", "runAsGroup", "fsGroup"):
            self.id_range(sc.get(key), p + (key,))
        groups = sc.get("supplementalGroups")
        for i, g in enumerate(groups if isinstance(groups, list) else []):
            self.id_range(g, p + ("supplementalGroups", i))
        profile = self.d(sc.get("seccompProfile"))
        if profile is not None and self.enum(profile, "type", p + ("seccompProfile",), SECCOMP_TYPES) == "Localhost":
            self.unimpl(p + ("seccompProfile", "type"), "Localhost")
        self.unknown_keys(sc, implemented, p)

    def id_range(self, v: Any, p: PathT) -> None:
        n = self.i(v)
        if n is not None and not 0 <= n <= MAX_ID:
            self.err(p, f"must be between 0 and {MAX_ID}, inclusive")

    def privileges(self, sc: YamlMap, p: PathT) -> None:
        """Capability names (a typo would only fail on the node), privileged (warned)."""
        caps = self.d(sc.get("capabilities")) or {}
        for key in ("add", "drop"):
            names = caps.get(key)
            for i, name in enumerate(names if isinstance(names, list) else []):
                if isinstance(name, str) and capability_name(name) is None:
                    bare = name[4:] if name.upper().startswith("CAP_") and capability_name(name[4:]) else ""
                    self.err(
                        p + ("capabilities", key, i),
                        f'unsupported value "{_clip(name)}": must be a Linux '
                        "capability without the CAP_ prefix (such as NET_ADMIN, SYS_TIME) or ALL"
                        + (f': write "{bare}"' if bare else ""),
                    )
        if sc.get("privileged") is True:
            self.warnings.append(
                (
                    p + ("privileged",),
                    "privileged container: docker run --privileged gives it every "
                    "capability and the node's devices, i.e. root on the node (a dockerd that itself "
                    "runs unprivileged refuses it)",
                )
            )
            if sc.get("allowPrivilegeEscalation") is False:
                self.err(p, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true")

    def group_without_user(self, pod_sc: YamlMap, sc: YamlMap, pod_path: PathT, path: PathT) -> None:
        """docker's --user takes a group only with a user: runAsGroup alone is not applied."""
        if self.i(sc.get("runAsUser")) is not None or self.i(pod_sc.get("runAsUser")) is not None:
            return
        if self.i(sc.get("runAsGroup")) is not None:
            self.unimpl(path + ("runAsGroup",), "without runAsUser: the image's user keeps its group")
        elif self.i(pod_sc.get("runAsGroup")) is not None:
            self.unimpl(pod_path + ("runAsGroup",), "without runAsUser: the image's user keeps its group")

    def sysctls(self, v: Any, p: PathT, spec: YamlMap) -> None:
        """Only Kubernetes' safe set (kcli has no --allowed-unsafe-sysctls); none in a namespace of the host."""
        seen: set[str] = set()
        for i, sysctl in self.dicts(v):
            name = self.required_str(sysctl, "name", p + (i,))
            if not name:
                continue
            np, norm = p + (i, "name"), normalize_sysctl(name)
            if len(name) > 253 or not _SYSCTL_NAME.fullmatch(name):
                self.err(
                    np,
                    f'invalid value "{_clip(name)}": must have at most 253 characters and match regex '
                    + _SYSCTL_NAME.pattern,
                )
            elif norm in seen:
                self.err(np, f'duplicate value "{name}"')
            elif norm not in SAFE_SYSCTLS:
                self.err(
                    np,
                    f'forbidden sysctl "{name}": not in Kubernetes\' safe set ({", ".join(SAFE_SYSCTLS)}); '
                    "kubelet refuses the others unless --allowed-unsafe-sysctls allows them, and kcli has no such switch",
                )
            elif norm.startswith("net.") and spec.get("hostNetwork") is True:
                self.err(np, f'invalid value "{name}": may not be specified when `hostNetwork` is true')
            elif norm.startswith("kernel.shm") and spec.get("hostIPC") is True:
                self.err(np, f'invalid value "{name}": may not be specified when `hostIPC` is true')
            seen.add(norm)

    def service_account_name(self, spec: YamlMap, path: PathT) -> None:
        for key in ("serviceAccountName", "serviceAccount"):
            v = self.s(spec.get(key))
            if v:
                self.name_rule(v, path + (key,), dns_subdomain_error)
                self.service_account = path + (key,) if self.service_account is None else self.service_account
        if spec.get("automountServiceAccountToken") is True and self.service_account is None:
            self.service_account = path + ("automountServiceAccountToken",)

    def service_account_object(self, doc: YamlMap) -> None:
        """A ServiceAccount is recorded; its token Secrets and pull secrets do nothing here."""
        self.service_account = ()
        if doc.get("imagePullSecrets"):
            self.unimpl(("imagePullSecrets",), "not added to its pods: name them in the pod spec")
        if doc.get("secrets"):
            self.unimpl(("secrets",))

    def volumes(self, v: Any, path: PathT) -> set[str]:
        names: set[str] = set()
        for i, vol in self.dicts(v):
            p = path + (i,)
            name = self.required_str(vol, "name", p)
            if name:
                self.name_rule(name, p + ("name",), dns_label_error)
                if name in names:
                    self.err(p + ("name",), f'duplicate value "{name}"')
                names.add(name)
            sources = [k for k in vol if k != "name"]
            if not sources:
                self.err(p, "must specify a volume type")
                continue
            if len(sources) > 1:
                self.err(p + (sources[1],), "may not specify more than 1 volume type")
                continue
            src = sources[0]
            body = self.d(vol[src]) if vol[src] is not None else {}
            if src not in SUPPORTED_VOLUMES:
                self.err(
                    p + (src,),
                    f"volume type {src} is not supported by kcli (supported: " + ", ".join(SUPPORTED_VOLUMES) + ")",
                )
                continue
            if body is None:
                continue
            self.volume_source(src, body, p + (src,))
        return names

    def volume_source(self, src: str, body: YamlMap, p: PathT) -> None:
        if src == "downwardAPI":
            self.downward_api(body, p)
        elif src == "persistentVolumeClaim":
            claim = self.required_str(body, "claimName", p)
            if claim:
                self.name_rule(claim, p + ("claimName",), dns_subdomain_error)
                self.refs.append(_Ref(p + ("claimName",), "PersistentVolumeClaim", claim, None, False))
        elif src == "emptyDir":
            self.enum(body, "medium", p, ("", "Memory"))
            self.quantity(body.get("sizeLimit"), p + ("sizeLimit",))
        elif src == "hostPath":
            path = self.required_str(body, "path", p)
            if path:
                self.name_rule(path, p + ("path",), clean_path_error)
            self.enum(body, "type", p, HOST_PATH_TYPES)
        else:
            key = "name" if src == "configMap" else "secretName"
            name = self.required_str(body, key, p)
            if name:
                self.name_rule(name, p + (key,), dns_subdomain_error)
            mode = self.i(body.get("defaultMode"))
            if mode is not None and not 0 <= mode <= 0o777:
                self.err(p + ("defaultMode",), "must be a number between 0 and 0777 (octal), both inclusive")
            optional = body.get("optional") is True
            items = self.dicts(body.get("items"))
            for i, item in items:
                k = self.required_str(item, "key", p + ("items", i))
                rel = self.required_str(item, "path", p + ("items", i))
                if rel and (rel.startswith("/") or ".." in rel.split("/")):
                    self.err(p + ("items", i, "path"), f'invalid value "{rel}": must be a relative path without ".."')
                if name and k:
                    self.refs.append(
                        _Ref(
                            p + ("items", i, "key"), "ConfigMap" if src == "configMap" else "Secret", name, k, optional
                        )
                    )
            if name and not items:
                self.refs.append(
                    _Ref(p + (key,), "ConfigMap" if src == "configMap" else "Secret", name, None, optional)
                )

    def container(
        self, c: YamlMap, p: PathT, volumes: set[str], seen: dict[str, PathT], init: bool, host_network: bool
    ) -> None:
        name = self.required_str(c, "name", p)
        if name:
            self.name_rule(name, p + ("name",), dns_label_error)
            if name in seen:
                self.err(p + ("name",), f'duplicate value "{name}"')
            seen[name] = p
        image = self.required_str(c, "image", p)
        if image:
            self.name_rule(image, p + ("image",), image_reference_error)
        self.enum(c, "imagePullPolicy", p, PULL_POLICIES)
        if init:
            self.enum(c, "restartPolicy", p, ("Always",))
        port_names: set[str] = set()
        port_keys: set[tuple[int, str]] = set()
        for i, port in self.dicts(c.get("ports")):
            pp = p + ("ports", i)
            cp = port.get("containerPort")
            if cp is None:
                self.err(pp + ("containerPort",), "required value")
            self.port_range(cp, pp + ("containerPort",))
            self.port_range(port.get("hostPort"), pp + ("hostPort",), low=0)
            proto = self.enum(port, "protocol", pp, PROTOCOLS) or "TCP"
            pname = self.s(port.get("name"))
            if pname:
                msg = port_name_error(pname)
                if msg:
                    self.err(pp + ("name",), f'invalid value "{pname}": {msg}')
                elif pname in port_names:
                    self.err(pp + ("name",), f'duplicate value "{pname}"')
                port_names.add(pname)
            if (port_no := self.i(cp)) is not None:
                if (port_no, proto) in port_keys:
                    self.err(pp + ("containerPort",), f'duplicate value "{cp}/{proto}"')
                port_keys.add((port_no, proto))
                hp = self.i(port.get("hostPort"))
                if host_network and hp and hp != cp:
                    self.err(pp + ("hostPort",), "must match `containerPort` when `hostNetwork` is true")
            host_ip = self.s(port.get("hostIP"))
            if host_ip and not _is_ip(host_ip):
                self.err(pp + ("hostIP",), f'invalid value "{host_ip}": must be a valid IP address')
        for i, e in self.dicts(c.get("env")):
            self.env_var(e, p + ("env", i))
        for i, e in self.dicts(c.get("envFrom")):
            self.env_from(e, p + ("envFrom", i))
        mounts: set[str] = set()
        for i, m in self.dicts(c.get("volumeMounts")):
            mp = p + ("volumeMounts", i)
            vname = self.required_str(m, "name", mp)
            if vname and vname not in volumes:
                self.err(mp + ("name",), f'not found: "{vname}" (no volume of that name in the pod)')
            mpath = self.required_str(m, "mountPath", mp)
            if mpath:
                self.name_rule(mpath, mp + ("mountPath",), clean_path_error)
                if mpath in mounts:
                    self.err(mp + ("mountPath",), "must be unique")
                mounts.add(mpath)
            sub = self.s(m.get("subPath"))
            if sub:
                self.name_rule(sub, mp + ("subPath",), lambda v: clean_path_error(v, absolute=False))
            self.unknown_keys(m, VOLUME_MOUNT_FIELDS, mp)
        self.resources(c.get("resources"), p + ("resources",))
        for k in PROBES:
            if k in c and not init:
                self.probe(c, k, p + (k,))
        lifecycle = self.d(c.get("lifecycle")) if not init else None
        if lifecycle is not None:  # preStop exec and sleep run; postStart and httpGet do not
            self.unknown_keys(lifecycle, {"preStop"}, p + ("lifecycle",))
            pre = self.d(lifecycle.get("preStop")) or {}
            self.unknown_keys(pre, {"exec", "sleep"}, p + ("lifecycle", "preStop"))
        self.unknown_keys(c, CONTAINER_FIELDS | ({"restartPolicy"} if init else {*PROBES, "lifecycle"}), p)

    def probe(self, c: YamlMap, key: str, p: PathT) -> None:
        """kcli runs httpGet (HTTP), tcpSocket and exec probes; others are reported as not implemented."""
        pr = self.d(c.get(key)) or {}
        if probe_of(pr) is None:
            handler = next((h for h in ("grpc", "httpGet", "exec") if h in pr), "")
            self.unimpl(p + ((handler, "scheme") if handler == "httpGet" else (handler,) if handler else ()))
            return
        if key in ("livenessProbe", "startupProbe") and pr.get("successThreshold") not in (None, 1):
            self.err(p + ("successThreshold",), "must be 1")
        if "exec" in pr:
            return
        src = self.d(pr.get("httpGet") or pr.get("tcpSocket")) or {}
        port = src.get("port")
        names = {q.get("name") for q in (self.d(x) or {} for x in (c.get("ports") or []))}
        if isinstance(port, str) and port not in names:
            self.err(
                p + ("httpGet" if "httpGet" in pr else "tcpSocket", "port"),
                f'not found: "{port}" (no container port of that name)',
            )

    def env_var(self, e: YamlMap, p: PathT) -> None:
        name = self.required_str(e, "name", p)
        if name and "=" in name:
            self.err(p + ("name",), f'invalid value "{name}": must not contain "="')
        vf = self.d(e.get("valueFrom"))
        if vf is None:
            return
        if e.get("value") not in (None, ""):
            self.err(p + ("valueFrom",), "may not be specified when `value` is not empty")
        sources = [k for k in ("configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef") if k in vf]
        if len(sources) != 1:
            self.err(
                p + ("valueFrom",),
                "must specify exactly one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            )
            return
        src = sources[0]
        body = self.d(vf[src])
        if body is None:
            if vf[src] is None:
                self.err(p + ("valueFrom", src), "required value")
            return
        sp = p + ("valueFrom", src)
        if src in ("configMapKeyRef", "secretKeyRef"):
            n = self.required_str(body, "name", sp)
            if n:
                self.name_rule(n, sp + ("name",), dns_subdomain_error)
            k = self.required_str(body, "key", sp)
            if k and not _CONFIG_KEY.fullmatch(k):
                self.err(sp + ("key",), f'invalid value "{k}": {MSG_CONFIG_KEY}')
            if n and k:
                self.refs.append(
                    _Ref(
                        sp + ("name",),
                        "ConfigMap" if src == "configMapKeyRef" else "Secret",
                        n,
                        k,
                        body.get("optional") is True,
                    )
                )
        elif src == "fieldRef":
            fp = self.required_str(body, "fieldPath", sp)
            if fp and fp not in FIELD_REFS_IMPLEMENTED and not _FIELD_REF_SUBSCRIPT.fullmatch(fp):
                self.err(
                    sp + ("fieldPath",),
                    f'unsupported value "{fp}": supported values: '  # env's list, as upstream
                    + ", ".join(f'"{x}"' for x in sorted(FIELD_REFS_IMPLEMENTED)),
                )
        else:
            self.resource_field_ref(body, sp)

    def downward_api(self, body: YamlMap, p: PathT) -> None:
        mode = self.i(body.get("defaultMode"))
        if mode is not None and not 0 <= mode <= 0o777:
            self.err(p + ("defaultMode",), "must be a number between 0 and 0777 (octal), both inclusive")
        for i, item in self.dicts(body.get("items")):
            ip = p + ("items", i)
            rel = self.required_str(item, "path", ip)
            if rel and (rel.startswith("/") or ".." in rel.split("/")):
                self.err(ip + ("path",), f'invalid value "{rel}": must be a relative path without ".."')
            sources = [k for k in ("fieldRef", "resourceFieldRef") if k in item]
            if len(sources) != 1:
                self.err(ip, "must specify exactly one of: `fieldRef` or `resourceFieldRef`")
                continue
            ref = self.d(item[sources[0]]) or {}
            if sources[0] == "fieldRef":
                fp = self.required_str(ref, "fieldPath", ip + ("fieldRef",))
                if fp and fp not in DOWNWARD_FILE_FIELDS and not _FIELD_REF_SUBSCRIPT.fullmatch(fp):
                    self.err(
                        ip + ("fieldRef", "fieldPath"),
                        f'unsupported value "{fp}": supported values: '
                        + ", ".join(f'"{x}"' for x in sorted(DOWNWARD_FILE_FIELDS)),
                    )
            else:
                self.resource_field_ref(ref, ip + ("resourceFieldRef",), container_required=True)

    def resource_field_ref(self, body: YamlMap, sp: PathT, container_required: bool = False) -> None:
        res = self.required_str(body, "resource", sp)
        if res and res not in RESOURCE_FIELDS:
            self.err(
                sp + ("resource",),
                f'unsupported value "{res}": supported values: ' + ", ".join(f'"{x}"' for x in RESOURCE_FIELDS),
            )
        if container_required:
            self.required_str(body, "containerName", sp)
        if body.get("divisor") is not None:
            self.quantity(body.get("divisor"), sp + ("divisor",))

    def env_from(self, e: YamlMap, p: PathT) -> None:
        sources = [k for k in ("configMapRef", "secretRef") if k in e]
        if len(sources) != 1:
            self.err(p, "must specify exactly one of: `configMapRef` or `secretRef`")
            return
        body = self.d(e[sources[0]])
        if body is None:
            return
        name = self.required_str(body, "name", p + (sources[0],))
        if name:
            self.name_rule(name, p + (sources[0], "name"), dns_subdomain_error)
            self.refs.append(
                _Ref(
                    p + (sources[0], "name"),
                    "ConfigMap" if sources[0] == "configMapRef" else "Secret",
                    name,
                    None,
                    body.get("optional") is True,
                )
            )

    def toleration(self, t: YamlMap, p: PathT) -> None:
        op = self.enum(t, "operator", p, ("Equal", "Exists")) or "Equal"
        self.enum(t, "effect", p, TAINT_EFFECTS)
        key = self.s(t.get("key")) or ""
        if not key and op != "Exists":
            self.err(
                p + ("operator",), 'must be "Exists" when `key` is empty, which means "match all values and all keys"'
            )
        if op == "Exists" and t.get("value") not in (None, ""):
            self.err(p + ("value",), "must be empty when `operator` is 'Exists'")
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            self.err(p + ("effect",), "must be 'NoExecute' when `tolerationSeconds` is set")

    def affinity(self, a: Any, p: PathT) -> None:
        a = self.d(a)
        if a is None:
            return
        for k in a:
            if k != "nodeAffinity":
                self.unimpl(p + (k,))
        na = self.d(a.get("nodeAffinity"))
        if na is None:
            return
        p = p + ("nodeAffinity",)
        req = self.d(na.get("requiredDuringSchedulingIgnoredDuringExecution"))
        if req is not None:
            rp = p + ("requiredDuringSchedulingIgnoredDuringExecution",)
            terms = req.get("nodeSelectorTerms")
            if not terms:
                self.err(rp + ("nodeSelectorTerms",), "must have at least one node selector term")
            for i, term in self.dicts(terms):
                self.node_selector_term(term, rp + ("nodeSelectorTerms", i))
        for i, pref in self.dicts(na.get("preferredDuringSchedulingIgnoredDuringExecution")):
            pp = p + ("preferredDuringSchedulingIgnoredDuringExecution", i)
            w = self.i(pref.get("weight"))
            if w is not None and not 1 <= w <= 100:
                self.err(pp + ("weight",), "must be in the range 1-100")
            preference = self.d(pref.get("preference"))
            if preference is not None:
                self.node_selector_term(preference, pp + ("preference",))

    def node_selector_term(self, term: YamlMap, p: PathT) -> None:
        for key in ("matchExpressions", "matchFields"):
            for i, r in self.dicts(term.get(key)):
                rp = p + (key, i)
                k = self.required_str(r, "key", rp)
                if key == "matchFields" and k and k != "metadata.name":
                    self.err(rp + ("key",), f'unsupported value "{k}": supported values: "metadata.name"')
                op = self.enum(r, "operator", rp, ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))
                values = r.get("values")
                values = values if isinstance(values, list) else []
                if op in ("In", "NotIn") and not values:
                    self.err(rp + ("values",), "must be specified when `operator` is 'In' or 'NotIn'")
                elif op in ("Exists", "DoesNotExist") and values:
                    self.err(rp + ("values",), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
                elif op in ("Gt", "Lt") and (len(values) != 1 or not re.fullmatch(r"-?\d+", str(values[0]))):
                    self.err(rp + ("values",), "must be specified single integer value when `operator` is 'Lt' or 'Gt'")

    # -- workloads
    def selector_matches(self, spec: YamlMap, path: PathT, required: bool = True) -> None:
        sel = self.d(spec.get("selector"))
        tmpl = self.d(spec.get("template")) or {}
        labels = self.d((self.d(tmpl.get("metadata")) or {}).get("labels")) or {}
        if sel is None:
            if required and spec.get("selector") is None:
                self.err(path + ("selector",), "required value")
            return
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self.err(path + ("selector",), "empty selector is invalid for this kind")
            return
        self.labels(sel.get("matchLabels"), path + ("selector", "matchLabels"))
        for i, r in self.dicts(sel.get("matchExpressions")):
            rp = path + ("selector", "matchExpressions", i)
            self.required_str(r, "key", rp)
            op = self.enum(r, "operator", rp, ("In", "NotIn", "Exists", "DoesNotExist"))
            values = r.get("values") if isinstance(r.get("values"), list) else []
            if op in ("In", "NotIn") and not values:
                self.err(rp + ("values",), "must be specified when `operator` is 'In' or 'NotIn'")
            elif op in ("Exists", "DoesNotExist") and values:
                self.err(rp + ("values",), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        if all(isinstance(v, str) for v in labels.values()):
            selector = build_label_selector(sel)
            if not selector.matches(labels):
                shown = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"
                self.err(
                    path + ("template", "metadata", "labels"),
                    f"`selector` does not match template `labels` (selector: {selector}; labels: {shown})",
                )

    def int_or_percent(self, obj: YamlMap, key: str, p: PathT, max_pct: int | None = None) -> int | None:
        """Validate an IntOrString like ``1`` or ``"25%"``; returns the value (percent as-is) or None."""
        v = obj.get(key)
        if v is None:
            return None
        if isinstance(v, bool):
            return None
        if isinstance(v, int):
            if v < 0:
                self.err(p + (key,), "must be greater than or equal to 0")
            return v
        if isinstance(v, str):
            m = re.fullmatch(r"(\d+)%", v)
            if not m:
                self.err(
                    p + (key,),
                    f'invalid value "{v}": a valid percent string must be a numeric string '
                    "followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is "
                    "'[0-9]+%')",
                )
                return None
            if max_pct is not None and int(m.group(1)) > max_pct:
                self.err(p + (key,), f"must not be greater than {max_pct}%")
            return int(m.group(1))
        return None

    def template(self, spec: YamlMap, allowed_restart: Sequence[str], claims: Collection[str] = ()) -> None:
        tmpl = self.d(spec.get("template"))
        if tmpl is None:
            if spec.get("template") is None:
                self.err(("spec", "template"), "required value")
            return
        meta = self.d(tmpl.get("metadata")) or {}
        self.labels(meta.get("labels"), ("spec", "template", "metadata", "labels"))
        self.pod_spec(tmpl.get("spec"), ("spec", "template", "spec"), allowed_restart, claims)

    def workload(self, doc: YamlMap) -> None:
        kind = self.kind
        spec = self.d(doc.get("spec"))
        if spec is None:
            if doc.get("spec") is None:
                self.err(("spec",), "required value")
            return
        sp: PathT = ("spec",)
        if kind == "Pod":
            self.pod_spec(spec, sp)
            return
        for key in (
            "replicas",
            "minReadySeconds",
            "revisionHistoryLimit",
            "completions",
            "parallelism",
            "backoffLimit",
        ):
            self.non_negative(spec, key, sp)
        net = self.pod_network
        for key in POD_COUNT_FIELDS.get(kind, ()):
            n = self.i(spec.get(key))
            if n is not None and n > net.capacity:
                self.err(sp + (key,), f"must be <= {net.capacity} ({net.too_many()})")
        self.unknown_keys(spec, SPEC_FIELDS[kind], sp)
        if kind == "Job":
            self.template(spec, ("OnFailure", "Never"))
            if spec.get("selector") is not None and spec.get("manualSelector") is not True:
                self.err(
                    sp + ("selector",),
                    "the Job selector is generated from the Job's name; remove it (or set manualSelector: true)",
                )
            elif spec.get("manualSelector") is True:
                self.selector_matches(spec, sp)
            mode = self.enum(spec, "completionMode", sp, ("NonIndexed", "Indexed"))
            if mode == "Indexed":
                self.err(sp + ("completionMode",), 'completionMode "Indexed" is not supported by kcli')
            return
        if kind == "StatefulSet":
            self.stateful_set(spec, sp)
            return
        self.template(spec, ("Always",))
        self.selector_matches(spec, sp)
        if kind == "Deployment":
            self.deployment_strategy(spec, sp)
            mrs, pds = self.i(spec.get("minReadySeconds")) or 0, self.i(spec.get("progressDeadlineSeconds"))
            if pds is not None and pds <= mrs:
                self.err(sp + ("progressDeadlineSeconds",), "must be greater than minReadySeconds")
        elif kind == "DaemonSet":
            us = self.d(spec.get("updateStrategy"))
            if us is not None:
                t = self.enum(us, "type", sp + ("updateStrategy",), ("RollingUpdate", "OnDelete"))
                ru = self.d(us.get("rollingUpdate"))
                if ru is not None:
                    if t == "OnDelete":
                        self.err(
                            sp + ("updateStrategy", "rollingUpdate"),
                            "may not be specified when strategy `type` is 'OnDelete'",
                        )
                    rp = sp + ("updateStrategy", "rollingUpdate")
                    self.int_or_percent(ru, "maxUnavailable", rp, 100)
                    self.int_or_percent(ru, "maxSurge", rp)

    def stateful_set(self, spec: YamlMap, sp: PathT) -> None:
        claims: list[str] = []
        for i, t in self.dicts(spec.get("volumeClaimTemplates")):
            tp = sp + ("volumeClaimTemplates", i)
            name = self.required_str(self.d(t.get("metadata")) or {}, "name", tp + ("metadata",))
            if name:
                self.name_rule(name, tp + ("metadata", "name"), dns_label_error)
                claims.append(name)
            self.claim_spec(self.d(t.get("spec")) or {}, tp + ("spec",))
        self.template(spec, ("Always",), claims)
        self.selector_matches(spec, sp)
        self.enum(spec, "podManagementPolicy", sp, ("OrderedReady", "Parallel"))
        us = self.d(spec.get("updateStrategy"))
        if us is not None:
            strategy = self.enum(us, "type", sp + ("updateStrategy",), ("RollingUpdate", "OnDelete"))
            ru = self.d(us.get("rollingUpdate"))
            if ru is not None:
                if strategy == "OnDelete":
                    self.err(
                        sp + ("updateStrategy", "rollingUpdate"), "only allowed for updateStrategy 'RollingUpdate'"
                    )
                self.non_negative(ru, "partition", sp + ("updateStrategy", "rollingUpdate"))
                if "maxUnavailable" in ru:
                    self.unimpl(sp + ("updateStrategy", "rollingUpdate", "maxUnavailable"), "one pod at a time")
        for key in ("persistentVolumeClaimRetentionPolicy", "ordinals"):
            if key in spec:
                self.unimpl(sp + (key,), "claims are kept (Retain); ordinals start at 0")

    def dns_config(self, spec: YamlMap, path: PathT) -> None:
        """dnsConfig as the API server checks it: IP nameservers (at most 3, and at least one with
        dnsPolicy None), at most 32 search domains, option names."""
        cfg = self.d(spec.get("dnsConfig")) or {}
        p = path + ("dnsConfig",)
        servers = self.strs(cfg.get("nameservers"))
        for i, ns in servers:
            try:
                ipaddress.ip_address(ns)
            except ValueError:
                self.err(p + ("nameservers", i), f'invalid value "{ns}": must be a valid IP address')
        if len(servers) > 3:
            self.err(p + ("nameservers",), "must not have more than 3 nameservers")
        if spec.get("dnsPolicy") == "None" and not servers:
            self.err(p + ("nameservers",), "must provide at least one DNS nameserver when `dnsPolicy` is None")
        searches = self.strs(cfg.get("searches"))
        for i, dom in searches:
            self.name_rule(dom.rstrip("."), p + ("searches", i), dns_subdomain_error)
        if len(searches) > 32:
            self.err(p + ("searches",), "must not have more than 32 search paths")
        for i, o in self.dicts(cfg.get("options")):
            if not isinstance(o.get("name"), str) or not re.fullmatch(r"[A-Za-z0-9_-]+", o["name"]):
                self.err(p + ("options", i, "name"), "required value: an option name (letters, digits, '-', '_')")
            if o.get("value") is not None and not re.fullmatch(r"[A-Za-z0-9_.:-]*", str(o["value"])):
                self.err(p + ("options", i, "value"), f'invalid value "{o["value"]}"')

    def deployment_strategy(self, spec: YamlMap, sp: PathT) -> None:
        st = self.d(spec.get("strategy"))
        if st is None:
            return
        p = sp + ("strategy",)
        t = self.enum(st, "type", p, ("RollingUpdate", "Recreate")) or "RollingUpdate"
        ru = self.d(st.get("rollingUpdate"))
        if ru is None:
            return
        if t == "Recreate":
            self.err(p + ("rollingUpdate",), "may not be specified when strategy `type` is 'Recreate'")
            return
        rp = p + ("rollingUpdate",)
        surge = self.int_or_percent(ru, "maxSurge", rp)
        unavail = self.int_or_percent(ru, "maxUnavailable", rp, 100)
        if surge == 0 and unavail == 0:
            self.err(rp + ("maxUnavailable",), "may not be 0 when `maxSurge` is 0")

    def service(self, doc: YamlMap) -> None:
        spec = self.d(doc.get("spec"))
        if spec is None:
            if doc.get("spec") is None:
                self.err(("spec",), "required value")
            return
        sp: PathT = ("spec",)
        stype = self.enum(spec, "type", sp, SERVICE_TYPES) or "ClusterIP"
        self.unknown_keys(spec, SPEC_FIELDS["Service"], sp)
        if stype == "LoadBalancer":
            self.unimpl(sp + ("type",), "LoadBalancer: no load balancer, acts as NodePort")
        if stype == "ExternalName":
            self.required_str(spec, "externalName", sp)
        cluster_ip = self.s(spec.get("clusterIP"))
        if cluster_ip and cluster_ip != "None" and not _is_ip(cluster_ip):
            self.err(sp + ("clusterIP",), f'invalid value "{cluster_ip}": must be a valid IP address or "None"')
        headless = cluster_ip == "None"
        if cluster_ip == "None" and stype != "ClusterIP":
            self.err(sp + ("clusterIP",), f"may not be set to 'None' for {stype} services")
        ports = self.dicts(spec.get("ports"))
        if not ports and not headless and stype != "ExternalName":
            self.err(sp + ("ports",), "required value")
        names: set[str] = set()
        seen: set[tuple[int, str]] = set()
        for i, port in ports:
            pp = sp + ("ports", i)
            if port.get("port") is None:
                self.err(pp + ("port",), "required value")
            self.port_range(port.get("port"), pp + ("port",))
            proto = self.enum(port, "protocol", pp, PROTOCOLS) or "TCP"
            name = self.s(port.get("name"))
            if name:
                self.name_rule(name, pp + ("name",), dns_label_error)
                if name in names:
                    self.err(pp + ("name",), f'duplicate value "{name}"')
                names.add(name)
            elif len(ports) > 1:
                self.err(pp + ("name",), "required value (every port needs a name when there is more than one)")
            if self.i(port.get("port")) is not None:
                if (port["port"], proto) in seen:
                    self.err(pp, f'duplicate value "{port["port"]}/{proto}"')
                seen.add((port["port"], proto))
            tp = port.get("targetPort")
            if isinstance(tp, int) and not isinstance(tp, bool):  # 0: unset, defaults to port (as the API server does)
                self.port_range(tp, pp + ("targetPort",), low=0)
            elif isinstance(tp, str):
                msg = port_name_error(tp) if not tp.isdigit() else None
                if msg:
                    self.err(pp + ("targetPort",), f'invalid value "{tp}": {msg}')
            np = self.i(port.get("nodePort"))
            if np is not None and np != 0:
                if stype not in ("NodePort", "LoadBalancer"):
                    self.err(pp + ("nodePort",), f"may not be used when `type` is '{stype}'")
                elif not NODE_PORT_RANGE[0] <= np <= NODE_PORT_RANGE[1]:
                    self.err(
                        pp + ("nodePort",),
                        f'invalid value "{np}": provided port is not in the valid range. '
                        f"The range of valid ports is {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}",
                    )
        self.labels(spec.get("selector"), sp + ("selector",))
        self.enum(spec, "sessionAffinity", sp, ("None", "ClientIP"))
        timeout = self.i(
            (self.d((self.d(spec.get("sessionAffinityConfig")) or {}).get("clientIP")) or {}).get("timeoutSeconds")
        )
        if timeout is not None and not 0 < timeout <= 86400:
            self.err(
                sp + ("sessionAffinityConfig", "clientIP", "timeoutSeconds"),
                "must be greater than 0 and less than 86400",
            )
        etp = self.enum(spec, "externalTrafficPolicy", sp, ("Cluster", "Local"))
        if etp and stype not in ("NodePort", "LoadBalancer"):
            self.err(sp + ("externalTrafficPolicy",), "may only be set for externally-accessible services")
        self.enum(spec, "internalTrafficPolicy", sp, ("Cluster", "Local"))
        for i, ip in enumerate(spec.get("externalIPs") or []):
            if isinstance(ip, str) and not _is_ip(ip):
                self.err(sp + ("externalIPs", i), f'invalid value "{ip}": must be a valid IP address')

    def claim_spec(self, spec: YamlMap, p: PathT = ("spec",)) -> None:
        """A PersistentVolumeClaim (or a StatefulSet's claim template): what one node's directory can honour."""
        for i, mode in self.strs(spec.get("accessModes")):
            if mode not in CLAIM_ACCESS_MODES:
                self.err(
                    p + ("accessModes", i),
                    f'unsupported value "{mode}": kcli\'s volumes are directories on one node; '
                    f"supported values: {', '.join(CLAIM_ACCESS_MODES)}",
                )
        if spec.get("volumeMode") not in (None, "Filesystem"):
            self.err(p + ("volumeMode",), f'unsupported value "{spec.get("volumeMode")}": only "Filesystem"')
        storage = self.d(spec.get("resources")) or {}
        requests = self.d(storage.get("requests")) or {}
        if requests.get("storage") is None:
            self.err(p + ("resources", "requests", "storage"), "required value")
        else:
            self.quantity(requests.get("storage"), p + ("resources", "requests", "storage"))
        cls = spec.get("storageClassName")
        if isinstance(cls, str) and cls not in ("", DEFAULT_STORAGE_CLASS):
            self.unimpl(p + ("storageClassName",), f"{cls}: kcli provisions {DEFAULT_STORAGE_CLASS}")
        if cls == "" and not spec.get("volumeName"):
            self.err(
                p + ("storageClassName",),
                'storageClassName "" asks for a pre-created PersistentVolume: name it in spec.volumeName',
            )
        if "selector" in spec:
            self.unimpl(
                p + ("selector",), "claims bind to the PersistentVolume named in spec.volumeName, or are provisioned"
            )
        if "dataSource" in spec or "dataSourceRef" in spec:
            self.unimpl(p + ("dataSource",), "a new claim starts empty")

    def persistent_volume(self, doc: YamlMap) -> None:
        spec = self.d(doc.get("spec")) or {}
        p: PathT = ("spec",)
        sources = [k for k in ("hostPath", "local") if k in spec]
        others = [k for k in spec if k not in PV_FIELDS]
        if others:
            self.err(p + (others[0],), f"volume type {others[0]} is not supported by kcli (supported: hostPath, local)")
        if len(sources) != 1:
            self.err(p, "must specify exactly one of: hostPath, local")
        else:
            path = self.required_str(self.d(spec[sources[0]]) or {}, "path", p + (sources[0],))
            if path:
                self.name_rule(path, p + (sources[0], "path"), clean_path_error)
        self.enum(spec, "persistentVolumeReclaimPolicy", p, RECLAIM_POLICIES)
        for i, mode in self.strs(spec.get("accessModes")):
            if mode not in CLAIM_ACCESS_MODES:
                self.err(
                    p + ("accessModes", i),
                    f'unsupported value "{mode}": supported values: {", ".join(CLAIM_ACCESS_MODES)}',
                )

    def config_data(self, doc: YamlMap) -> None:
        keys: set[str] = set()
        sections = ("data", "binaryData") if self.kind == "ConfigMap" else ("data", "stringData")
        sizes: dict[str, dict[str, int]] = {}  # section → key → bytes, as the API server stores them
        for section in sections:
            for k, v in (self.d(doc.get(section)) or {}).items():
                if not isinstance(k, str):
                    continue
                if not _CONFIG_KEY.fullmatch(k) or len(k) > 253:
                    self.err((section, _clip(k)), f'invalid key "{_clip(k)}": {MSG_CONFIG_KEY}')
                if self.kind == "ConfigMap" and k in keys:
                    self.err((section, k), "duplicate of key present in data")
                keys.add(k)
                if not isinstance(v, str):
                    continue
                if section == "binaryData" or (self.kind == "Secret" and section == "data"):
                    try:
                        size = len(base64.b64decode(v.encode("ascii"), validate=True))
                    except (binascii.Error, ValueError, UnicodeEncodeError):
                        self.err((section, k), "illegal base64 data")
                        size = len(v) * 3 // 4
                else:
                    size = len(v.encode("utf-8", "surrogatepass"))
                sizes.setdefault(section, {})[k] = size
        # a Secret's stringData is merged into data (and wins); a ConfigMap's keys are disjoint
        merged = {**sizes.get("data", {}), **sizes.get(sections[1], {})}
        total = sum(merged.values())
        if total > MAX_CONFIG_BYTES:
            section = max(sections, key=lambda sec: sum(sizes.get(sec, {}).values()))
            self.err(
                (section,),
                f"Too long: may not be more than {MAX_CONFIG_BYTES} bytes (the {self.kind}'s "
                f"{' and '.join(sections)} hold {total} bytes together)",
            )
        if self.kind == "Secret":
            st = self.s(doc.get("type"))
            needs = {"kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg"}
            if st in needs and needs[st] not in keys:
                self.err(("data", needs[st]), "required value")


def _is_ip(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- driver


@dataclass
class _Checked:
    doc: Document
    kind: str
    name: str
    namespace: str
    checker: _Checker
    schema_paths: set[PathT]


def _ident(data: Any) -> tuple[str, str]:
    if not isinstance(data, dict):
        return "", ""
    kind, meta = data.get("kind"), data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return kind if isinstance(kind, str) else "", name if isinstance(name, str) else ""


def _path_key(path: PathT) -> tuple[tuple[int, Any, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


MAX_DEPTH = 100
MAX_VALUES = 1_000_000


def _shape_problems(data: Any) -> list[tuple[PathT, str]]:
    """Refuse what no manifest needs before walking it: recursive YAML aliases, absurd nesting or size
    (one problem, at the root), or NUL bytes in keys or values (each at its path). A NUL can reach no
    container intact: the node's ``sh`` drops NUL bytes from the script it reads (so ``"a\\0b"`` used
    to arrive as ``ab``), and argv, environment and file names end a C string there."""
    stack: list[tuple[Any, PathT]] = [(data, ())]
    seen = 0
    nul: list[tuple[PathT, str]] = []
    while stack:
        node, path = stack.pop()
        seen += 1
        if len(path) > MAX_DEPTH:
            return [((), f"nested deeper than {MAX_DEPTH} levels (or a recursive YAML alias)")]
        if seen > MAX_VALUES:
            return [((), f"more than {MAX_VALUES} values (too many YAML aliases?)")]
        if isinstance(node, dict):
            for k, v in node.items():
                shown = k.replace("\x00", "\\x00") if isinstance(k, str) else k
                if isinstance(k, str) and "\x00" in k:
                    nul.append((path + (shown,), "keys must not contain NUL (\\x00)"))
                stack.append((v, path + (shown,)))
        elif isinstance(node, list):
            stack.extend((v, path + (i,)) for i, v in enumerate(node))
        elif isinstance(node, str) and "\x00" in node:
            nul.append((path, f"must not contain NUL (\\x00), found at character {node.index(chr(0))}"))
    return sorted(nul, key=lambda pm: _path_key(pm[0]))


def _check_document(
    doc: Document,
    kind: str,
    name: str,
    skip_unsupported: bool,
    pod_network: PodNetwork = DEFAULT_POD_NETWORK,
    memo: SchemaMemo | None = None,
) -> tuple[list[Problem], list[Problem], _Checked | None]:
    """Schema and kcli checks of one document: (errors, warnings, what the cross checks need)."""
    src, data = doc.source, doc.data

    def problem(path: PathT, msg: str) -> Problem:
        return Problem(src.file, src.doc, kind, name, format_path(path), msg)

    if not isinstance(data, dict):
        return [problem((), f"a document must be a Kubernetes object (a mapping), got {_json_type(data)}")], [], None
    shape = _shape_problems(data)
    if shape:
        return [problem(p, m) for p, m in shape], [], None
    head = [(k, "required value") for k in ("apiVersion", "kind") if data.get(k) in (None, "")]
    head += [
        (k, f"must be string, got {_json_type(data[k])}")
        for k in ("apiVersion", "kind")
        if data.get(k) not in (None, "") and not isinstance(data[k], str)
    ]
    if head:
        return [problem((k,), m) for k, m in head], [], None
    api_version = data["apiVersion"]
    unsupported = _kind_error(api_version, kind)
    if unsupported is not None:
        if skip_unsupported:
            return [], [problem((), f"skipped: {unsupported[1]}")], None
        return [problem((unsupported[0],), unsupported[1])], [], None
    schema = _schema_problems(data, api_version, kind, memo)
    checker = _Checker(kind, pod_network)
    checker.metadata(data)
    if kind in ("Pod", "Deployment", "ReplicaSet", "DaemonSet", "Job", "StatefulSet"):
        checker.workload(data)
    elif kind == "Service":
        checker.service(data)
    elif kind in ("ConfigMap", "Secret"):
        checker.config_data(data)
    elif kind == "ServiceAccount":
        checker.service_account_object(data)
    elif kind == "PersistentVolumeClaim":
        checker.claim_spec(checker.d(data.get("spec")) or {})
    elif kind == "PersistentVolume":
        checker.persistent_volume(data)
    meta = data.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    namespace = namespace if isinstance(namespace, str) else ""
    ns = "" if kind == "Namespace" else namespace or "default"
    schema_paths = {p for p, _ in schema}
    own = [(p, m) for p, m in checker.errors if p not in schema_paths]
    errors = [problem(p, m) for p, m in sorted(set(schema) | set(own), key=lambda pm: (_path_key(pm[0]), pm[1]))]
    return errors, [], _Checked(doc, kind, name, ns, checker, schema_paths)


def validate_documents(
    docs: Sequence[Document],
    *,
    known: Collection[ObjectKey] | None = None,
    skip_unsupported: bool = False,
    pod_cidr: str = POD_CIDR,
    schema_memo: SchemaMemo | None = None,
) -> ValidationResult:
    """Validate parsed documents; build the objects of those without errors.

    ``schema_memo``: documents already known to pass the OpenAPI schema are not checked against it
    again (the schema check is the slowest part of a small apply); kcli's own checks always run.

    ``pod_cidr``: the cluster's pod network (the inventory's, else Kubernetes' default). Replica
    counts, and the pods the whole set asks for at once, are bounded by its number of addresses.

    ``known``: ConfigMaps/Secrets that exist in the cluster (from observation). ``None`` means the
    cluster was not consulted (``--dry-run=client``): a reference that is not in the set is then a
    warning instead of an error. ``optional: true`` references are never reported.
    """
    errors: list[Problem] = []
    warnings: list[Problem] = []
    checked: list[_Checked] = []
    pod_network = PodNetwork.of(pod_cidr)

    for doc in docs:
        if doc.data is None:
            continue  # an empty document (e.g. a trailing ---), as kubectl
        kind, name = _ident(doc.data)
        try:
            doc_errors, doc_warnings, one = _check_document(doc, kind, name, skip_unsupported, pod_network, schema_memo)
        except Exception as exc:  # a gap in the checks must not crash apply: report it against the document
            doc_errors, doc_warnings, one = (
                [
                    Problem(
                        doc.source.file,
                        doc.source.doc,
                        kind,
                        name,
                        "",
                        f"internal error while validating: {type(exc).__name__}: {exc}",
                    )
                ],
                [],
                None,
            )
        errors.extend(doc_errors)
        warnings.extend(doc_warnings)
        if one is not None:
            checked.append(one)

    errors.extend(_cross_checks(checked, known, warnings))
    errors.extend(_pod_total(checked, pod_network))
    warnings.extend(_service_account_warning(checked))

    objects: list[AnyObject] = []
    failed = {(e.file, e.doc) for e in errors}
    for c in checked:
        unimpl = [
            format_path(p) + (f" ({note})" if note else "")
            for p, note in sorted(c.checker.unimplemented, key=lambda pn: _path_key(pn[0]))
            if p not in c.schema_paths
        ]
        if unimpl:
            paths = ", ".join(dict.fromkeys(unimpl))
            warnings.append(
                Problem(
                    c.doc.source.file,
                    c.doc.source.doc,
                    c.kind,
                    c.name,
                    "",
                    f"fields not implemented by kcli (ignored): {paths}",
                )
            )
        warnings.extend(
            Problem(c.doc.source.file, c.doc.source.doc, c.kind, c.name, format_path(p), m)
            for p, m in c.checker.warnings
        )
        if (c.doc.source.file, c.doc.source.doc) in failed:
            continue
        try:
            objects.append(build_object(c.doc.data, c.doc.source))
        except Exception as exc:  # a gap in the checks above must not crash apply
            errors.append(
                Problem(
                    c.doc.source.file,
                    c.doc.source.doc,
                    c.kind,
                    c.name,
                    "",
                    f"internal error while reading the object: {type(exc).__name__}: {exc}",
                )
            )
    order = {d.source.file: i for i, d in reversed(list(enumerate(docs)))}

    def by_doc(p: Problem) -> tuple[int, int]:
        return order.get(p.file, len(order)), p.doc or 0

    return ValidationResult(tuple(objects), tuple(sorted(errors, key=by_doc)), tuple(sorted(warnings, key=by_doc)))


def _cross_checks(
    checked: list[_Checked], known: Collection[ObjectKey] | None, warnings: list[Problem]
) -> list[Problem]:
    """Duplicate objects and ConfigMap/Secret references across the whole set."""
    errors: list[Problem] = []
    first: dict[ObjectKey, Source] = {}
    configs: dict[ObjectKey, set[str] | None] = {}
    for c in checked:
        if not c.name:
            continue
        key = ObjectKey(c.kind, c.namespace, c.name)
        if key in first:
            s = first[key]
            errors.append(
                Problem(
                    c.doc.source.file,
                    c.doc.source.doc,
                    c.kind,
                    c.name,
                    "metadata.name",
                    f"duplicate object: {key} is already defined in {s.file}: doc {s.doc}",
                )
            )
            continue
        first[key] = c.doc.source
        if c.kind in ("ConfigMap", "Secret"):
            configs[key] = _config_keys(c.doc.data, c.kind)
    known_set = set(known) if known is not None else set()
    for c in checked:
        for ref in sorted(c.checker.refs, key=lambda r: _path_key(r.path)):
            key = ObjectKey(ref.kind, c.namespace, ref.name)
            path = format_path(ref.path)
            if key in first and key not in configs:  # a claim in the applied set
                continue
            if key in configs:
                keys = configs[key]
                if ref.key is not None and keys is not None and ref.key not in keys and not ref.optional:
                    errors.append(
                        Problem(
                            c.doc.source.file,
                            c.doc.source.doc,
                            c.kind,
                            c.name,
                            path,
                            f'key "{ref.key}" not found in {ref.kind} "{ref.name}"',
                        )
                    )
                continue
            if ref.optional or key in known_set:
                continue
            if known is None:
                warnings.append(
                    Problem(
                        c.doc.source.file,
                        c.doc.source.doc,
                        c.kind,
                        c.name,
                        path,
                        f'{ref.kind} "{ref.name}" is not in the applied set (namespace '
                        f"{c.namespace}); it must exist in the cluster",
                    )
                )
            else:
                errors.append(
                    Problem(
                        c.doc.source.file,
                        c.doc.source.doc,
                        c.kind,
                        c.name,
                        path,
                        f'{ref.kind} "{ref.name}" not found: it is neither in the applied set '
                        f"nor in the cluster (namespace {c.namespace})",
                    )
                )
    return errors


def _service_account_warning(checked: list[_Checked]) -> list[Problem]:
    """One warning for the whole set, at the first ServiceAccount or pod naming one: no tokens."""
    for c in checked:
        if c.checker.service_account is not None:
            return [
                Problem(
                    c.doc.source.file,
                    c.doc.source.doc,
                    c.kind,
                    c.name,
                    format_path(c.checker.service_account),
                    SERVICE_ACCOUNT_WARNING,
                )
            ]
    return []


def _pods_at_once(c: _Checked) -> tuple[int, PathT]:
    """How many pods an object asks the cluster to hold at once, and the field that says so."""
    spec = c.doc.data.get("spec") if isinstance(c.doc.data.get("spec"), dict) else {}

    def count(key: str, default: int) -> int:
        v = spec.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else default

    if c.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        return count("replicas", 1), ("spec", "replicas")
    if c.kind == "Job":
        parallelism = count("parallelism", 1)
        return min(parallelism, count("completions", parallelism)), ("spec", "parallelism")
    if c.kind == "Pod":
        return 1, ("spec",)
    return 0, ()  # DaemonSet: one per node; the rest run no pods


def _pod_total(checked: list[_Checked], net: PodNetwork) -> list[Problem]:
    """All objects of one apply together may not ask for more pods than the pod network holds: the
    planner's memory is bounded by it. Reported once, at the object that crosses the limit."""
    total = 0
    for c in checked:
        n, path = _pods_at_once(c)
        if n > net.capacity:
            continue  # reported by the object's own check
        total += n
        if total > net.capacity:
            return [
                Problem(
                    c.doc.source.file,
                    c.doc.source.doc,
                    c.kind,
                    c.name,
                    format_path(path),
                    f"the objects of this apply ask for more than {net.capacity} pods at once (this one "
                    f"brings the total to {total}); {net.too_many()}",
                )
            ]
    return []


def _config_keys(data: YamlMap, kind: str) -> set[str] | None:
    sections = ("data", "binaryData") if kind == "ConfigMap" else ("data", "stringData")
    keys: set[str] = set()
    for s in sections:
        v = data.get(s)
        if v is not None and not isinstance(v, dict):
            return None
        keys.update(str(k) for k in (v or {}))
    return keys
