"""Support staff's reads, the parts that need no AWS: --since and --until as the UTC instants
the keys store, CSV cells a spreadsheet would run as formulas, and times and values as people
are shown them. (The reads themselves, on
moto: tests/integration/test_query.py.)"""

from __future__ import annotations

import pytest

from ingestcli.cli.exits import EXIT_USAGE, exit_code_for
from ingestcli.cli.render import query
from ingestcli.cli.render.output import human_time, shown
from ingestcli.cli.render.query import spreadsheet_safe
from ingestcli.errors import UsageError
from ingestcli.services.support import parse_bound

# ----------------------------------------------------------------------------- bounds


@pytest.mark.parametrize(
    ("text", "end_of_day", "expected"),
    [
        ("2024-03-01", False, "2024-03-01T00:00:00.000000Z"),
        ("2024-03-01", True, "2024-03-01T23:59:59.999999Z"),
        ("2024-03-01T23:30:00-05:00", False, "2024-03-02T04:30:00.000000Z"),
        ("2024-03-01T23:30:00-05:00", True, "2024-03-02T04:30:00.000000Z"),
        ("2024-03-02T01:00+05:30", False, "2024-03-01T19:30:00.000000Z"),
        ("2024-03-01T10:00:00.25Z", False, "2024-03-01T10:00:00.250000Z"),
        (" 2024-02-29 ", True, "2024-02-29T23:59:59.999999Z"),
    ],
)
def test_bounds_are_utc_instants_as_keys_store_them(
    text: str, end_of_day: bool, expected: str
) -> None:
    assert parse_bound(text, end_of_day=end_of_day) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2024-03-01T23:30:00", "no UTC offset"),
        ("2023-02-29", "not a real date"),
        ("2023-02-30T10:00:00Z", "not a real date and time"),
        ("20240301", "YYYY-MM-DD"),
        ("yesterday", "not an ISO 8601"),
        ("2024-03-01T10:00:00+15:00", "beyond"),
    ],
)
def test_a_bound_that_is_no_instant_is_refused_without_repeating_it(text: str, reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_bound(text, end_of_day=False)
    assert exit_code_for(caught.value) == EXIT_USAGE
    assert str(caught.value).startswith("--since: ")
    assert reason in str(caught.value)
    assert text not in str(caught.value)


# ---------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("-ABC", "'-ABC"),
        ("\tx", "'\tx"),
        ("-5", "-5"),
        ("+1.5e3", "+1.5e3"),
        ("-.5", "-.5"),
        ("120/80", "120/80"),
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z"),
        (7, "7"),
    ],
)
def test_spreadsheet_formulas_are_neutralised_but_numbers_kept(value: object, cell: str) -> None:
    assert spreadsheet_safe(value) == cell


# ------------------------------------------------------------------ times and values


@pytest.mark.parametrize(
    ("stored", "human"),
    [
        ("2024-03-01T09:00:00.000000Z", "2024-03-01T09:00:00Z"),
        ("2024-03-01T09:00:00.000Z", "2024-03-01T09:00:00Z"),
        ("2024-03-01T09:00:00.250000Z", "2024-03-01T09:00:00.250000Z"),
        ("2024-03-01T09:00:00.000001Z", "2024-03-01T09:00:00.000001Z"),
        ("2024-03-01T09:00:00Z", "2024-03-01T09:00:00Z"),
        ("2024-03-01T09:00:00.000000+01:00", "2024-03-01T09:00:00.000000+01:00"),
        ("x2024-03-01T09:00:00.000000Z", "x2024-03-01T09:00:00.000000Z"),
        (7, 7),
    ],
)
def test_a_zero_fraction_is_dropped_for_people_only(stored: object, human: object) -> None:
    assert human_time(stored) == human


def test_json_and_csv_keep_the_stored_time(capsys: pytest.CaptureFixture[str]) -> None:
    stored = {"medical_record_number": "A-1", "date_time": "2024-03-01T14:15:00.000000Z"}
    query.write_records_json([stored])
    query.write_records_csv([stored])
    assert capsys.readouterr().out.count("2024-03-01T14:15:00.000000Z") == 2


def test_shown_escapes_bidi_overrides_and_controls() -> None:
    assert shown("a\u202eb\u2069c\u200bd") == "a\\u202eb\\u2069c\u200bd"
    assert shown("\x1b]52;c;x\x07") == "\\x1b]52;c;x\\x07"
    assert shown("[red]x") == "\\[red]x"
