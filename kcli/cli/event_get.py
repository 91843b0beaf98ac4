"""`kcli get events` / `kcli events`: the events kcli records in the state with each commit
(scheduling, killing, failures, node repairs), with kubectl's columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kcli.core.humanize import human_duration

WARNING_REASONS = (
    "Failed",
    "FailedScheduling",
    "BackOff",
    "ErrImageNeverPull",
    "CreateContainerError",
    "CreateContainerConfigError",
    "Unhealthy",
    "Evicted",
)


def _events(snap, namespace: str, all_ns: bool) -> list[dict[str, Any]]:
    out = []
    for e in snap.state.get("events") or []:
        message = str(e.get("message", ""))
        ns = ""
        for word in message.replace(":", " ").split():
            if word.count("/") == 1 and not word.startswith(("/", "http")):
                ns = word.split("/", 1)[0]
                break
        if not all_ns and ns and ns != namespace:
            continue
        out.append({**e, "namespace": ns or namespace})
    return out


def _age(snap, when: str) -> str:
    try:
        return human_duration(snap.now - datetime.fromisoformat(when).timestamp())
    except (TypeError, ValueError):
        return "<unknown>"


def event_rows(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    rows = []
    for e in _events(snap, namespace, all_ns):
        obj = str(e.get("object", ""))
        if name and not obj.endswith(f"/{name}"):
            continue
        reason = str(e.get("reason", ""))
        kind_, _, oname = obj.partition("/")
        r = {"NAMESPACE": e["namespace"]} if all_ns else {}
        r.update(
            {
                "LAST SEEN": _age(snap, str(e.get("time", ""))),
                "TYPE": "Warning" if reason.startswith(WARNING_REASONS) else "Normal",
                "REASON": reason,
                "OBJECT": f"{kind_.lower()}/{oname}" if oname else obj,
                "MESSAGE": str(e.get("message", "")),
            }
        )
        rows.append(r)
    return rows


def event_objects(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    out = []
    for i, e in enumerate(_events(snap, namespace, all_ns)):
        obj = str(e.get("object", ""))
        if name and not obj.endswith(f"/{name}"):
            continue
        kind_, _, oname = obj.partition("/")
        reason = str(e.get("reason", ""))
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{oname or 'kcli'}.{i}", "namespace": e["namespace"]},
                "involvedObject": {"kind": kind_, "name": oname, "namespace": e["namespace"]},
                "reason": reason,
                "message": str(e.get("message", "")),
                "lastTimestamp": str(e.get("time", "")),
                "type": "Warning" if reason.startswith(WARNING_REASONS) else "Normal",
                "count": 1,
                "source": {"component": "kcli"},
            }
        )
    return out
