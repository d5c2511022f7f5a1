"""sctpmh check: each reason kernel SCTP can be missing is told apart, with its fix."""

from __future__ import annotations

import errno
import gzip
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from sctpmh.kernel.diagnose import diagnose, sctp_socket_error, way_out

RELEASE = "6.1.0-99-amd64"
MISSING = OSError(errno.EPROTONOSUPPORT, "Protocol not supported")


def tree(tmp_path: Path, files: Mapping[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return tmp_path


MODULE = f"lib/modules/{RELEASE}/kernel/net/sctp/sctp.ko"
CONFIG_M = {f"boot/config-{RELEASE}": "CONFIG_INET=y\nCONFIG_IP_SCTP=m\n"}


def test_usable_when_the_socket_opens(tmp_path: Path) -> None:
    verdict = diagnose(tmp_path, release=RELEASE, probe=False, socket_error=None)
    assert verdict.usable
    assert str(verdict).startswith("kernel SCTP is usable")


def test_kernel_built_without_sctp_from_boot_config(tmp_path: Path) -> None:
    root = tree(tmp_path, {f"boot/config-{RELEASE}": "# CONFIG_IP_SCTP is not set\n"})
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert not verdict.usable
    assert "built without SCTP" in verdict.reason
    assert "scripts/lab" in verdict.fix


def test_kernel_built_without_sctp_from_proc_config_gz(tmp_path: Path) -> None:
    root = tree(tmp_path, {"proc/config.gz": gzip.compress(b"CONFIG_INET=y\n")})
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert "built without SCTP" in verdict.reason


@pytest.mark.parametrize("line", ["blacklist sctp", "install sctp /bin/false"])
def test_blacklisted_module_names_the_file(tmp_path: Path, line: str) -> None:
    root = tree(
        tmp_path, {**CONFIG_M, MODULE: "", "etc/modprobe.d/sctp-blacklist.conf": f"{line}\n"}
    )
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert verdict.reason == (
        "the sctp module is blacklisted in /etc/modprobe.d/sctp-blacklist.conf"
    )
    assert "modprobe sctp" in verdict.fix


def test_commented_blacklist_line_does_not_count(tmp_path: Path) -> None:
    root = tree(tmp_path, {**CONFIG_M, MODULE: "", "etc/modprobe.d/x.conf": "# blacklist sctp\n"})
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert verdict.reason == "the sctp module is installed but not loaded"


def test_container_without_modules(tmp_path: Path) -> None:
    root = tree(tmp_path, {**CONFIG_M, ".dockerenv": ""})
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert "container" in verdict.reason
    assert "on the host" in verdict.fix


def test_no_modules_for_the_running_kernel(tmp_path: Path) -> None:
    root = tree(tmp_path, CONFIG_M)
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert verdict.reason == f"there are no kernel modules for the running kernel ({RELEASE})"


def test_module_not_installed(tmp_path: Path) -> None:
    root = tree(tmp_path, {**CONFIG_M, f"lib/modules/{RELEASE}/kernel/net/ipv4/udp.ko": ""})
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert verdict.reason == f"the sctp module is not installed for {RELEASE}"
    assert f"linux-modules-extra-{RELEASE}" in verdict.fix


def test_installed_but_not_loaded(tmp_path: Path) -> None:
    root = tree(tmp_path, {**CONFIG_M, MODULE + ".xz": ""})
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert verdict.reason == "the sctp module is installed but not loaded"
    assert verdict.fix.startswith("load it here: sudo modprobe sctp")


def test_other_socket_errors_are_reported_as_such(tmp_path: Path) -> None:
    denied = OSError(errno.EACCES, "Permission denied")
    verdict = diagnose(tmp_path, release=RELEASE, probe=False, socket_error=denied)
    assert "Permission denied" in verdict.reason


@pytest.mark.skipif(sctp_socket_error() is None, reason="this kernel has SCTP")
def test_sctpmh_check_on_this_machine_says_what_is_missing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sctpmh.cli", "check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("kernel SCTP is not usable: ")
    assert "what to do: " in result.stdout


def test_bad_arguments_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sctpmh.cli", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_the_way_out_names_the_udp_backend_and_the_lab_only_in_a_checkout(tmp_path: Path) -> None:
    # A pip install has no scripts/lab: pointing there would send the user nowhere.
    installed = way_out(tmp_path)
    assert "sctpmh's udp backend" in installed
    assert "--backend udp" in installed
    assert "scripts/lab" not in installed
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "lab").write_text("")
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "sctplab.py").write_text("")
    assert "scripts/lab run -- <command>" in way_out(tmp_path)


def test_the_fix_for_this_host_comes_first(tmp_path: Path) -> None:
    root = tree(tmp_path, {**CONFIG_M, MODULE: ""})
    verdict = diagnose(root, release=RELEASE, probe=False, socket_error=MISSING)
    assert verdict.fix.startswith("load it here: sudo modprobe sctp")
    assert verdict.fix.index("modprobe") < verdict.fix.index("udp backend")
