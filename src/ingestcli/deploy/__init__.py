"""`ingest deploy`, `destroy` and `status`: every change planned as data, then executed."""
