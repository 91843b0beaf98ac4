"""`kcli image load`: ship local images to nodes without a registry."""

from __future__ import annotations

import typer

from kcli.cli import console, options
from kcli.cli.output import print_table

image = typer.Typer(help="Images on nodes.", no_args_is_help=True, rich_markup_mode=None)


@image.command()
def load(
    images: list[str] = typer.Argument(..., help="Local image references."),
    nodes: str = typer.Option(None, "--nodes", help="Comma-separated node names (default: all)."),
    selector: str = typer.Option(None, "--selector", "-l", help="Node label selector, e.g. role=web."),
    inventory: str = options.Inventory,
    quiet: bool = options.Quiet,
) -> None:
    """Stream `docker save` into `docker load` on the nodes, skipping nodes that hold the same image ID.

    Images kcli builds itself (kcli.local/busybox:1, kcli.local/redis:7, ...) are built here first
    when absent or out of date (cached by content hash)."""
    from kcli.cli.hosts import select_hosts
    from kcli.cli.progress import shown
    from kcli.core.progress import human_bytes
    from kcli.errors import ExecutionError
    from kcli.shell.facade import Cluster

    with Cluster.load(inventory) as cluster:
        hosts = select_hosts(cluster.inv, nodes, selector)
        with shown() as progress:
            results = cluster.load_images(hosts, images, log=console.info, progress=progress)
    rows = []
    for name, val, exc in results:
        if val is None:  # the node failed: exc is why
            rows.append({"NODE": name, "RESULT": "error", "IMAGES": str(exc), "SENT": "-"})
        elif val.loaded:
            rows.append(
                {"NODE": name, "RESULT": "loaded", "IMAGES": ", ".join(val.loaded), "SENT": human_bytes(val.bytes_sent)}
            )
        else:
            rows.append({"NODE": name, "RESULT": "unchanged", "IMAGES": ", ".join(val.skipped), "SENT": "-"})
    if not console.is_quiet():
        print_table(rows)
    if not results.ok:
        raise ExecutionError(
            f"image load failed on {len(results.errors)} node(s)", details=results.summary().splitlines()
        )


def register(app: typer.Typer) -> None:
    app.add_typer(image, name="image")
