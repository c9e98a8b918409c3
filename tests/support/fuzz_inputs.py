"""What the fuzz tests feed the validator and the ingest Lambda (hypothesis strategies): valid
files in any of their spellings, those files mutated the ways files get broken (quotes,
commas, CR/LF inserted or deleted, bad UTF-8, a BOM or a NUL dropped in, digits swapped,
lines repeated), and plain random bytes."""

from __future__ import annotations

import csv
import io

from hypothesis import strategies as st

TIMES = [
    "2024-03-01T10:00:00Z",
    "2024-03-01T14:30:00-05:00",
    "20240301T143000-0500",
    "2024-03-01 14:30Z",
    "2024-03-01T14:30:00.123456+05:45",
    "2016-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2024-02-29T00:00:00+14:00",
    "2024-03-01T10:00:00",
    "2016-12-31T23:59:60Z",
    "2023-02-29T10:00:00Z",
]
MRNS = st.one_of(
    st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True),
    st.sampled_from(["A1", " A1 ", "SELECT", "B#2", "", "Z\u200b3", "x" * 65]),
)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)
MUTATION_TOKENS = [
    b'"',
    b'"',
    b'""',
    b",",
    b"\r",
    b"\n",
    b"\r\n",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xef\xbb\xbf",
    b"\x00",
    b" ",
    b"#",
    "\u2028".encode(),
]


@st.composite
def valid_files_and_header_ends(draw: st.DrawFn) -> tuple[bytes, int]:
    """A file the contract accepts, in any of its spellings (columns in any order, CRLF, LF
    or CR, a BOM or not, values quoted as needed), and where its header line ends."""
    extra = draw(st.lists(st.sampled_from(["note", "Note", "ward", "x y"]), unique=True))
    names = draw(st.permutations(["medical_record_number", "date_time", *extra]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=ending)
    writer.writerow(names)
    header = draw(st.sampled_from(["", "\ufeff"])) + text.getvalue()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=ending)
    for _ in range(draw(st.integers(0, 8))):
        values = {
            "medical_record_number": draw(MRNS),
            "date_time": draw(st.sampled_from(TIMES)),
        }
        writer.writerow([values.get(name) or draw(TEXT) for name in names])
    return (header + text.getvalue()).encode(), len(header.encode())


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A valid file with up to 6 mutations, most of them after its header."""
    valid, header_end = draw(valid_files_and_header_ends())
    data = bytearray(valid)
    for _ in range(draw(st.integers(0, 6))):
        low = min(draw(st.sampled_from([0, header_end, header_end, header_end])), len(data))
        kind = draw(st.sampled_from(["insert", "delete", "swap", "digit", "repeat_line"]))
        if kind == "insert" or len(data) <= low:
            at = draw(st.integers(low, len(data)))
            data[at:at] = draw(st.sampled_from(MUTATION_TOKENS))
        elif kind == "delete":
            del data[draw(st.integers(low, len(data) - 1))]
        elif kind == "swap":
            at = draw(st.integers(low, max(len(data) - 2, low)))
            data[at : at + 2] = data[at : at + 2][::-1]
        elif kind == "digit":
            digits = [at for at in range(low, len(data)) if 48 <= data[at] <= 57]
            if digits:
                data[draw(st.sampled_from(digits))] = draw(st.integers(48, 57))
        else:
            lines = bytes(data).splitlines(keepends=True)
            at = draw(st.integers(0, len(lines) - 1))
            lines.insert(at, lines[at])
            data = bytearray(b"".join(lines))
    return bytes(data)


any_bytes = st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=300).map(lambda rest: b"medical_record_number,date_time,note\n" + rest),
)
files = st.one_of(mutated_files(), any_bytes)
