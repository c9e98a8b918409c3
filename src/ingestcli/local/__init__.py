"""The local stack: moto on loopback, the API served over HTTP, a queue worker that plays the
event source mapping, and `ingest demo`."""
