"""Audit the installed Python packages (the pins and what they pulled in) for known
vulnerabilities with pip-audit, and say plainly when it could not look.

pip-audit reports "No known vulnerabilities found" even when it skipped every package because
its vulnerability service did not answer; this script counts the skipped ones instead.
Exit 1: a known vulnerability, or (without --allow-unaudited) any package left unaudited.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


def summarise(dependencies: list[dict], *, allow_unaudited: bool) -> tuple[list[str], int]:
    """Report lines and exit code for pip-audit's JSON `dependencies`."""
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d]
    lines = []
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
            name = f"{dependency['name']} {dependency['version']}"
            lines.append(f"VULNERABLE {name}: {vuln['id']} (fixed in: {fixed})")
    audited = len(dependencies) - len(skipped)
    lines.append(
        f"pip-audit: {audited} of {len(dependencies)} packages audited, "
        f"{len(vulnerable)} vulnerable"
    )
    if skipped:
        lines.append(
            f"NOT AUDITED: {len(skipped)} packages could not be checked, e.g. "
            f"{skipped[0]['skip_reason']!r}. The vulnerability service did not answer for "
            "them: no claim is made about their vulnerabilities."
        )
    if vulnerable:
        return lines, 1
    if skipped and not allow_unaudited:
        lines.append("Failing: rerun where PyPI answers, or pass --allow-unaudited to accept it.")
        return lines, 1
    return lines, 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--allow-unaudited",
        action="store_true",
        help="Report packages that could not be audited, loudly, but do not fail for them.",
    )
    args = parser.parse_args()
    result = subprocess.run(  # noqa: S603 (this venv's pip-audit, fixed arguments)
        [str(PIP_AUDIT), "--format", "json", "--progress-spinner", "off"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        dependencies = json.loads(result.stdout)["dependencies"]
    except (ValueError, KeyError):
        print(f"pip-audit did not run:\n{result.stderr.strip()}", file=sys.stderr)
        return 1
    lines, code = summarise(dependencies, allow_unaudited=args.allow_unaudited)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
