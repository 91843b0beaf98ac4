"""kcli's own config (contexts, like kubeconfig) and finding + loading the inventory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kcli.core.inventory import Inventory, parse_inventory
from kcli.errors import InventoryError, UsageError
from kcli.shell import parsedcache


def _safe_load(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def kcli_home() -> Path:
    return Path(os.environ.get("KCLI_HOME") or Path.home() / ".kcli")


def config_path() -> Path:
    return kcli_home() / "config.yaml"


def read_config() -> dict[str, Any]:
    p = config_path()
    if not p.exists():
        return {"contexts": {}, "current-context": None}
    data = parsedcache.load(p, p.read_text(), _safe_load, tag="yaml") or {}
    data.setdefault("contexts", {})
    data.setdefault("current-context", None)
    return data


def write_config(data: dict[str, Any]) -> None:
    p = config_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    import yaml

    tmp.write_text(yaml.safe_dump(data, sort_keys=True))
    os.replace(tmp, p)


def set_context(name: str, inventory: str, *, use: bool = True) -> None:
    cfg = read_config()
    cfg["contexts"][name] = {"inventory": str(inventory)}
    if use:
        cfg["current-context"] = name
    write_config(cfg)


def delete_context(name: str) -> None:
    cfg = read_config()
    cfg["contexts"].pop(name, None)
    if cfg.get("current-context") == name:
        cfg["current-context"] = None
    write_config(cfg)


def use_context(name: str) -> None:
    cfg = read_config()
    if name not in cfg["contexts"]:
        known = ", ".join(sorted(cfg["contexts"])) or "none"
        raise UsageError(f"no context named {name!r} (known: {known})")
    cfg["current-context"] = name
    write_config(cfg)


def inventory_path(explicit: str | None) -> Path:
    """-i wins, then $KCLI_INVENTORY, then the current context (set by `kcli sandbox up`)."""
    if explicit:
        return Path(explicit)
    if os.environ.get("KCLI_INVENTORY"):
        return Path(os.environ["KCLI_INVENTORY"])
    cfg = read_config()
    cur = cfg.get("current-context")
    if cur and cur in cfg["contexts"]:
        return Path(cfg["contexts"][cur]["inventory"])
    raise UsageError("no inventory: pass -i FILE, set KCLI_INVENTORY, or run `kcli sandbox up`")


def load_inventory(explicit: str | None = None) -> Inventory:
    path = inventory_path(explicit)
    if not path.exists():
        raise InventoryError(f"{path}: inventory file not found")
    try:
        data = parsedcache.load(path, path.read_text(), _safe_load, tag="yaml")
    except Exception as exc:
        import yaml  # only here: a cached parse does without it

        if not isinstance(exc, yaml.YAMLError):
            raise
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InventoryError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    return parse_inventory(
        data,
        source=str(path),
        base_dir=str(path.resolve().parent),
        home=str(Path.home()),
        env=dict(os.environ),
    )
