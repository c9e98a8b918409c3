"""What the provider's upload client is given and shown: a token, a file, a report."""

from __future__ import annotations

from pathlib import Path

TOKEN = "ingest.acme.Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXhx"
REPORT = {
    "upload_id": "up1",
    "provider": "acme",
    "key": "acme/uploads/2024/05/01/up1.csv",
    "status": "partial",
    "rows": 3,
    "written": 2,
    "rejected": 1,
    "duplicates": 0,
    "errors": [{"line": 3, "column": "date_time", "code": "no_offset", "message": "no offset"}],
    "started_at": "2024-05-01T10:00:00Z",
    "finished_at": "2024-05-01T10:00:01Z",
}


def write_big_csv(folder: Path) -> Path:
    """A CSV over several 1 MB chunks, with a BOM, CRLF line ends and non-ASCII text."""
    rows = "".join(f"MRN-{n:07d},2024-05-01T10:00:00+02:00,Zoë Ångström\r\n" for n in range(60_000))
    path = folder / "visits 2024.csv"
    path.write_bytes(("\ufeffmedical_record_number,date_time,name\r\n" + rows).encode())
    return path
