"""Rich rendering of the provider list."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from ingestcli.cli.render.output import plural, stdout
from ingestcli.services.providers import Provider


def render_providers(providers: Sequence[Provider]) -> None:
    if not providers:
        stdout.print("No providers yet: `ingest provider add ID` onboards one.")
        return
    table = Table("provider", "status", "time zone", "created", "updated")
    for provider in providers:
        status = provider.status if provider.status == "active" else f"[red]{provider.status}[/]"
        table.add_row(
            provider.provider_id,
            status,
            provider.time_zone or "-",
            provider.created_at,
            provider.updated_at,
        )
    stdout.print(table)
    stdout.print(plural(len(providers), "provider"))
