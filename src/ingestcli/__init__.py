"""ingest: validated, multi-tenant uploads of patient-record CSV files into AWS."""

__version__ = "0.1.0"
