"""Rich rendering of the provider list: every id and time whole, whatever the width."""

from __future__ import annotations

from collections.abc import Sequence

from ingestcli.cli.render.fit import ID, Column, print_rows
from ingestcli.cli.render.output import human_time, plural, shown, stdout
from ingestcli.services.providers import Provider

_STATUS = {"active": "active", "revoked": "[red]revoked[/]"}


def render_providers(providers: Sequence[Provider]) -> None:
    """One row per provider (one block each when the columns do not fit), then a count."""
    if not providers:
        stdout.print("No providers yet: `ingest provider add ID` onboards one.")
        return
    columns = [
        Column("provider", ID),
        Column("status", ID),
        Column("time zone", ID),
        Column("created", ID),
        Column("updated", ID),
    ]
    rows = [
        [
            shown(provider.provider_id),
            _STATUS.get(provider.status) or f"[red]{shown(provider.status)}[/]",
            shown(provider.time_zone or "-"),
            shown(human_time(provider.created_at)),
            shown(human_time(provider.updated_at)),
        ]
        for provider in providers
    ]
    print_rows(stdout, columns, rows, boxed=False, title="PROVIDER")
    stdout.print(plural(len(providers), "provider"))
