"""`python -m ingestcli`: the same as the `ingest` command."""

from ingestcli.cli.entry import main

main()
