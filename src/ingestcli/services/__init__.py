"""What the commands call: sessions and config, providers, presign, the upload client and
support queries. Clients and sessions come in as arguments; no typer, no rich here."""
