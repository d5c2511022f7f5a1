"""Why kernel SCTP is, or is not, usable on this machine, and what to do about it.

Used by ``sctpmh check``. Every file it reads is looked up under ``root`` so that the rules
can be exercised on a made-up tree.
"""

from __future__ import annotations

import errno
import gzip
import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Diagnosis", "diagnose", "sctp_socket_error", "way_out"]

UDP_HINT = (
    "or, with no kernel SCTP at all, use sctpmh's udp backend (SCTP over UDP, RFC 6951: "
    "backend='udp', or sctpmh --backend udp; the peer must speak SCTP over UDP too)"
)
LAB_HINT = (
    "to run the kernel backend on this machine anyway, this source checkout's lab VM boots "
    "a Debian kernel with SCTP under qemu: scripts/lab run -- <command>"
)


def way_out(checkout: Path | None = None) -> str:
    """What works where no fix for kernel SCTP applies: the udp backend, and, in a source
    checkout of sctpmh (a pip install has no lab), the lab VM."""
    checkout = checkout or Path(__file__).resolve().parents[2]
    lab = (checkout / "scripts" / "lab").is_file() and (checkout / "lab" / "sctplab.py").is_file()
    return f"{UDP_HINT}; {LAB_HINT}" if lab else UDP_HINT


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The verdict: whether SCTP sockets work, the reason, and the fix."""

    usable: bool
    reason: str
    fix: str

    def __str__(self) -> str:
        if self.usable:
            return f"kernel SCTP is usable: {self.reason}"
        return f"kernel SCTP is not usable: {self.reason}\nwhat to do: {self.fix}"


def sctp_socket_error() -> OSError | None:
    """What creating an SCTP socket raises here, or None when it works."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP).close()
    except OSError as exc:
        return exc
    return None


def diagnose(
    root: Path = Path("/"),
    *,
    release: str | None = None,
    probe: bool = True,
    socket_error: OSError | None = None,
) -> Diagnosis:
    """Look at this machine (or the tree under ``root``) and say what stops SCTP.

    With ``probe`` an SCTP socket is really created; without, ``socket_error`` stands for
    what creating one raised (None: it worked).
    """
    error = sctp_socket_error() if probe else socket_error
    release = release or platform.release()
    if error is None:
        return Diagnosis(True, f"SCTP sockets open on Linux {release}", "nothing")
    verdict = _what_stops(error, root, release)
    # The fix for this host first; then what works without one.
    return Diagnosis(False, verdict.reason, f"{verdict.fix}; {way_out()}")


def _what_stops(error: OSError, root: Path, release: str) -> Diagnosis:
    if platform.system() != "Linux":
        return Diagnosis(
            False,
            f"{platform.system()} has no Linux kernel SCTP",
            "the kernel backend needs Linux",
        )
    if isinstance(error, OSError) and error.errno not in (
        errno.EPROTONOSUPPORT,
        errno.ESOCKTNOSUPPORT,
        errno.EAFNOSUPPORT,
    ):
        return Diagnosis(
            False,
            f"creating an SCTP socket failed: {os.strerror(error.errno or 0)}",
            "check the process's permissions and seccomp/LSM policy",
        )
    built = _kernel_config(root, release)
    if built == "n":
        return Diagnosis(
            False,
            f"the running kernel ({release}) is built without SCTP (CONFIG_IP_SCTP is not set)",
            "boot a kernel built with CONFIG_IP_SCTP (most distribution kernels have it as a "
            "module)",
        )
    blacklisted = _blacklisting(root)
    if blacklisted is not None:
        return Diagnosis(
            False,
            f"the sctp module is blacklisted in {blacklisted}",
            f"remove the sctp line from {blacklisted}, then run: sudo modprobe sctp",
        )
    in_container = _in_container(root)
    modules = root / "lib" / "modules" / release
    if not modules.is_dir():
        if in_container:
            return Diagnosis(
                False,
                "this is a container, which shares the host's kernel and cannot load modules",
                "load the module on the host (sudo modprobe sctp), then restart the container",
            )
        return Diagnosis(
            False,
            f"there are no kernel modules for the running kernel ({release})",
            "install the modules package of the running kernel, then: sudo modprobe sctp",
        )
    if not any(modules.rglob("sctp.ko*")):
        return Diagnosis(
            False,
            f"the sctp module is not installed for {release}",
            "install the kernel's extra modules (Ubuntu: linux-modules-extra-"
            f"{release}; Fedora/RHEL: kernel-modules-extra), then: sudo modprobe sctp",
        )
    where = "on the host (this is a container)" if in_container else "here"
    return Diagnosis(
        False,
        "the sctp module is installed but not loaded",
        f"load it {where}: sudo modprobe sctp (and add 'sctp' to /etc/modules-load.d/ to keep "
        "it across reboots)",
    )


def _kernel_config(root: Path, release: str) -> str | None:
    """'y', 'm' or 'n' for CONFIG_IP_SCTP when the kernel's config can be found."""
    for candidate in (root / "boot" / f"config-{release}", root / "proc" / "config.gz"):
        try:
            raw = candidate.read_bytes()
            text = (gzip.decompress(raw) if candidate.suffix == ".gz" else raw).decode(
                errors="replace"
            )
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        for line in text.splitlines():
            if line.startswith("CONFIG_IP_SCTP="):
                return line.split("=", 1)[1].strip()
        return "n"  # the option is absent from a config that exists
    return None


def _blacklisting(root: Path) -> Path | None:
    for directory in ("etc/modprobe.d", "usr/lib/modprobe.d", "lib/modprobe.d"):
        try:
            files = sorted((root / directory).glob("*.conf"))
        except OSError:
            continue
        for path in files:
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                words = line.split("#", 1)[0].split()
                if words[:2] == ["blacklist", "sctp"] or words[:2] == ["install", "sctp"]:
                    return Path("/") / path.relative_to(root)
    return None


def _in_container(root: Path) -> bool:
    if (root / ".dockerenv").exists() or (root / "run" / ".containerenv").exists():
        return True
    try:
        cgroups = (root / "proc" / "1" / "cgroup").read_text(errors="replace")
    except OSError:
        return False
    return any(word in cgroups for word in ("docker", "kubepods", "containerd", "libpod"))
