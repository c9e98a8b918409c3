"""Helpers shared by the test modules of tests/unit, tests/integration and tests/e2e.

Importable as `support` (pyproject.toml puts tests/ on pytest's `pythonpath`). Test modules
import from here, never from one another; conftest.py files hold only fixtures and hooks.
"""
