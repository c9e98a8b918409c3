"""Where things are: the repository, the tests folder and its data, the shipped template."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
CORPUS = TESTS / "corpus"
HOSTILE = TESTS / "hostile"
TEMPLATE = ROOT / "infra" / "cloudformation" / "ingest.yaml"
SUPPORT_POLICY = ROOT / "docs" / "support-policy.json"
EXAMPLE = ROOT / "examples" / "clinic-visits.csv"
