"""The map of the house is enforced: `lint-imports` (import-linter) with .importlinter.

`make test` runs it before the suite; these tests show it passes on the code and that it
can fail: a contract today's code breaks on purpose is reported BROKEN with a non-zero exit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_code_keeps_every_contract_of_the_map():
    result = _lint(ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert "0 broken" in result.stdout


def test_a_contract_the_code_breaks_fails_the_build(tmp_path):
    # The counter posts through the ledger: forbidding that must be caught.
    config = tmp_path / "broken.ini"
    config.write_text(
        "[importlinter]\n"
        "root_packages =\n    counter\n    float_management\n"
        "[importlinter:contract:wrong]\n"
        "name = The counter never touches the money (false on purpose)\n"
        "type = forbidden\n"
        "source_modules =\n    counter\n"
        "forbidden_modules =\n    float_management\n"
    )
    result = _lint(config)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "counter" in result.stdout and "float_management" in result.stdout
