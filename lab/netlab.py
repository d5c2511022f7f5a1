"""Network namespaces for the kernel tests, the udp backend's multi-homing tests and the
failover demo: a two-host, two-path topology that a test builds and tears down itself, path
faults and per-namespace sysctls.

Runs as root, inside the lab VM or on a host (namespaces and veth pairs need no kernel SCTP).
Addresses exist only inside the namespaces the test creates.

Faults, and where each works:

- ``cut(i, "down")``: the link of path ``i`` down (``ip link set DEV down``), everywhere.
- ``cut(i, "loss")``: tc netem ``loss 100%`` at both ends; in the lab VM only (this host's
  kernel has no ``sch_netem``).
- ``cut(i, "drop")`` and ``set_loss(percent, i)``: nftables rules in an *input* hook of both
  namespaces (a table ``inet sctpmh``, one base chain per fault) that drop all or a random
  share of the UDP datagrams arriving on the path; on a host with ``nft`` (``scripts/hostdeps``
  installs it). An input hook loses packets silently, as a network does; a drop in an output
  hook would make the sender's ``sendto`` fail with EPERM instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_CLONE_NEWNET = 0x40000000
#: The nftables table (family inet) that holds the faults a test sets in a namespace.
NFT_TABLE = "sctpmh"
#: SCTP over UDP's port (RFC 6951 section 5.1): what the nftables faults drop by default.
SCTP_OVER_UDP_PORT = 9899
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()


def run(*command: str) -> str:
    """Run a command, raising with its stderr when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def _batch(namespace: str | None, commands: list[str]) -> None:
    """Run ``ip`` commands as one batch (in ``namespace`` when given)."""
    where = ["-n", namespace] if namespace else []
    result = subprocess.run(
        ["ip", *where, "-batch", "-"],
        input="\n".join(commands) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ip -batch failed: {result.stderr.strip()}")


def _together(commands: Iterable[list[str]]) -> None:
    """Run commands side by side; raise with the stderr of the first that fails."""
    started = [
        (
            command,
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
        )
        for command in commands
    ]
    failures = []
    for command, process in started:
        _, stderr = process.communicate()
        if process.returncode != 0:
            failures.append(f"{' '.join(command)} failed: {stderr.strip()}")
    if failures:
        raise RuntimeError("; ".join(failures))


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

    def ip(self, *arguments: str) -> str:
        """Run ``ip`` on this namespace (``ip -n``: no extra process)."""
        return run("ip", "-n", self.name, *arguments)

    def tc(self, *arguments: str) -> str:
        """Run ``tc`` on this namespace."""
        return run("tc", "-n", self.name, *arguments)

    def packets(self, interface: str) -> tuple[int, int]:
        """``(received, sent)``: the packet counters of ``interface`` (read through netlink,
        from the namespace itself)."""
        (link,) = json.loads(self.ip("-j", "-s", "link", "show", "dev", interface))
        counters = link["stats64"]
        return int(counters["rx"]["packets"]), int(counters["tx"]["packets"])

    def sysctl(self, key: str, value: int | str) -> None:
        """Set a sysctl of this namespace (net.sctp.* are per namespace). Written from a
        thread inside the namespace: /proc/sys/net shows the writer's namespace."""
        with self.entered(), open("/proc/sys/" + key.replace(".", "/"), "w") as knob:
            knob.write(f"{value}\n")

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
        """Cut path ``index`` both ways: ``"loss"`` drops every packet (tc netem loss 100%;
        the lab VM only), ``"down"`` takes the link down (anywhere), ``"drop"`` drops every
        UDP datagram to port 9899 as it arrives at either end (nftables; a host with nft)."""
        path = self.paths[index]
        if how == "drop":
            self._nft_fault(f"cut{index}", 100, index, SCTP_OVER_UDP_PORT)
        elif how == "loss":
            # Both directions at once: one after the other, the path would stay cut one way
            # only for as long as a process start takes (up to a second in the lab VM).
            _together(
                [
                    "tc",
                    "-n",
                    ns.name,
                    "qdisc",
                    "add",
                    "dev",
                    interface,
                    "root",
                    "netem",
                    "loss",
                    "100%",
                ]
                for ns, interface in (
                    (self.left, path.left_interface),
                    (self.right, path.right_interface),
                )
            )
        elif how == "down":
            self.left.ip("link", "set", path.left_interface, "down")
        else:
            raise ValueError(f"unknown way to cut a path: {how!r}")

    def restore(self, index: int, how: str = "loss") -> None:
        """Undo :meth:`cut`."""
        path = self.paths[index]
        if how == "drop":
            self._nft_fault(f"cut{index}", 0, index, SCTP_OVER_UDP_PORT)
        elif how == "loss":
            _together(
                ["tc", "-n", ns.name, "qdisc", "del", "dev", interface, "root"]
                for ns, interface in (
                    (self.left, path.left_interface),
                    (self.right, path.right_interface),
                )
            )
        elif how == "down":
            self.left.ip("link", "set", path.left_interface, "up")
        else:
            raise ValueError(f"unknown way to cut a path: {how!r}")

    def set_loss(
        self, percent: int, index: int | None = None, *, port: int = SCTP_OVER_UDP_PORT
    ) -> None:
        """Drop ``percent`` % of the UDP datagrams to ``port`` at random, in both directions,
        on path ``index`` or (``None``) on every path; ``percent=0`` removes that loss again.

        nftables in both namespaces' input hooks (``numgen random mod 100 < percent drop``,
        matching the path's interface by ``iifname``); needs ``nft``, works on this host.
        Losses on one path and on all paths are separate and add up."""
        if not 0 <= percent <= 100:
            raise ValueError(f"a loss is a percentage in 0..100, not {percent!r}")
        name = "loss_all" if index is None else f"loss{index}"
        self._nft_fault(name, percent, index, port)

    def _nft_fault(self, chain: str, percent: int, index: int | None, port: int) -> None:
        """Put the fault ``chain`` (its own base chain in the input hook, so that each fault
        comes and goes alone) in both namespaces, or take it away when ``percent`` is 0."""
        table = f"inet {NFT_TABLE}"
        hook = f"add table {table}; add chain {table} {chain} "
        hook += "{ type filter hook input priority 0; }; "
        sides = ((self.left, "left_interface"), (self.right, "right_interface"))
        commands = []
        for ns, side in sides:
            if percent == 0:
                # Added first so that the delete never fails for a chain that is not there;
                # one nft command line is one transaction.
                script = hook + f"delete chain {table} {chain}"
            else:
                match = "" if index is None else f'iifname "{getattr(self.paths[index], side)}" '
                share = "" if percent == 100 else f"numgen random mod 100 < {percent} "
                script = hook + f"flush chain {table} {chain}; "
                script += f"add rule {table} {chain} {match}udp dport {port} {share}counter drop"
            commands.append(["ip", "netns", "exec", ns.name, "nft", script])
        _together(commands)

    def dropped(self) -> int:
        """How many datagrams the nftables faults in place now have dropped, both
        namespaces together (a fault's count goes with it when it is removed)."""
        total = 0
        for ns in (self.left, self.right):
            try:
                listing = json.loads(ns.run("nft", "-j", "list", "table", "inet", NFT_TABLE))
            except RuntimeError as exc:
                if "No such file or directory" in str(exc):
                    continue  # no fault was ever set here: no table
                raise
            for item in listing["nftables"]:
                for expression in item.get("rule", {}).get("expr", []):
                    if "counter" in expression:
                        total += int(expression["counter"]["packets"])
        return total

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
        # A handful of processes in all (one ip -batch per namespace): every process start is
        # slow under the lab's software emulation.
        links = []
        setup: dict[str, list[str]] = {
            left.name: ["link set lo up"],
            right.name: ["link set lo up"],
        }
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
            links.append(
                f"link add {path.left_interface} netns {left.name} type veth "
                f"peer name {path.right_interface} netns {right.name}"
            )
            for ns, interface, v4, v6 in (
                (left, path.left_interface, path.left_v4, path.left_v6),
                (right, path.right_interface, path.right_v4, path.right_v6),
            ):
                # nodad: IPv6 addresses usable at once, without duplicate address detection.
                setup[ns.name] += [
                    f"addr add {v4}/24 dev {interface}",
                    f"addr add {v6}/64 dev {interface} nodad",
                    f"link set {interface} up",
                ]
            topology.paths.append(path)
        _batch(None, links)
        for name, commands in setup.items():
            _batch(name, commands)
        yield topology
    finally:
        for ns in (right, left):
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)
