"""Network namespaces for kernel tests: a two-host, two-path topology that a test builds and
tears down itself, path cutting (netem loss or link down) and per-namespace sysctls.

Runs as root inside the lab VM (or on a host with kernel SCTP, as root). Addresses exist only
inside the namespaces the test creates.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()


def run(*command: str) -> str:
    """Run a command, raising with its stderr when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


@dataclass
class Namespace:
    """One network namespace: a "host" of the topology."""

    name: str

    def run(self, *command: str) -> str:
        """Run a command inside the namespace."""
        return run("ip", "netns", "exec", self.name, *command)

    def sysctl(self, key: str, value: int | str) -> None:
        """Set a sysctl of this namespace (net.sctp.* are per namespace)."""
        self.run("sysctl", "-q", "-w", f"{key}={value}")

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Switch the calling thread into the namespace; sockets created meanwhile live there.

        A socket stays in the namespace it was created in, so code may go on using it after
        the block ends (and from any thread).
        """
        with open("/proc/thread-self/ns/net", "rb") as original:
            with open(f"/run/netns/{self.name}", "rb") as target:
                _setns(target.fileno())
            try:
                yield
            finally:
                _setns(original.fileno())


@dataclass
class PathLink:
    """One path: a veth pair joining the two namespaces, with an address at each end."""

    index: int
    left_interface: str
    right_interface: str
    left_v4: str
    right_v4: str
    left_v6: str
    right_v6: str


@dataclass
class Topology:
    """Two namespaces ("left" and "right") joined by independent paths (veth pairs)."""

    left: Namespace
    right: Namespace
    paths: list[PathLink] = field(default_factory=list)

    def addresses(self, side: str, family: str = "v4") -> list[str]:
        """Every address of one side ("left" or "right"), in path order."""
        return [getattr(p, f"{side}_{family}") for p in self.paths]

    def cut(self, index: int, how: str = "loss") -> None:
        """Cut path ``index`` both ways: ``"loss"`` drops every packet (tc netem loss 100%),
        ``"down"`` takes the link down."""
        path = self.paths[index]
        if how == "loss":
            self.left.run(
                "tc", "qdisc", "add", "dev", path.left_interface, "root", "netem", "loss", "100%"
            )
            self.right.run(
                "tc", "qdisc", "add", "dev", path.right_interface, "root", "netem", "loss", "100%"
            )
        elif how == "down":
            self.left.run("ip", "link", "set", path.left_interface, "down")
        else:
            raise ValueError(f"unknown way to cut a path: {how!r}")

    def restore(self, index: int, how: str = "loss") -> None:
        """Undo :meth:`cut`."""
        path = self.paths[index]
        if how == "loss":
            self.left.run("tc", "qdisc", "del", "dev", path.left_interface, "root")
            self.right.run("tc", "qdisc", "del", "dev", path.right_interface, "root")
        else:
            self.left.run("ip", "link", "set", path.left_interface, "up")

    def sysctl_both(self, key: str, value: int | str) -> None:
        """Set a sysctl in both namespaces."""
        self.left.sysctl(key, value)
        self.right.sysctl(key, value)


@contextlib.contextmanager
def two_path_topology(path_count: int = 2) -> Iterator[Topology]:
    """Build the topology, yield it, and delete the namespaces (and so the links) after."""
    tag = f"{os.getpid()}-{next(_counter)}"
    left, right = Namespace(f"sctpmh-l{tag}"), Namespace(f"sctpmh-r{tag}")
    topology = Topology(left, right)
    run("ip", "netns", "add", left.name)
    try:
        run("ip", "netns", "add", right.name)
        for ns in (left, right):
            ns.run("ip", "link", "set", "lo", "up")
            # Addresses must be usable at once: no IPv6 duplicate address detection delay.
            ns.sysctl("net.ipv6.conf.all.accept_dad", 0)
            ns.sysctl("net.ipv6.conf.default.accept_dad", 0)
        for i in range(path_count):
            n = i + 1
            path = PathLink(
                index=i,
                left_interface=f"p{n}l",
                right_interface=f"p{n}r",
                left_v4=f"10.{100 + n}.0.1",
                right_v4=f"10.{100 + n}.0.2",
                left_v6=f"fd00:{100 + n}::1",
                right_v6=f"fd00:{100 + n}::2",
            )
            run(
                "ip",
                "link",
                "add",
                path.left_interface,
                "netns",
                left.name,
                "type",
                "veth",
                "peer",
                "name",
                path.right_interface,
                "netns",
                right.name,
            )
            for ns, interface, v4, v6 in (
                (left, path.left_interface, path.left_v4, path.left_v6),
                (right, path.right_interface, path.right_v4, path.right_v6),
            ):
                ns.run("ip", "addr", "add", f"{v4}/24", "dev", interface)
                ns.run("ip", "-6", "addr", "add", f"{v6}/64", "dev", interface, "nodad")
                ns.run("ip", "link", "set", interface, "up")
            topology.paths.append(path)
        yield topology
    finally:
        for ns in (right, left):
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)
