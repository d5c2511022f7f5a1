#!/usr/bin/env python3
"""The sctpmh lab: run a command under a real Linux kernel with SCTP, inside a qemu VM.

The machines this project is developed and tested on run a kernel built without SCTP. The lab
boots Debian's current kernel (resolved through the ``linux-image-amd64`` metapackage) under
qemu's software emulation, with the host's own ``/`` as a read-only 9p share under a tmpfs
overlay and the project directory shared writable at its own path, so the guest runs the host's
Python and virtualenv unchanged. See lab/README.md.

    python3 lab/sctplab.py run [--timeout S] -- COMMAND [ARG...]
    python3 lab/sctplab.py shell
    python3 lab/sctplab.py prepare

Standard library only: it must run before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = PROJECT_ROOT / ".lab"
GUEST_INIT = Path(__file__).resolve().parent / "guest-init.sh"

#: Modules the guest loads, with their dependencies resolved by modprobe on the host.
GUEST_MODULES = (
    "virtio_pci",
    "9pnet_virtio",
    "9p",
    "overlay",
    "crc32c_generic",
    "sctp",
    "veth",
    "dummy",
    "sch_netem",
)
#: Debian packages the host needs, by the command that tells whether each is there.
HOST_PACKAGES = {
    "qemu-system-x86_64": "qemu-system-x86",
    "depmod": "kmod",
    "modprobe": "kmod",
    # The guest runs the host's own ip and tc to build namespaces and cut paths.
    "ip": "iproute2",
    "tc": "iproute2",
}
BUSYBOX = Path("/bin/busybox")
#: Environment variables handed to the guest command: these names, and names with these prefixes.
ENV_NAMES = frozenset(
    {"PATH", "HOME", "LANG", "LC_ALL", "TERM", "CI", "VIRTUAL_ENV", "COLUMNS", "LINES"}
)
ENV_PREFIXES = ("PYTHON", "SCTPMH_", "PYTEST_", "HYPOTHESIS_")
BOOT_TIMEOUT = 180.0
DEFAULT_TIMEOUT = 3600.0


class LabError(Exception):
    """The lab cannot do what was asked; the message says why and what to do."""


def log(message: str) -> None:
    print(f"sctpmh-lab: {message}", file=sys.stderr, flush=True)


# --- host preparation -------------------------------------------------------------------------


def _run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def _is_static_elf(path: Path) -> bool:
    """True when ``path`` is an ELF executable without a program interpreter (PT_INTERP)."""
    data = path.read_bytes()[:4096]
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit ELF only
        return False
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    for i in range(phnum):
        entry = phoff + i * phentsize
        if int.from_bytes(data[entry : entry + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def _apt_install(packages: Sequence[str]) -> None:
    if shutil.which("apt-get") is None:
        raise LabError(
            f"missing host packages {', '.join(packages)} and no apt-get to install them; "
            "install qemu (x86_64 system emulator), a static busybox and kmod by hand"
        )
    if os.geteuid() != 0:
        raise LabError(f"missing host packages; run: sudo apt-get install {' '.join(packages)}")
    log(f"installing {', '.join(packages)} (once)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def ensure_host_tools() -> None:
    """Install the host packages the lab needs when any is missing."""
    missing = sorted({pkg for cmd, pkg in HOST_PACKAGES.items() if shutil.which(cmd) is None})
    if not BUSYBOX.exists() or not _is_static_elf(BUSYBOX):
        missing.append("busybox-static")
    if missing:
        _apt_install(missing)


def _current_kernel_package() -> str | None:
    """The package ``linux-image-amd64`` depends on now, e.g. ``linux-image-6.1.0-56-amd64``."""

    def lookup() -> str | None:
        try:
            out = _run(["apt-cache", "depends", "linux-image-amd64"]).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "Depends:" and parts[1].startswith("linux-image-"):
                return parts[1]
        return None

    found = lookup()
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
        found = lookup()
    return found


@dataclass(frozen=True)
class Kernel:
    """An unpacked Debian kernel in the cache."""

    version: str
    root: Path

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.version}"

    @property
    def modules(self) -> Path:
        return self.root / "lib" / "modules" / self.version


def ensure_kernel() -> Kernel:
    """Download and unpack the current Debian kernel once; later runs reuse the cache."""
    package = _current_kernel_package()
    cached = sorted(CACHE_DIR.glob("kernel-*/.complete"))
    if package is None:
        if not cached:
            raise LabError(
                "cannot resolve linux-image-amd64 (is this a Debian host with apt sources?) "
                "and no kernel is cached in .lab/"
            )
        root = cached[-1].parent
        log(f"apt cannot resolve linux-image-amd64; using cached {root.name}")
        return Kernel(root.name.removeprefix("kernel-"), root)
    version = package.removeprefix("linux-image-")
    root = CACHE_DIR / f"kernel-{version}"
    if (root / ".complete").exists():
        return Kernel(version, root)
    log(f"fetching {package} (once; cached in {root})")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as download:
        # apt's sandbox user cannot write into root-owned folders; let it.
        os.chmod(download, 0o777)
        _run(["apt-get", "download", package], cwd=download)
        (deb,) = Path(download).glob("*.deb")
        _run(["dpkg-deb", "-x", str(deb), str(root)])
    kernel = Kernel(version, root)
    if not kernel.vmlinuz.exists():
        raise LabError(f"{package} has no {kernel.vmlinuz.name}")
    _run(["depmod", "-b", str(root), version])
    (root / ".complete").write_text(package + "\n")
    return kernel


def _module_load_order(kernel: Kernel) -> list[tuple[Path, str]]:
    """Every module file to insmod, dependencies first, each once, with its arguments."""
    order: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for name in GUEST_MODULES:
        out = _run(
            ["modprobe", "-d", str(kernel.root), "-S", kernel.version, "--show-depends", name]
        ).stdout
        for line in out.splitlines():
            words = line.split()
            if len(words) < 2 or words[0] != "insmod":
                continue  # "builtin X" lines need nothing
            path = Path(words[1])
            if path not in seen:
                seen.add(path)
                order.append((path, " ".join(words[2:])))
    return order


def _cpio_newc(entries: Sequence[tuple[str, int, bytes]]) -> bytes:
    """Pack (name, mode, data) entries as a cpio "newc" archive, the initramfs format."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def ensure_initramfs(kernel: Kernel) -> Path:
    """Build (or reuse) the initramfs: static busybox, the init script and the modules."""
    init = GUEST_INIT.read_bytes()
    busybox = BUSYBOX.read_bytes()
    order = _module_load_order(kernel)
    digest = hashlib.sha256(init + busybox + repr(order).encode()).hexdigest()[:16]
    target = CACHE_DIR / f"initramfs-{kernel.version}-{digest}.cpio.gz"
    if target.exists():
        return target
    for stale in CACHE_DIR.glob(f"initramfs-{kernel.version}-*.cpio.gz"):
        stale.unlink()
    dir_mode, exe_mode, file_mode = 0o040755, 0o100755, 0o100644
    entries: list[tuple[str, int, bytes]] = [
        (d, dir_mode, b"") for d in ("bin", "dev", "proc", "sys", "modules", "tmp")
    ]
    entries += [("bin/busybox", exe_mode, busybox), ("init", exe_mode, init)]
    listing = []
    for path, args in order:
        rel = path.relative_to(kernel.modules)
        parts = rel.parts
        entries += [("modules/" + "/".join(parts[:i]), dir_mode, b"") for i in range(1, len(parts))]
        entries.append((f"modules/{rel}", file_mode, path.read_bytes()))
        listing.append(f"{rel} {args}".rstrip())
    entries.append(("modules.order", file_mode, ("\n".join(listing) + "\n").encode()))
    unique = list({name: (name, mode, data) for name, mode, data in entries}.values())
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(_cpio_newc(unique), compresslevel=6))
    tmp.rename(target)
    return target


def prepare() -> tuple[Kernel, Path]:
    """Everything a boot needs, installed and cached."""
    CACHE_DIR.mkdir(exist_ok=True)
    ensure_host_tools()
    kernel = ensure_kernel()
    return kernel, ensure_initramfs(kernel)


# --- running the VM ---------------------------------------------------------------------------


def host_terminal_size() -> os.terminal_size | None:
    """The size of the terminal this command runs in, or None when it is not a terminal."""
    for stream in (sys.stdin, sys.stdout):
        try:
            return os.get_terminal_size(stream.fileno())
        except (OSError, ValueError):
            continue
    return None


def sized_shell(command: Sequence[str], size: os.terminal_size | None) -> list[str]:
    """``command`` preceded by setting the guest's serial line to the host terminal's size:
    a serial console has no size of its own (``stty size`` says ``0 0``), so full-screen
    programs (``sctpmh paths``) would draw at 80 columns."""
    if size is None:
        return list(command)
    script = f'stty rows {size.lines} cols {size.columns} 2>/dev/null; exec "$@"'
    return ["sh", "-c", script, "sh", *command]


def _job_script(command: Sequence[str], cwd: Path, extra_env: dict[str, str]) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ENV_NAMES or key.startswith(ENV_PREFIXES)
    }
    env.update(extra_env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["SCTPMH_IN_LAB"] = "1"
    lines = ["# written by lab/sctplab.py"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items())]
    lines.append(f"cd {shlex.quote(str(cwd))} || exit 126")
    lines.append(shlex.join(command))
    return "\n".join(lines) + "\n"


def _qemu_command(
    kernel: Kernel, initramfs: Path, job: Path, mode: str, memory_mb: int, cpus: int
) -> list[str]:
    cmdline = " ".join(
        [
            "console=ttyS0",
            "quiet",
            "loglevel=1",
            "panic=-1",
            "rdinit=/init",
            f"sctpmh.project={PROJECT_ROOT}",
            f"sctpmh.job={job}",
            f"sctpmh.mode={mode}",
        ]
    )
    return [
        "qemu-system-x86_64",
        # KVM exists here but nested guests hang at boot (LAB.md): software emulation only.
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-smp",
        str(cpus),
        "-m",
        str(memory_mb),
        "-no-reboot",
        "-nic",
        "none",
        "-display",
        "none",
        "-monitor",
        "none",
        "-kernel",
        str(kernel.vmlinuz),
        "-initrd",
        str(initramfs),
        "-append",
        cmdline,
        "-virtfs",
        "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        "-virtfs",
        f"local,path={PROJECT_ROOT},mount_tag=project,security_model=none,multidevs=remap",
    ]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no console output)"
    return "\n".join(text.replace("\r", "").splitlines()[-lines:])


def run_in_vm(
    command: Sequence[str],
    *,
    timeout: float,
    boot_timeout: float = BOOT_TIMEOUT,
    memory_mb: int = 4096,
    cpus: int = 2,
    interactive: bool = False,
    cwd: Path | None = None,
    extra_env: dict[str, str] | None = None,
    keep: bool = False,
    initramfs_override: Path | None = None,
) -> int:
    """Boot the VM, run ``command`` in it and return its exit status.

    Output of the command is streamed to this process's stdout as it is written. Returns 124
    when ``timeout`` expires and raises LabError when the VM cannot boot.
    """
    kernel, initramfs = prepare()
    if initramfs_override is not None:
        initramfs = initramfs_override
    cwd = (cwd or Path.cwd()).resolve()
    if not cwd.is_relative_to(PROJECT_ROOT) and not interactive:
        log(f"note: {cwd} is outside the project; the guest sees it read-only")
    jobs = CACHE_DIR / "jobs"
    jobs.mkdir(exist_ok=True)
    job = Path(tempfile.mkdtemp(prefix="job-", dir=jobs))
    (job / "job.sh").write_text(_job_script(command, cwd, extra_env or {}))
    console = job / "console.log"
    output = job / "output"
    mode = "shell" if interactive else "run"
    qemu = _qemu_command(kernel, initramfs, job, mode, memory_mb, cpus)
    if interactive:
        qemu += ["-serial", "mon:stdio"]
        proc = subprocess.Popen(qemu)
    else:
        qemu += ["-serial", f"file:{console}"]
        proc = subprocess.Popen(
            qemu, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    started = time.monotonic()
    offset = 0
    status: int | None = None
    try:
        while True:
            if not interactive:
                offset = _pump(output, offset)
            if proc.poll() is not None:
                break
            elapsed = time.monotonic() - started
            if not (job / "booted").exists() and elapsed > boot_timeout:
                proc.kill()
                proc.wait()
                raise LabError(
                    f"the VM did not boot within {boot_timeout:.0f} s; console:\n{_tail(console)}"
                )
            if elapsed > timeout:
                proc.kill()
                proc.wait()
                log(f"time limit of {timeout:.0f} s reached; the VM was stopped")
                status = 124
                break
            time.sleep(0.2)
        if not interactive:
            _pump(output, offset)
        if status is None:
            status = _read_status(job, proc, console)
        return status
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if not keep:
            shutil.rmtree(job, ignore_errors=True)


def _pump(output: Path, offset: int) -> int:
    """Copy what the guest command wrote since ``offset`` to stdout; return the new offset."""
    try:
        with output.open("rb") as stream:
            stream.seek(offset)
            chunk = stream.read()
    except FileNotFoundError:
        return offset
    if chunk:
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return offset + len(chunk)


def _read_status(job: Path, proc: subprocess.Popen[bytes], console: Path) -> int:
    qemu_out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    try:
        return int((job / "exit").read_text().strip())
    except (OSError, ValueError):
        pass
    if not (job / "booted").exists():
        raise LabError(
            f"the VM stopped before running the command (qemu exit {proc.returncode}).\n"
            f"qemu said: {qemu_out.strip() or '(nothing)'}\nconsole:\n{_tail(console)}"
        )
    raise LabError(f"the guest did not report an exit status; console:\n{_tail(console)}")


# --- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sctplab", description="Run commands under a real Linux kernel with SCTP (qemu)."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command in the VM and return its exit status")
    run.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds (total)")
    run.add_argument("--memory", type=int, default=4096, help="guest memory in MiB")
    run.add_argument("--cpus", type=int, default=2, help="guest CPUs")
    run.add_argument("--keep", action="store_true", help="keep .lab/jobs/* for inspection")
    run.add_argument("--env", action="append", default=[], metavar="K=V", help="set in guest")
    run.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments")
    shell = sub.add_parser("shell", help="open an interactive shell in the VM")
    shell.add_argument("--timeout", type=float, default=4 * 3600.0)
    sub.add_parser("prepare", help="install host tools, fetch the kernel, build the initramfs")
    args = parser.parse_args(argv)
    try:
        if args.action == "prepare":
            kernel, initramfs = prepare()
            print(f"kernel {kernel.version}: {kernel.vmlinuz}\ninitramfs: {initramfs}")
            return 0
        if args.action == "shell":
            log("booting; type 'exit' (or Ctrl-A X) to leave")
            login = ["/bin/bash", "-l"] if Path("/bin/bash").exists() else ["/bin/sh"]
            # setsid -c makes the serial line the shell's controlling terminal.
            shell_cmd = ["setsid", "-c", *login] if shutil.which("setsid") else login
            return run_in_vm(
                sized_shell(shell_cmd, host_terminal_size()),
                timeout=args.timeout,
                interactive=True,
            )
        command = list(args.command)
        if command[:1] == ["--"]:
            command = command[1:]
        if not command:
            parser.error("run needs a command, e.g.: sctplab.py run -- python3 -V")
        env = dict(item.split("=", 1) for item in args.env)
        return run_in_vm(
            command,
            timeout=args.timeout,
            memory_mb=args.memory,
            cpus=args.cpus,
            extra_env=env,
            keep=args.keep,
        )
    except LabError as exc:
        log(f"error: {exc}")
        return 3
    except subprocess.CalledProcessError as exc:
        log(f"error: {shlex.join(exc.cmd)} failed ({exc.returncode}): {exc.stderr or ''}".strip())
        return 3
    except KeyboardInterrupt:
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
