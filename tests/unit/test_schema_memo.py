"""The schema memo: a document that passed the OpenAPI schema is not checked against it again."""

from __future__ import annotations

import textwrap

import yaml

from kcli.core import validate
from kcli.core.objects import Document, Source
from kcli.core.validate import schema_key, validate_documents
from kcli.shell.loading import FileSchemaMemo

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "busybox:1.36"}]}
"""
SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {token: t}
"""


def docs(text: str) -> list[Document]:
    return [Document(Source("f.yaml", i + 1), d) for i, d in enumerate(yaml.safe_load_all(textwrap.dedent(text))) if d]


def test_a_clean_document_is_remembered_and_not_checked_again(tmp_path, monkeypatch):
    memo = FileSchemaMemo(tmp_path / "schema-ok")
    assert validate_documents(docs(DEPLOY), schema_memo=memo).objects
    memo.save()
    again = FileSchemaMemo(tmp_path / "schema-ok")
    assert len(again.known) == 1

    def boom(*a):
        raise AssertionError("the schema was checked again")

    monkeypatch.setattr(validate, "schema_problems", boom)
    assert validate_documents(docs(DEPLOY), schema_memo=again).objects  # kcli's own checks still ran
    edited = DEPLOY.replace("busybox:1.36", "busybox:1.37")
    (err,) = validate_documents(docs(edited), schema_memo=again).errors  # another document: checked
    assert "the schema was checked again" in str(err)


def test_documents_with_schema_errors_and_secrets_are_never_remembered(tmp_path):
    memo = FileSchemaMemo(tmp_path / "schema-ok")
    bad = DEPLOY.replace("selector: {matchLabels: {app: web}}", "selector: {matchLabels: {app: web}, bogus: 1}")
    assert validate_documents(docs(bad), schema_memo=memo).errors
    assert validate_documents(docs(SECRET), schema_memo=memo).objects
    assert memo.known == set() and schema_key({"kind": "Secret"}, "v1", "Secret") is None


def test_an_unreadable_memo_is_empty_and_junk_lines_are_ignored(tmp_path):
    assert FileSchemaMemo(tmp_path / "missing").known == set()
    p = tmp_path / "schema-ok"
    p.write_text("not-a-digest\n" + "a" * 64 + "\n")
    assert FileSchemaMemo(p).known == {"a" * 64}
