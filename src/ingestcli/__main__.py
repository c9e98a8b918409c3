"""`python -m ingestcli`: the same as the `ingest` command."""

from ingestcli.cli.app import main

main()
