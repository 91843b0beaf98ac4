"""``kcli apply --dry-run=client``: load, render and validate manifests without contacting a host."""

from __future__ import annotations

import json
from typing import Any

from kcli.cli import console
from kcli.core.objects import AnyObject, canonical_json
from kcli.core.validate import Problem, ValidationResult, validate_documents
from kcli.errors import ManifestError, UsageError
from kcli.shell.loading import load_manifests, load_values, schema_memo

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
OUTPUTS = ("yaml", "json", "name")


def load_and_validate(
    filenames: list[str],
    *,
    recursive: bool = False,
    values_files: list[str] | None = None,
    set_values: list[str] | None = None,
    skip_unsupported: bool = False,
    known: Any = None,
    pod_cidr: str | None = None,
) -> ValidationResult:
    """Shared by apply/diff/delete: every load and validation problem at once, as ManifestError."""
    if not filenames:
        raise UsageError("must specify one of -f and -k")  # kubectl's wording; -k is not supported
    values, problems = load_values(values_files or [], set_values or [])
    loaded = load_manifests(filenames, recursive=recursive, values=values)
    extra = {"pod_cidr": pod_cidr} if pod_cidr else {}
    memo = schema_memo()
    result = validate_documents(
        loaded.documents, known=known, skip_unsupported=skip_unsupported, schema_memo=memo, **extra
    )
    memo.save()
    errors: list[Problem] = [*problems, *loaded.errors, *result.errors]
    for w in result.warnings:
        console.warn(str(w))
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        raise ManifestError(f"{len(errors)} {noun} in manifests; nothing was applied", details=[str(e) for e in errors])
    if not result.objects:
        raise ManifestError("no objects passed to apply")
    return result


def with_last_applied(obj: AnyObject) -> dict[str, Any]:
    """The manifest as kubectl would send it: plus the last-applied-configuration annotation."""
    manifest = json.loads(canonical_json(obj.manifest))
    meta = manifest.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations[LAST_APPLIED] = canonical_json(obj.manifest)
    meta["annotations"] = annotations
    if obj.namespaced:
        meta.setdefault("namespace", obj.namespace)
    return manifest
