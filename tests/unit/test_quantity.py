"""Kubernetes resource.Quantity parsing (docs/k8s-reference.md §6.4)."""

from decimal import Decimal

import pytest

from kcli.core.quantity import (
    QuantityError,
    cpu_millis,
    format_bytes,
    format_cpu,
    memory_bytes,
    parse_quantity,
    resource_value,
)


@pytest.mark.parametrize(
    "text, millis",
    [
        ("1", 1000),
        ("0.5", 500),
        ("500m", 500),
        ("100m", 100),
        ("2.5", 2500),
        ("0.1", 100),
        (2, 2000),
        (0.15, 150),
        ("1e3", 1_000_000),
        ("0.0001", 1),
        ("1u", 1),
        ("+1", 1000),
        (".5", 500),
    ],
)
def test_cpu_to_millicores_rounds_up(text, millis):
    assert cpu_millis(text) == millis


@pytest.mark.parametrize(
    "text, n",
    [
        ("128Mi", 134217728),
        ("1Gi", 1073741824),
        ("1G", 10**9),
        ("500M", 5 * 10**8),
        ("1e3", 1000),
        ("12E6", 12 * 10**6),
        ("1Ki", 1024),
        ("1Ti", 2**40),
        ("1Pi", 2**50),
        ("1Ei", 2**60),
        ("1k", 1000),
        ("1T", 10**12),
        ("1P", 10**15),
        ("1E", 10**18),
        ("128m", 1),
        ("1.5Gi", 1610612736),
        (1024, 1024),
        ("0", 0),
    ],
)
def test_memory_to_bytes(text, n):
    assert memory_bytes(text) == n


def test_exact_decimal_value():
    assert parse_quantity("1.5Mi") == Decimal(1572864)
    assert parse_quantity("-1") == Decimal(-1)
    assert parse_quantity("1e-3") == Decimal("0.001")


@pytest.mark.parametrize(
    "bad", ["", "K", "1K", "Mi", "1Mb", "one", "1 Gi", " 1", "1..2", "1e", "--1", "0x10", None, True, [1], {"a": 1}]
)
def test_rejects_what_upstream_rejects(bad):
    with pytest.raises(QuantityError):
        parse_quantity(bad)


def test_error_quotes_upstream_regex():
    with pytest.raises(QuantityError, match=r"quantities must match the regular expression"):
        memory_bytes("1K")


def test_resource_value_picks_unit_by_resource():
    assert resource_value("cpu", "250m") == 250
    assert resource_value("memory", "1Mi") == 1048576
    assert resource_value("nvidia.com/gpu", "1") == 1


def test_formatting_for_display():
    assert format_cpu(1500) == "1500m"
    assert format_cpu(2000) == "2"
    assert format_bytes(134217728) == "128Mi"
    assert format_bytes(1000) == "1000"
