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
        "image": {"tag": "1.10"}, "replicas": 3, "debug": True, "name": "web", "a": {"b": {"c": -2}}, "e": ""}
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
        "a values file must be a YAML mapping", "No such file or directory",
        "--set 'x': expected key=value (dotted keys for nesting, e.g. image.tag=1.2)"]


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
    assert [Path(f).relative_to(tree).as_posix() for f in files] == ["a.yaml", "b.yml", "c.json", "sub/d.yaml",
                                                                    "sub/e.yaml.j2"]


def test_absurd_nesting_is_an_error_not_a_crash():
    docs, (err,) = parse_yaml_documents("[" * 3000 + "]" * 3000, "deep.yaml")
    assert docs == [] and str(err) == "deep.yaml: doc 1: invalid YAML: nested too deeply"
