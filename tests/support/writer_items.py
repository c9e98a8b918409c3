"""Items for ItemWriter's tests, and a stand-in for time.sleep."""

from __future__ import annotations

TABLE = "records"
SECRET = "MRN-SECRET-4711"  # a value that must never reach a message


def item(mrn: str, note: str = "x", provider: str = "prov-a") -> dict[str, dict[str, str]]:
    return {
        "providerId": {"S": provider},
        "sortKey": {"S": f"{mrn}#2024-03-01T10:00:00.000000Z"},
        "medical_record_number": {"S": mrn},
        "note": {"S": note},
    }


class Recorder:
    """Stands in for time.sleep: remembers each delay, waits for none."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
