"""Reading -f FILE|DIR|-, -R, multi-document YAML, Jinja2 templates with --values/--set."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kcli.core.objects import Source
from kcli.shell.loading import (
    expand_paths,
    load_manifests,
    load_values,
    parse_set_values,
    parse_yaml_documents,
    render_template,
)

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").write_text(CM.format(name="a") + "---\n" + CM.format(name="b"))
    (tmp_path / "b.yml").write_text(CM.format(name="c"))
    (tmp_path / "c.json").write_text('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}')
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / ".hidden.yaml").write_text(CM.format(name="hidden"))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "d.yaml").write_text(CM.format(name="d"))
    (sub / "e.yaml.j2").write_text(CM.format(name="{{ prefix }}-e"))
    return tmp_path


def names(result) -> list[str]:
    return [d.data["metadata"]["name"] for d in result.documents]


def test_directory_without_recursion_reads_top_level_manifests_only(tree: Path):
    result = load_manifests([str(tree)])
    assert result.errors == ()
    assert names(result) == ["a", "b", "c", "n"]
    assert [d.source for d in result.documents][:2] == [Source(f"{tree}/a.yaml", 1), Source(f"{tree}/a.yaml", 2)]


def test_recursive_renders_templates_with_values(tree: Path):
    result = load_manifests([str(tree)], recursive=True, values={"prefix": "p"})
    assert result.errors == ()
    assert names(result) == ["a", "b", "c", "n", "d", "p-e"]


def test_undefined_template_variable_is_an_error_naming_the_file(tree: Path):
    result = load_manifests([str(tree / "sub")], recursive=True)
    assert names(result) == ["d"]
    (err,) = result.errors
    assert str(err) == f"{tree}/sub/e.yaml.j2:4: template error: 'prefix' is undefined (pass it with --values or --set)"


def test_template_syntax_error_has_the_line(tmp_path: Path):
    f = tmp_path / "t.yaml.j2"
    f.write_text("a: 1\nb: {% if x %}\n")
    (err,) = load_manifests([str(f)], values={"x": 1}).errors
    assert err.file == str(f) and err.line == 2
    assert err.message.startswith("template syntax error: Unexpected end of template")


def test_files_are_read_repeatably_and_stdin(tree: Path):
    result = load_manifests([str(tree / "b.yml"), "-", str(tree / "b.yml")], stdin=io.StringIO(CM.format(name="s")))
    assert names(result) == ["c", "s", "c"]
    assert result.documents[1].source == Source("<stdin>", 1)


def test_missing_path_is_an_error(tmp_path: Path):
    result = load_manifests([str(tmp_path / "nope.yaml")])
    assert [str(e) for e in result.errors] == [f"{tmp_path}/nope.yaml: the path does not exist"]


def test_yaml_syntax_error_reports_file_doc_and_line(tmp_path: Path):
    f = tmp_path / "bad.yaml"
    f.write_text(CM.format(name="ok") + "---\nmetadata:\n  name: x\n   bad: indent\n")
    result = load_manifests([str(f)])
    assert names(result) == ["ok"]
    (err,) = result.errors
    assert (err.doc, err.line) == (2, 8)
    assert str(err) == (f"{f}:8: doc 2: invalid YAML: mapping values are not allowed here at line 8, column 7")


def test_documents_are_numbered_in_file_order_including_empty_ones():
    docs, errors = parse_yaml_documents("a: 1\n---\n---\nb: 2\n", "f.yaml")
    assert errors == []
    assert [(d.source.doc, d.data) for d in docs] == [(1, {"a": 1}), (2, None), (3, {"b": 2})]


def test_yaml_is_read_like_kubectl():
    (doc,), errors = parse_yaml_documents("when: 2024-01-01\n80: http\ntrue: yes\neq: =\n", "f.yaml")
    assert errors == []
    assert doc.data == {"when": "2024-01-01", "80": "http", "true": True, "eq": "="}


def test_duplicate_keys_are_an_error():
    _, (err,) = parse_yaml_documents("metadata:\n  name: a\n  name: b\n", "f.yaml")
    assert err.line == 3 and "found duplicate key 'name'" in err.message


def test_not_utf8_is_an_error(tmp_path: Path):
    f = tmp_path / "x.yaml"
    f.write_bytes(b"a: \xff\n")
    (err,) = load_manifests([str(f)]).errors
    assert err.message.startswith("not UTF-8 text")


def test_set_values_nest_and_type_lightly():
    assert parse_set_values(["image.tag=1.10", "replicas=3", "debug=true", "name=web", "a.b.c=-2", "e="]) == {
        "image": {"tag": "1.10"},
        "replicas": 3,
        "debug": True,
        "name": "web",
        "a": {"b": {"c": -2}},
        "e": "",
    }
    with pytest.raises(ValueError, match="expected key=value"):
        parse_set_values(["novalue"])
    with pytest.raises(ValueError):
        parse_set_values(["a..b=1"])


def test_values_files_merge_then_set_wins(tmp_path: Path):
    (tmp_path / "v1.yaml").write_text("image: {name: nginx, tag: '1.0'}\nreplicas: 2\n")
    (tmp_path / "v2.yaml").write_text("image: {tag: '2.0'}\n")
    values, problems = load_values([str(tmp_path / "v1.yaml"), str(tmp_path / "v2.yaml")], ["replicas=5"])
    assert problems == []
    assert values == {"image": {"name": "nginx", "tag": "2.0"}, "replicas": 5}
    (tmp_path / "bad.yaml").write_text("- a list\n")
    _, problems = load_values([str(tmp_path / "bad.yaml"), str(tmp_path / "missing.yaml")], ["x"])
    assert [p.message for p in problems] == [
        "a values file must be a YAML mapping",
        "No such file or directory",
        "--set 'x': expected key=value (dotted keys for nesting, e.g. image.tag=1.2)",
    ]


def test_render_template_with_nested_values_and_includes(tmp_path: Path):
    (tmp_path / "_labels.j2").write_text("app: {{ app }}")
    f = tmp_path / "d.yaml.j2"
    text = "labels: {% include '_labels.j2' %}\nimage: {{ image.name }}:{{ image.tag }}\n"
    out, problem = render_template(text, str(f), {"app": "web", "image": {"name": "nginx", "tag": "1.27"}})
    assert problem is None
    assert out == "labels: app: web\nimage: nginx:1.27\n"


def test_expand_paths_sorted(tree: Path):
    files, problems = expand_paths([str(tree)], recursive=True)
    assert problems == []
    assert [Path(f).relative_to(tree).as_posix() for f in files] == [
        "a.yaml",
        "b.yml",
        "c.json",
        "sub/d.yaml",
        "sub/e.yaml.j2",
    ]


def test_absurd_nesting_is_an_error_not_a_crash():
    docs, (err,) = parse_yaml_documents("[" * 3000 + "]" * 3000, "deep.yaml")
    assert docs == [] and str(err) == "deep.yaml: doc 1: invalid YAML: nested too deeply"


# --------------------------------------------------------------------------- templates run in a sandbox

ESCAPES = [
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}",
    "{{ joiner.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ namespace.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ (cycler|attr('__init__')).__globals__.os.popen('touch MARKER').read() }}",
    "{{ self._TemplateReference__context }}",
    "{% set x = {} %}{{ x.update(a=1) }}",
    "{{ '{0.__class__.__base__}'.format(1) }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_templates_cannot_reach_python(tmp_path: Path, payload: str, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "evil.yaml.j2"
    f.write_text(CM.format(name="x") + f'data:\n  a: "{payload}"\n')
    result = load_manifests([str(f)], values={})
    assert result.documents == ()
    (err,) = result.errors
    assert (err.file, err.line) == (str(f), 6)
    assert err.message.startswith("template refused: access to attribute ") and "unsafe" in err.message
    assert not (tmp_path / "MARKER").exists()


def test_sandboxed_templates_keep_loops_filters_includes_and_strict_undefined(tmp_path: Path):
    (tmp_path / "_labels.j2").write_text("{% for k, v in labels|dictsort %}{{ k }}: {{ v|lower }}\n{% endfor %}")
    f = tmp_path / "d.yaml.j2"
    text = "{% set n = namespace(x=1) %}{% set n.x = 2 %}x: {{ n.x }}\n{% include '_labels.j2' %}"
    out, problem = render_template(text, str(f), {"labels": {"b": "Y", "a": "X"}})
    assert problem is None and out == "x: 2\na: x\nb: y\n"
    _, problem = render_template("{{ nope }}", str(f), {})
    assert problem.message == "template error: 'nope' is undefined (pass it with --values or --set)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("{{ 'a' * 100000000 }}", "repeating a value 100000000 times would build more than 16 MiB"),
        ("{{ [1] * 100000000 }}", "repeating a value 100000000 times would build more than 16 MiB"),
        ("{{ 10 ** 100000 }}", "10 ** 100000 is too large"),
    ],
)
def test_templates_cannot_build_huge_values(text: str, message: str):
    _, problem = render_template("a: 1\n" + text, "t.yaml.j2", {})
    assert problem.message == f"template refused: {message} (templates run in a sandbox)" and problem.line == 2


def test_template_output_is_capped_while_rendering():
    out, problem = render_template("{% for i in range(100) %}{{ 'x' * 10 }}{% endfor %}", "t.yaml.j2", {}, limit=500)
    assert out is None and problem.message == "too large: the template renders to more than 500 bytes"
    out, problem = render_template("{% for i in range(50) %}{{ 'x' * 10 }}{% endfor %}", "t.yaml.j2", {}, limit=500)
    assert problem is None and out == "x" * 500


# --------------------------------------------------------------------------- bounded input


def test_input_is_capped_per_file_before_parsing(tmp_path: Path, monkeypatch):
    import kcli.shell.loading as loading

    def parse(*a, **kw):
        raise AssertionError("an oversized file must not reach the YAML parser")

    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * loading.MAX_INPUT_BYTES + b"\n")
    monkeypatch.setattr(loading, "parse_yaml_documents", parse)
    (err,) = load_manifests([str(big)]).errors
    assert str(err) == f"{big}: too large: a manifest file may hold at most 16 MiB"


def test_input_is_capped_per_apply(tmp_path: Path, monkeypatch):
    import kcli.shell.loading as loading

    parsed: list[str] = []
    monkeypatch.setattr(loading, "parse_yaml_documents", lambda text, name, budget: (parsed.append(name), ([], []))[1])
    half = loading.MAX_INPUT_BYTES // 2
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_bytes(b"x" * (half - 100))
    (tmp_path / "d.yaml").write_text(CM.format(name="d"))
    result = load_manifests([str(tmp_path)])
    assert parsed == [f"{tmp_path}/a.yaml", f"{tmp_path}/b.yaml"]  # c.yaml goes past the cap, d.yaml is not read
    assert [str(e) for e in result.errors] == [
        f"{tmp_path}/c.yaml: too large: the files of one apply may hold at most 16 MiB together; this one goes past "
        "that (split the apply)"
    ]


def test_stdin_is_capped_too():
    import kcli.shell.loading as loading

    class Long(io.RawIOBase):
        """64 MiB of tabs (YAML refuses them at once, should an unbounded read ever reach the parser)."""

        left = 4 * loading.MAX_INPUT_BYTES

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), Long.left)
            Long.left -= n
            b[:n] = b"\t" * n
            return n

    stdin = io.TextIOWrapper(io.BufferedReader(Long()))
    (err,) = load_manifests(["-"], stdin=stdin).errors
    assert err.message == "too large: a manifest file may hold at most 16 MiB"
    assert Long.left > 2 * loading.MAX_INPUT_BYTES  # read no more than the cap (and a buffer)


def test_an_alias_bomb_is_refused_while_composing_within_bounded_memory():
    import tracemalloc

    # 200 KB aliased 5000 times: 1 GB expanded (test_input_limits runs the 1 MB one under ulimit -v)
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a: &a " + "x" * 200_000 + "\n"
        "  list: [" + ",".join(["*a"] * 5000) + "]\n"
    )
    tracemalloc.start()
    docs, (err,) = parse_yaml_documents(text, "bomb.yaml")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert docs == []
    assert str(err) == (
        "bomb.yaml:6: doc 1: too large: the manifests expand to more than 16 MiB of text (YAML "
        "aliases count each time they are used) at line 6, column 256"
    )
    assert peak < 10 * 1024 * 1024, peak


def test_nested_aliases_are_counted_by_value():
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{b}: &{b} [" + ", ".join([f"*{a}"] * 10) + "]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=False)
    )
    _, (err,) = parse_yaml_documents(laughs, "laughs.yaml")
    assert err.line == 6 and err.message.startswith("too large: the document expands to more than 200000 YAML values")


def test_values_are_counted_per_document_and_per_apply():
    from kcli.shell.loading import Budget

    text = "a: [1, 2, 3]\n---\nb: [1, 2, 3]\n---\nc: [1, 2, 3]\n"
    docs, errors = parse_yaml_documents(text, "f.yaml", Budget(doc_nodes=6))
    assert errors == [] and len(docs) == 3  # 6 values each: the per-document allowance starts again
    docs, (err,) = parse_yaml_documents(text, "f.yaml", Budget(doc_nodes=5))
    assert docs == [] and err.message.startswith("too large: the document expands to more than 5 YAML values")
    docs, (err,) = parse_yaml_documents(text, "f.yaml", Budget(nodes_left=15))
    assert len(docs) == 2 and err.doc == 3 and err.message.startswith("too large: the manifests expand to more than")


def test_recursive_alias_is_refused_at_load():
    _, (err,) = parse_yaml_documents("a: &a [1, *a]\n", "loop.yaml")
    assert err.message == "recursive YAML alias: *a is used inside its own anchor at line 1, column 11"


def test_ordinary_anchors_and_merge_keys_still_work():
    (doc,), errors = parse_yaml_documents(
        "base: &b {app: web, tier: fe}\nlabels: {<<: *b, tier: be}\nsame: *b\n", "f.yaml"
    )
    assert errors == []
    assert doc.data == {
        "base": {"app": "web", "tier": "fe"},
        "labels": {"app": "web", "tier": "be"},
        "same": {"app": "web", "tier": "fe"},
    }


def test_crlf_files_read_as_before(tmp_path: Path):
    f = tmp_path / "crlf.yaml"
    f.write_bytes(b"apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a\r\ndata:\r\n  k: |\r\n    line\r\n")
    result = load_manifests([str(f)])
    assert result.errors == () and result.documents[0].data["data"] == {"k": "line\n"}
