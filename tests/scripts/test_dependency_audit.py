"""The dependency audit fails on a known vulnerability, and never reports "clean" for packages
pip-audit could not look up."""

from __future__ import annotations

from scripts.dependency_audit import summarise

CLEAN = {"name": "django", "version": "5.2.19", "vulns": []}
VULNERABLE = {
    "name": "django",
    "version": "5.2.1",
    "vulns": [{"id": "PYSEC-2025-1", "fix_versions": ["5.2.2"], "aliases": []}],
}
SKIPPED = {"name": "numpy", "skip_reason": "Dependency not found on PyPI and could not be audited"}


def test_all_audited_and_clean_passes():
    lines, code = summarise([CLEAN], allow_unaudited=False)
    assert code == 0
    assert lines == ["pip-audit: 1 of 1 packages audited, 0 vulnerable"]


def test_a_known_vulnerability_fails_even_when_unaudited_packages_are_allowed():
    lines, code = summarise([VULNERABLE, SKIPPED], allow_unaudited=True)
    assert code == 1
    assert lines[0] == "VULNERABLE django 5.2.1: PYSEC-2025-1 (fixed in: 5.2.2)"


def test_unaudited_packages_fail_unless_allowed_and_are_always_named():
    lines, code = summarise([CLEAN, SKIPPED], allow_unaudited=False)
    assert code == 1
    assert "NOT AUDITED: 1 packages could not be checked" in lines[1]
    lines, code = summarise([CLEAN, SKIPPED], allow_unaudited=True)
    assert code == 0
    assert "pip-audit: 1 of 2 packages audited, 0 vulnerable" in lines
    assert any(line.startswith("NOT AUDITED") for line in lines)
