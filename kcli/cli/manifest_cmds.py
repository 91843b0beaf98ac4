"""``kcli apply --dry-run=client``: load, render and validate manifests without contacting a host."""

from __future__ import annotations

import json
from typing import Any, List, Optional

import typer

from kcli.cli import console
from kcli.cli.output import print_objects
from kcli.core.objects import AnyObject, canonical_json
from kcli.core.validate import Problem, ValidationResult, validate_documents
from kcli.errors import ManifestError, UsageError
from kcli.shell.loading import load_manifests, load_values

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
OUTPUTS = ("yaml", "json", "name")


def load_and_validate(
    filenames: List[str],
    *,
    recursive: bool = False,
    values_files: List[str] | None = None,
    set_values: List[str] | None = None,
    skip_unsupported: bool = False,
    known: Any = None,
) -> ValidationResult:
    """Shared by apply/diff/delete: every load and validation problem at once, as ManifestError."""
    if not filenames:
        raise UsageError("must specify one of -f and -k")  # kubectl's wording; -k is not supported
    values, problems = load_values(values_files or [], set_values or [])
    loaded = load_manifests(filenames, recursive=recursive, values=values)
    result = validate_documents(loaded.documents, known=known, skip_unsupported=skip_unsupported)
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


def register(app: typer.Typer) -> None:
    @app.command()
    def apply(
        filename: List[str] = typer.Option([], "-f", "--filename", help="File, directory or - (stdin); repeatable."),
        recursive: bool = typer.Option(False, "-R", "--recursive", help="Process directories recursively."),
        values: List[str] = typer.Option([], "--values", help="YAML file of values for *.j2 templates; repeatable."),
        set_: List[str] = typer.Option([], "--set", help="key=value for *.j2 templates (dotted keys nest); repeatable."),
        skip_unsupported: bool = typer.Option(False, "--skip-unsupported",
                                              help="Skip kinds kcli does not support, with a warning."),
        dry_run: str = typer.Option("none", "--dry-run", help="client: only load, validate and render."),
        output: Optional[str] = typer.Option(None, "-o", "--output", help="yaml | json | name"),
    ) -> None:
        """Apply manifests (kubectl apply). Only --dry-run=client is implemented for now."""
        if dry_run not in ("none", "client", "server"):
            raise UsageError(f'invalid --dry-run value "{dry_run}": must be "none", "server", or "client"')
        if output is not None and output not in OUTPUTS:
            raise UsageError(f"unknown output format {output!r} (use one of: {', '.join(OUTPUTS)})")
        if dry_run != "client":
            raise UsageError("apply against hosts is not implemented yet")
        result = load_and_validate(filename, recursive=recursive, values_files=values, set_values=set_,
                                   skip_unsupported=skip_unsupported)
        objs = result.objects
        if output in ("yaml", "json"):
            print_objects([with_last_applied(o) for o in objs], output, single=True)
        elif output == "name":
            for o in objs:
                console.out.print(o.ref)
        else:
            for o in objs:
                console.out.print(f"{o.ref} created (dry run)")
