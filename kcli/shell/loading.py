"""Read manifests from files, directories and stdin; render ``*.j2`` templates; parse YAML.

Every problem (missing file, bad encoding, YAML syntax, undefined template variable) becomes a
:class:`~kcli.core.validate.Problem` naming the file (and line where known); nothing here raises
on bad input. Documents are numbered from 1 in file order, empty documents included, so that
"doc 3" always means the third document of the file.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence, TextIO

import jinja2
import yaml

from kcli.core.objects import Document, Source
from kcli.core.validate import Problem

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
TEMPLATE_SUFFIX = ".j2"
STDIN_NAME = "<stdin>"


@dataclass(frozen=True)
class LoadResult:
    documents: tuple[Document, ...]
    errors: tuple[Problem, ...]


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """safe_load, with kubectl's (sigs.k8s.io/yaml) view of the data: timestamps stay strings,
    map keys become strings, and duplicate keys are an error."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    dup = key in seen
                    seen.add(key)
                except TypeError:
                    continue
                if dup:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}",
                        key_node.start_mark)
        mapping = super().construct_mapping(node, deep=deep)
        return {_key_str(k): v for k, v in mapping.items()}


def _key_str(k: Any) -> Any:
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    if isinstance(k, (int, float)):
        return str(k)
    return k


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def parse_yaml_documents(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """Multi-document YAML → documents tagged (file, n); a syntax error stops the file with one problem."""
    docs: list[Document] = []
    try:
        for data in yaml.load_all(text, Loader=_Loader):
            docs.append(Document(Source(file, len(docs) + 1), data))
    except yaml.YAMLError as exc:
        return docs, [_yaml_problem(exc, file, len(docs) + 1)]
    except RecursionError:
        return docs, [Problem(file, len(docs) + 1, "", "", "", "invalid YAML: nested too deeply")]
    return docs, []


def _yaml_problem(exc: yaml.YAMLError, file: str, doc: int) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    msg = f"invalid YAML: {problem}" + (f" ({context})" if context and context not in problem else "")
    if mark is not None:
        msg += f" at line {mark.line + 1}, column {mark.column + 1}"
    return Problem(file, doc, "", "", "", msg, line=mark.line + 1 if mark is not None else None)


# --------------------------------------------------------------------------- values


def parse_set_values(items: Iterable[str]) -> dict[str, Any]:
    """``["image.tag=1.2", "replicas=3", "debug=true"]`` → nested dict.

    Values stay strings (so ``1.10`` is not turned into ``1.1``), except ``true``/``false`` →
    bool and plain integers → int. A template renders them into YAML, which types them again.
    Raises ValueError for an item without ``=`` or with an empty key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ValueError(f"--set {item!r}: expected key=value (dotted keys for nesting, e.g. image.tag=1.2)")
        value: Any = raw
        if raw in ("true", "false"):
            value = raw == "true"
        elif re.fullmatch(r"-?[0-9]+", raw):
            value = int(raw)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = node[part] = {}
            node = nxt
        node[parts[-1]] = value
    return out


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: maps merge key by key, anything else in ``override`` replaces."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge_values(out[k], v)
        else:
            out[k] = v
    return out


def load_values(values_files: Sequence[str] = (), set_values: Sequence[str] = ()) -> tuple[dict[str, Any], list[Problem]]:
    """``--values FILE`` (YAML mappings, merged in order) then ``--set k=v`` on top."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for path in values_files:
        text, problem = _read_text(path)
        if problem:
            problems.append(problem)
            continue
        docs, errs = parse_yaml_documents(text or "", path)
        problems.extend(errs)
        data = docs[0].data if docs else None
        if len(docs) > 1:
            problems.append(Problem(path, None, "", "", "", "a values file must hold a single YAML document"))
        elif data is not None and not isinstance(data, dict):
            problems.append(Problem(path, None, "", "", "", "a values file must be a YAML mapping"))
        elif data:
            values = merge_values(values, data)
    try:
        values = merge_values(values, parse_set_values(set_values))
    except ValueError as exc:
        problems.append(Problem("--set", None, "", "", "", str(exc)))
    return values, problems


# --------------------------------------------------------------------------- templates


def render_template(text: str, file: str, values: Mapping[str, Any]) -> tuple[str | None, Problem | None]:
    """Render Jinja2 with StrictUndefined; includes resolve relative to the template's folder."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(file)) if file != STDIN_NAME else "."),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    try:
        return env.from_string(text).render(**values), None
    except jinja2.TemplateSyntaxError as exc:
        return None, Problem(exc.filename or file, None, "", "", "", f"template syntax error: {exc.message}",
                             line=exc.lineno)
    except jinja2.UndefinedError as exc:
        return None, Problem(file, None, "", "", "", f"template error: {exc.message} (pass it with --values or --set)",
                             line=_template_line(exc))
    except Exception as exc:  # a template can raise anything (filters, includes, arithmetic)
        return None, Problem(file, None, "", "", "", f"template error: {type(exc).__name__}: {exc}",
                             line=_template_line(exc))


def _template_line(exc: BaseException) -> int | None:
    """Jinja rewrites tracebacks so that template frames carry the template's line numbers."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# --------------------------------------------------------------------------- files


def _read_text(path: str, stdin: TextIO | None = None) -> tuple[str | None, Problem | None]:
    try:
        if path == "-":
            return (stdin or sys.stdin).read(), None
        with open(path, encoding="utf-8") as f:
            return f.read(), None
    except UnicodeDecodeError as exc:
        return None, Problem(path, None, "", "", "", f"not UTF-8 text: {exc.reason} at byte {exc.start}")
    except OSError as exc:
        return None, Problem(path, None, "", "", "", exc.strerror or str(exc))


def expand_paths(paths: Sequence[str], recursive: bool = False) -> tuple[list[str], list[Problem]]:
    """``-f`` arguments → file list. Directories contribute ``*.yaml|*.yml|*.json`` (and those plus
    ``.j2``), sorted; subdirectories only with ``recursive``. Explicit files are taken as given."""
    files: list[str] = []
    problems: list[Problem] = []
    for p in paths:
        if p == "-":
            files.append(p)
        elif os.path.isdir(p):
            found: list[str] = []
            for root, dirs, names in os.walk(p):
                dirs.sort()
                if not recursive:
                    dirs.clear()
                found.extend(os.path.join(root, n) for n in sorted(names) if _is_manifest_name(n))
            files.extend(found)
        elif os.path.exists(p):
            files.append(p)
        else:
            problems.append(Problem(p, None, "", "", "", "the path does not exist"))
    return files, problems


def _is_manifest_name(name: str) -> bool:
    base = name[: -len(TEMPLATE_SUFFIX)] if name.endswith(TEMPLATE_SUFFIX) else name
    return base.endswith(MANIFEST_SUFFIXES) and not name.startswith(".")


def load_manifests(
    paths: Sequence[str],
    *,
    recursive: bool = False,
    values: Mapping[str, Any] | None = None,
    stdin: TextIO | None = None,
) -> LoadResult:
    """Read every document of every ``-f`` path; ``*.j2`` files are rendered with ``values`` first."""
    files, problems = expand_paths(paths, recursive)
    documents: list[Document] = []
    for path in files:
        text, problem = _read_text(path, stdin)
        name = STDIN_NAME if path == "-" else path
        if problem:
            problems.append(problem)
            continue
        if name.endswith(TEMPLATE_SUFFIX):
            text, problem = render_template(text or "", name, values or {})
            if problem:
                problems.append(problem)
                continue
        docs, errs = parse_yaml_documents(text or "", name)
        documents.extend(docs)
        problems.extend(errs)
    return LoadResult(tuple(documents), tuple(problems))
