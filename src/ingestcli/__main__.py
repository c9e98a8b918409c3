"""`python -m ingestcli`: the same as the `ingest` command."""

from .cli import main

main()
