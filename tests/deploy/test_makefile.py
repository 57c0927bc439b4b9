"""make builds the audit log's native module only where `cargo --version` answers, and
says in one line why it did not (read with `make -n`: nothing is built or installed)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NATIVE_INSTALL = "pip install -q ./services/audit/native"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def planned_venv(path: str, home: Path, *args: str) -> str:
    """What `make venv` would run with ``path`` as PATH, as if the virtualenv were new."""
    env = {**os.environ, "PATH": path, "HOME": str(home)}
    result = subprocess.run(
        ["make", "-n", "-B", "venv", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def fake_cargo(bin_dir: Path, *, works: bool) -> None:
    """A `cargo` on PATH: rustup's proxy with no toolchain fails `--version`."""
    bin_dir.mkdir(exist_ok=True)
    cargo = bin_dir / "cargo"
    if works:
        cargo.write_text("#!/bin/sh\necho 'cargo 1.90.0'\n")
    else:
        cargo.write_text(
            "#!/bin/sh\necho 'error: rustup could not choose a version of cargo to run' >&2\n"
            "exit 1\n"
        )
    cargo.chmod(0o755)


def test_a_cargo_without_a_toolchain_is_not_used_and_the_reason_is_given(tmp_path: Path) -> None:
    fake_cargo(tmp_path / "bin", works=False)
    plan = planned_venv(f"{tmp_path / 'bin'}:/usr/bin:/bin", tmp_path)
    assert NATIVE_INSTALL not in plan
    assert "--version' failed: no working Rust toolchain" in plan


def test_no_cargo_at_all_says_so(tmp_path: Path) -> None:
    plan = planned_venv("/usr/bin:/bin", tmp_path)
    assert NATIVE_INSTALL not in plan
    assert "not built (no cargo on PATH)" in plan


def test_a_cargo_that_answers_builds_the_native_module(tmp_path: Path) -> None:
    fake_cargo(tmp_path / "bin", works=True)
    plan = planned_venv(f"{tmp_path / 'bin'}:/usr/bin:/bin", tmp_path)
    assert NATIVE_INSTALL in plan


def test_cargo_turned_off_on_the_command_line_is_named_as_the_reason(tmp_path: Path) -> None:
    fake_cargo(tmp_path / "bin", works=True)
    plan = planned_venv(f"{tmp_path / 'bin'}:/usr/bin:/bin", tmp_path, "CARGO=")
    assert NATIVE_INSTALL not in plan and "(CARGO= given)" in plan
