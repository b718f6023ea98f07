"""The ``footfall`` command: one subcommand group per part of the system."""

from __future__ import annotations

import logging
import sys

import click

from footfall.central.cli import central
from footfall.dashboard.cli import serve
from footfall.edge.cli import edge
from footfall.harvest.cli import harvest
from footfall.labeling.cli import labeling
from footfall.registry.cli import dataset, registry
from footfall.retrain.cli import retrain
from footfall.scheduler.cli import scheduler


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="footfall")
def cli(verbose: int) -> None:
    """Retail people counting on existing CCTV cameras."""
    level = logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(processName)s %(name)s: %(message)s", stream=sys.stderr
    )
    # boxmot and ultralytics log every construction at INFO; keep the device log readable
    for noisy in ("boxmot", "ultralytics", "yolov5"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)


cli.add_command(edge)
cli.add_command(registry)
cli.add_command(dataset)
cli.add_command(retrain)
cli.add_command(scheduler)
cli.add_command(harvest)
cli.add_command(labeling)
cli.add_command(serve)
cli.add_command(central)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
