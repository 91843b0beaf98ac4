"""Kubernetes' name and label rules (apimachinery validation), with kubectl's messages. Small and
import-light: the inventory checks its labels with them on every command."""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_IANA_SVC = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

MSG_DNS_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
MSG_DNS_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
MSG_DNS_1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
MSG_LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
MSG_QUALIFIED_NAME = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
MSG_CONFIG_KEY = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or "
    "'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def dns_label_error(v: str) -> str | None:
    if len(v) > 63:
        return "must be no more than 63 characters"
    return None if _DNS_LABEL.fullmatch(v) else MSG_DNS_LABEL


def dns_subdomain_error(v: str) -> str | None:
    if len(v) > 253:
        return "must be no more than 253 characters"
    return None if _DNS_SUBDOMAIN.fullmatch(v) else MSG_DNS_SUBDOMAIN


def dns_1035_error(v: str) -> str | None:
    if len(v) > 63:
        return "must be no more than 63 characters"
    return None if _DNS_1035.fullmatch(v) else MSG_DNS_1035


def label_key_error(k: str) -> str | None:
    prefix, _, name = k.rpartition("/")
    if "/" in k and (not prefix or dns_subdomain_error(prefix)):
        return "prefix part " + (dns_subdomain_error(prefix) or "must be non-empty")
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    return None if _QUALIFIED_NAME.fullmatch(name) else MSG_QUALIFIED_NAME


def label_value_error(v: str) -> str | None:
    if len(v) > 63:
        return "must be no more than 63 characters"
    return None if _LABEL_VALUE.fullmatch(v) else MSG_LABEL_VALUE


def port_name_error(v: str) -> str | None:
    """IANA_SVC_NAME (RFC 6335): ≤15 chars, lowercase alphanumerics and '-', at least one letter."""
    if len(v) > 15:
        return "must be no more than 15 characters"
    if not _IANA_SVC.fullmatch(v):
        return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    if "--" in v:
        return "must not contain consecutive hyphens"
    if not re.search(r"[a-z]", v):
        return "must contain at least one letter (a-z)"
    return None
