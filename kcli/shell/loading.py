"""Read manifests from files, directories and stdin; render ``*.j2`` templates; parse YAML.

Every problem (missing file, bad encoding, YAML syntax, undefined template variable, a template
reaching outside its sandbox, input over the limits) becomes a :class:`~kcli.core.validate.Problem`
naming the file (and line where known); nothing here raises on bad input. Documents are numbered
from 1 in file order, empty documents included, so that "doc 3" always means the third document of
the file.

Input is bounded before it can grow (see :class:`Budget`): one apply reads at most
``MAX_INPUT_BYTES`` (each file is read with that cap, before any parsing or rendering), a rendered
template may not produce more than that either, and YAML aliases are counted while a document is
composed, each time they are used: the documents may *expand* to at most ``MAX_NODES`` values
(``MAX_DOCUMENT_NODES`` per document) and ``MAX_INPUT_BYTES`` characters of scalars. Text without
aliases never expands beyond itself, so the character limit only stops alias (and merge-key) bombs,
and it stops them before any expanded copy exists.

Memory therefore stays bounded by: the text (at most 16 MiB), one document's PyYAML node graph (at
most 200,000 nodes, about 0.7 KB each), and the values built so far (at most 1,000,000, about
0.2 KB each, sharing aliased values): a few hundred MB in the worst case.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from kcli.core.objects import Document, Source
from kcli.core.validate import Problem

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
TEMPLATE_SUFFIX = ".j2"
STDIN_NAME = "<stdin>"

MIB = 1024 * 1024
MAX_INPUT_BYTES = 16 * MIB
"""Bytes one apply reads (all ``-f`` files together, and each one), and the scalar characters its
documents may expand to through YAML aliases. Kubernetes caps one request at 3 MiB; 16 MiB leaves
room for a large multi-document apply."""
MAX_NODES = 1_000_000
"""YAML nodes (scalars, sequences, mappings) one apply may expand to, aliases counted each time used."""
MAX_DOCUMENT_NODES = 200_000
"""The same, per document: PyYAML holds one document's node graph at a time, about 0.7 KB per node."""


@dataclass(frozen=True)
class LoadResult:
    documents: tuple[Document, ...]
    errors: tuple[Problem, ...]


# --------------------------------------------------------------------------- YAML


@dataclass
class Budget:
    """What is left of one apply's input allowance; shared by every file of the apply."""

    bytes_left: int = MAX_INPUT_BYTES
    chars_left: int = MAX_INPUT_BYTES
    nodes_left: int = MAX_NODES
    doc_nodes: int = MAX_DOCUMENT_NODES
    doc_nodes_left: int = MAX_DOCUMENT_NODES
    exhausted: bool = False


class LimitError(yaml.MarkedYAMLError):
    """A document expands beyond the budget (raised while composing, before anything is built)."""


class _Loader(yaml.SafeLoader):
    """safe_load, with kubectl's (sigs.k8s.io/yaml) view of the data: timestamps stay strings,
    map keys become strings, and duplicate keys are an error. Every composed node is charged to the
    budget; an alias is charged the whole expanded size of its anchor, each time it is used."""

    def __init__(self, stream: str, budget: Budget) -> None:
        super().__init__(stream)
        self.budget = budget

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:
                size = getattr(target, "kcli_expanded", None)
                if size is None:
                    raise LimitError(
                        None,
                        None,
                        f"recursive YAML alias: *{event.anchor} is used inside its own anchor",
                        event.start_mark,
                    )
                self._charge(size, event.start_mark)
            return super().compose_node(parent, index)
        node = super().compose_node(parent, index)
        if node is None:
            return None
        if isinstance(node, yaml.ScalarNode):
            own = (1, len(node.value))
            size = own
        else:
            own = (1, 0)
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
            nodes, chars = own
            for child in children:
                cn, cc = getattr(child, "kcli_expanded", (1, 0))
                nodes, chars = nodes + cn, chars + cc
            size = (nodes, chars)
        self._charge(own, node.start_mark)  # children (and aliases) were charged as they were composed
        node.kcli_expanded = size  # type: ignore[attr-defined]
        return node

    def _charge(self, size: tuple[int, int], mark: Any) -> None:
        b = self.budget
        b.nodes_left -= size[0]
        b.doc_nodes_left -= size[0]
        b.chars_left -= size[1]
        if b.doc_nodes_left < 0:
            raise LimitError(
                None,
                None,
                f"too large: the document expands to more than {b.doc_nodes} YAML "
                "values (YAML aliases count each time they are used)",
                mark,
            )
        if b.nodes_left < 0:
            raise LimitError(
                None,
                None,
                f"too large: the manifests expand to more than {MAX_NODES} YAML values "
                "(YAML aliases count each time they are used)",
                mark,
            )
        if b.chars_left < 0:
            raise LimitError(
                None,
                None,
                f"too large: the manifests expand to more than {_size(MAX_INPUT_BYTES)} of "
                "text (YAML aliases count each time they are used)",
                mark,
            )

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
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
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
        # PyYAML rejects a node that is not a mapping (ConstructorError); its stubs only accept MappingNode
        mapping = super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]
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


def _construct_value(loader: _Loader, node: yaml.ScalarNode) -> str:
    """The YAML value key ``=``, resolved implicitly (so always a scalar), is the string "="."""
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:value", _construct_value)


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n} bytes"


def parse_yaml_documents(text: str, file: str, budget: Budget | None = None) -> tuple[list[Document], list[Problem]]:
    """Multi-document YAML → documents tagged (file, n); a syntax error stops the file with one problem.
    ``budget``: shared by the files of one apply (a fresh one when None)."""
    docs: list[Document] = []
    loader = _Loader(text, budget if budget is not None else Budget())
    try:
        while loader.check_data():
            loader.budget.doc_nodes_left = loader.budget.doc_nodes
            docs.append(Document(Source(file, len(docs) + 1), loader.get_data()))
    except yaml.YAMLError as exc:
        return docs, [_yaml_problem(exc, file, len(docs) + 1)]
    except RecursionError:
        return docs, [Problem(file, len(docs) + 1, "", "", "", "invalid YAML: nested too deeply")]
    finally:
        loader.dispose()
    return docs, []


def _yaml_problem(exc: yaml.YAMLError, file: str, doc: int) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    msg = "" if isinstance(exc, LimitError) else "invalid YAML: "
    msg += problem + (f" ({context})" if context and context not in problem else "")
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


def load_values(
    values_files: Sequence[str] = (), set_values: Sequence[str] = ()
) -> tuple[dict[str, Any], list[Problem]]:
    """``--values FILE`` (YAML mappings, merged in order) then ``--set k=v`` on top."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    budget = Budget()
    for path in values_files:
        text, problem = _read_text(path, budget=budget)
        if problem:
            problems.append(problem)
            continue
        docs, errs = parse_yaml_documents(text or "", path, budget)
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

MAX_TEMPLATE_POWER_BITS = 4096
"""``a ** b`` in a template may build an integer of at most this many bits."""


@functools.lru_cache(maxsize=1)
def _sandbox_class() -> type:
    """Jinja is imported when a template is rendered, not by every command that loads manifests."""
    import jinja2.sandbox

    class Sandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
        """Jinja's sandbox (no attribute starting with ``_``, no mutation of values, ``range`` capped)
        plus bounds on the two operators that can build huge values from small text."""

        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            ints = [isinstance(x, int) and not isinstance(x, bool) for x in (left, right)]
            if operator == "*":
                for seq, n, n_is_int in ((left, right, ints[1]), (right, left, ints[0])):
                    if isinstance(seq, (str, list, tuple)) and n_is_int and len(seq) * n > MAX_INPUT_BYTES:
                        raise jinja2.sandbox.SecurityError(
                            f"repeating a value {n} times would build more than {_size(MAX_INPUT_BYTES)}"
                        )
            elif operator == "**" and all(ints) and abs(left) > 1 and right > 0:
                if abs(left).bit_length() * right > MAX_TEMPLATE_POWER_BITS:
                    raise jinja2.sandbox.SecurityError(f"{left} ** {right} is too large")
            return super().call_binop(context, operator, left, right)

    return Sandbox


def render_template(
    text: str, file: str, values: Mapping[str, Any], limit: int = MAX_INPUT_BYTES
) -> tuple[str | None, Problem | None]:
    """Render Jinja2 in a sandbox with StrictUndefined; includes resolve relative to the template's
    folder. The output is produced in pieces and refused once it exceeds ``limit`` bytes."""
    import jinja2
    import jinja2.sandbox

    env = _sandbox_class()(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(file)) if file != STDIN_NAME else "."),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    try:
        out: list[str] = []
        size = 0
        for chunk in env.from_string(text).generate(**values):
            size += len(chunk.encode("utf-8", "surrogatepass"))
            if size > limit:
                return None, Problem(
                    file, None, "", "", "", f"too large: the template renders to more than {_size(limit)}"
                )
            out.append(chunk)
        return "".join(out), None
    except jinja2.TemplateSyntaxError as exc:
        return None, Problem(
            exc.filename or file, None, "", "", "", f"template syntax error: {exc.message}", line=exc.lineno
        )
    except jinja2.sandbox.SecurityError as exc:
        return None, Problem(
            file,
            None,
            "",
            "",
            "",
            f"template refused: {str(exc).rstrip('.')} (templates run in a sandbox)",
            line=_template_line(exc),
        )
    except jinja2.UndefinedError as exc:
        return None, Problem(
            file,
            None,
            "",
            "",
            "",
            f"template error: {exc.message} (pass it with --values or --set)",
            line=_template_line(exc),
        )
    except Exception as exc:  # a template can raise anything (filters, includes, arithmetic)
        return None, Problem(
            file, None, "", "", "", f"template error: {type(exc).__name__}: {exc}", line=_template_line(exc)
        )


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


def _read_text(
    path: str, stdin: TextIO | None = None, budget: Budget | None = None
) -> tuple[str | None, Problem | None]:
    """The file as text (UTF-8, newlines translated as Python's text mode does), read with a cap:
    at most what is left of ``budget`` (and ``MAX_INPUT_BYTES``) plus one byte is ever read."""
    budget = budget if budget is not None else Budget()
    cap = min(MAX_INPUT_BYTES, budget.bytes_left)
    try:
        if path == "-":
            stream: Any = stdin or sys.stdin
            raw = stream.buffer.read(cap + 1) if hasattr(stream, "buffer") else stream.read(cap + 1)
        else:
            with open(path, "rb") as f:
                raw = f.read(cap + 1)
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        if len(data) > cap:
            budget.exhausted = True
            if cap < MAX_INPUT_BYTES:
                msg = (
                    f"too large: the files of one apply may hold at most {_size(MAX_INPUT_BYTES)} together; "
                    "this one goes past that (split the apply)"
                )
            else:
                msg = f"too large: a manifest file may hold at most {_size(MAX_INPUT_BYTES)}"
            return None, Problem(path, None, "", "", "", msg)
        budget.bytes_left -= len(data)
        text = raw if isinstance(raw, str) else data.decode("utf-8")
        return text.replace("\r\n", "\n").replace("\r", "\n"), None
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
    budget = Budget()
    for path in files:
        if budget.exhausted:
            break  # already reported: reading on would only repeat it
        text, problem = _read_text(path, stdin, budget)
        name = STDIN_NAME if path == "-" else path
        if problem:
            problems.append(problem)
            continue
        if name.endswith(TEMPLATE_SUFFIX):
            raw_size = len((text or "").encode("utf-8", "surrogatepass"))
            text, problem = render_template(
                text or "", name, values or {}, limit=min(MAX_INPUT_BYTES, budget.bytes_left + raw_size)
            )
            if problem:
                problems.append(problem)
                continue
            budget.bytes_left -= len((text or "").encode("utf-8", "surrogatepass")) - raw_size
        docs, errs = parse_yaml_documents(text or "", name, budget)
        documents.extend(docs)
        problems.extend(errs)
    return LoadResult(tuple(documents), tuple(problems))


# --------------------------------------------------------------------------- the schema memo
#
# Digests of manifests that passed the OpenAPI schema check, a line each in
# ``$KCLI_HOME/cache/schema-ok`` (sha256 of schema version, apiVersion, kind and the whole document;
# never of a Secret: kcli.core.validate.schema_key). Reading it spares the next apply of the same
# manifests the schema check and the jsonschema import (~0.15 s). A missing or unreadable file is
# an empty memo; kcli's own checks run every time either way.

MAX_ENTRIES = 20000
_DIGEST = re.compile(r"[0-9a-f]{64}")


class FileSchemaMemo:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            lines = path.read_text().split()
        except OSError:
            lines = []
        self.known = {ln for ln in lines if _DIGEST.fullmatch(ln)}
        self.new: list[str] = []

    def __contains__(self, key: str) -> bool:
        return key in self.known

    def add(self, key: str) -> None:
        if key not in self.known:
            self.known.add(key)
            self.new.append(key)

    def save(self) -> None:
        """Append what was learnt (rewrite, keeping the newest, past MAX_ENTRIES); errors are ignored."""
        if not self.new:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if len(self.known) > MAX_ENTRIES:
                old = (
                    [ln for ln in self.path.read_text().split() if _DIGEST.fullmatch(ln)] if self.path.exists() else []
                )
                keep = (old + self.new)[-MAX_ENTRIES // 2 :]
                tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
                tmp.write_text("".join(k + "\n" for k in keep))
                os.replace(tmp, self.path)
            else:
                with self.path.open("a") as fh:
                    fh.write("".join(k + "\n" for k in self.new))
            self.new = []
        except OSError:
            pass


def schema_memo() -> FileSchemaMemo:
    from kcli.shell.config import kcli_home

    return FileSchemaMemo(kcli_home() / "cache" / "schema-ok")
