"""Capture an interop test's traffic and check it with tshark.

An interop test runs its peers inside network namespaces it created; :func:`captured` records
every packet of one namespace (``dumpcap -i any`` run there) while the test runs, then has
tshark decode the capture with the SCTP-over-UDP ports decoded as SCTP (RFC 6951) and CRC32c
verification on (tshark leaves SCTP checksums unverified by default). The check fails, naming
the frame, on

- a UDP packet on one of those ports that does not decode as SCTP,
- a malformed packet or a bad checksum,
- a UDP packet on any other port, or plain SCTP (IP protocol 132) where only SCTP over UDP
  should flow,

and it fails when no SCTP packet was captured at all. ICMP errors quoting a packet are not
checked (what they quote is cut short by design, RFC 792).

Runs as root, on the host or in the lab VM (which sees the host's tshark).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lab.netlab import Namespace

__all__ = ["Capture", "CaptureError", "Frame", "Report", "captured", "check_file"]

#: tshark's sctp.checksum.status values (epan/proto.h: PROTO_CHECKSUM_E_BAD, _GOOD, ...).
_CHECKSUM_BAD = "0"
#: The SCTP chunk type names the report uses (RFC 9260 section 3.2, RFC 3758, RFC 4895...).
CHUNK_NAMES = {
    0: "DATA",
    1: "INIT",
    2: "INIT_ACK",
    3: "SACK",
    4: "HEARTBEAT",
    5: "HEARTBEAT_ACK",
    6: "ABORT",
    7: "SHUTDOWN",
    8: "SHUTDOWN_ACK",
    9: "ERROR",
    10: "COOKIE_ECHO",
    11: "COOKIE_ACK",
    14: "SHUTDOWN_COMPLETE",
    15: "AUTH",
    64: "I_DATA",
    128: "ASCONF_ACK",
    130: "RE_CONFIG",
    132: "PAD",
    192: "FORWARD_TSN",
    193: "ASCONF",
    194: "I_FORWARD_TSN",
}
_FIELDS = (
    "frame.number",
    "frame.protocols",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "sctp.chunk_type",
    "sctp.checksum.status",
    "_ws.malformed",
    "_ws.col.Info",
)
#: Where the capture's marker datagrams go (the discard port; the checker ignores them).
MARKER_PORT = 9
_MARKER = re.compile(rb"sctpmh-capture-marker-\d{6}")
_START_DEADLINE = 120.0  # dumpcap starting under the lab VM's software emulation is slow
_STOP_DEADLINE = 60.0


class CaptureError(AssertionError):
    """The capture shows traffic that is not clean SCTP over UDP (or no traffic at all)."""


@dataclass(frozen=True)
class Frame:
    """One captured SCTP packet, as tshark decoded it."""

    number: int
    source: str
    destination: str
    udp_ports: tuple[int, int] | None
    """(source, destination) UDP ports, or None for SCTP straight over IP."""
    chunks: tuple[str, ...]
    """Chunk type names in packet order (``CHUNK_NAMES``; unknown ones as numbers)."""
    info: str


@dataclass
class Report:
    """What a clean capture held: its SCTP packets, in capture order."""

    frames: list[Frame] = field(default_factory=list)
    icmp_frames: int = 0

    def chunk_counts(self) -> Counter[str]:
        """How many chunks of each type were captured."""
        return Counter(chunk for frame in self.frames for chunk in frame.chunks)

    def with_chunk(self, chunk: str) -> list[Frame]:
        """The frames that carry a chunk of type ``chunk`` (a ``CHUNK_NAMES`` value)."""
        return [frame for frame in self.frames if chunk in frame.chunks]

    def paths(self) -> set[tuple[str, str]]:
        """Every (source, destination) address pair an SCTP packet used."""
        return {(frame.source, frame.destination) for frame in self.frames}


def _tshark_rows(pcap: Path, ports: Iterable[int]) -> list[dict[str, str]]:
    command = ["tshark", "-r", str(pcap), "-n", "-o", "sctp.checksum:CRC 32c"]
    # SCTP itself is checked, not what the test's messages carry: with the PPIDs tests use
    # (7 is H.248) tshark would call a payload of b"hi" a malformed MEGACO message.
    command += ["-o", "sctp.ulp_dissection:FALSE", "-o", "sctp.reassembly:FALSE"]
    for port in sorted(set(ports)):
        command += ["-d", f"udp.port=={port},sctp"]
    command += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for name in _FIELDS:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CaptureError(f"tshark could not read {pcap}: {result.stderr.strip()}")
    return [
        dict(zip(_FIELDS, line.split("\t"), strict=False))
        for line in result.stdout.splitlines()
        if line
    ]


def _first_int(value: str) -> int:
    return int(value.split(",")[0])


def _chunk_name(value: str) -> str:
    number = int(value, 0)
    return CHUNK_NAMES.get(number, str(number))


def check_file(pcap: Path, ports: Iterable[int]) -> Report:
    """Check one capture file (see the module docstring); raise :class:`CaptureError` naming
    every offending frame, or return the report of a clean capture."""
    ports = set(ports)
    report = Report()
    problems: list[str] = []
    for row in _tshark_rows(pcap, ports):
        number = int(row["frame.number"])
        protocols = row.get("frame.protocols", "").split(":")
        described = f"frame {number} ({row.get('_ws.col.Info') or ':'.join(protocols)})"
        if "icmp" in protocols or "icmpv6" in protocols:
            if "udp" in protocols or "sctp" in protocols:
                report.icmp_frames += 1
            continue
        if row.get("_ws.malformed"):
            problems.append(f"{described}: malformed")
            continue
        udp_ports: tuple[int, int] | None = None
        if "udp" in protocols:
            udp_ports = (_first_int(row["udp.srcport"]), _first_int(row["udp.dstport"]))
            if udp_ports[1] == MARKER_PORT:
                continue  # the capture's own marker
            if not ports & set(udp_ports):
                problems.append(f"{described}: UDP outside the SCTP-over-UDP ports {sorted(ports)}")
                continue
            if "sctp" not in protocols:
                problems.append(f"{described}: UDP {udp_ports} does not decode as SCTP")
                continue
        elif "sctp" in protocols:
            problems.append(f"{described}: SCTP straight over IP, not over UDP")
            continue
        else:
            continue  # neighbour discovery, IGMP and the like: not the test's traffic
        if _CHECKSUM_BAD in row.get("sctp.checksum.status", "").split(","):
            problems.append(f"{described}: bad SCTP checksum (CRC32c)")
            continue
        report.frames.append(
            Frame(
                number=number,
                source=(row.get("ip.src") or row.get("ipv6.src", "")).split(",")[0],
                destination=(row.get("ip.dst") or row.get("ipv6.dst", "")).split(",")[0],
                udp_ports=udp_ports,
                chunks=tuple(
                    _chunk_name(c) for c in row.get("sctp.chunk_type", "").split(",") if c
                ),
                info=row.get("_ws.col.Info", ""),
            )
        )
    if problems:
        raise CaptureError(f"{pcap}: " + "; ".join(problems))
    if not report.frames:
        raise CaptureError(f"{pcap}: no SCTP packet was captured")
    return report


class Capture:
    """``dumpcap -i any`` inside one namespace, its output copied into a pcapng file.

    dumpcap writes to a pipe (where it flushes every packet), so that a marker datagram sent
    through the namespace's loopback shows when the capture runs, and when everything sent
    before the marker is in the file: no guessing how long the kernel's capture ring holds
    packets back.
    """

    def __init__(self, namespace: Namespace, path: Path) -> None:
        self.namespace = namespace
        self.path = path
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._seen: set[bytes] = set()
        self._seen_changed = threading.Condition()
        self._markers = itertools.count()
        self._stderr = b""

    def start(self) -> None:
        """Start capturing; return once a first marker has been captured."""
        for program in ("dumpcap", "tshark"):
            if shutil.which(program) is None:
                raise CaptureError(f"{program} is not installed (scripts/hostdeps installs it)")
        self._process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace.name, "dumpcap", "-q", "-i", "any", "-w", "-"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._reader = threading.Thread(target=self._copy, name="capture", daemon=True)
        self._reader.start()
        if not self._mark(_START_DEADLINE):
            self.stop()
            raise CaptureError(f"dumpcap did not start: {self._stderr.decode().strip()}")

    def _copy(self) -> None:
        """Copy dumpcap's output into the file, watching for markers."""
        process = self._process
        assert process is not None
        assert process.stdout is not None
        tail = b""
        with open(self.path, "wb") as output:
            while chunk := os.read(process.stdout.fileno(), 1 << 16):
                output.write(chunk)
                window, tail = tail + chunk, (tail + chunk)[-64:]
                found = set(_MARKER.findall(window))
                if found - self._seen:
                    with self._seen_changed:
                        self._seen |= found
                        self._seen_changed.notify_all()
        if process.stderr is not None:
            self._stderr = process.stderr.read()
        with self._seen_changed:
            self._seen_changed.notify_all()

    def _mark(self, deadline: float) -> bool:
        """Send a marker datagram over the namespace's loopback (again every half second)
        until it has been captured; False if it was not within ``deadline`` seconds."""
        marker = b"sctpmh-capture-marker-%06d" % next(self._markers)
        with self.namespace.entered():
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        give_up = time.monotonic() + deadline
        with sender, self._seen_changed:
            while marker not in self._seen:
                process = self._process
                if process is None or process.poll() is not None or time.monotonic() > give_up:
                    return False
                sender.sendto(marker, ("127.0.0.1", MARKER_PORT))
                self._seen_changed.wait(0.5)
        return True

    def stop(self) -> None:
        """Stop capturing once everything sent so far is in the file."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self._mark(_STOP_DEADLINE)
            # dumpcap writes out what it holds and ends on SIGTERM.
            os.kill(process.pid, signal.SIGTERM)
        self._process = None
        try:
            process.wait(_STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join(_STOP_DEADLINE)

    def check(self, ports: Iterable[int]) -> Report:
        """:func:`check_file` on what was captured."""
        return check_file(self.path, ports)


@contextlib.contextmanager
def captured(namespace: Namespace, ports: Iterable[int]) -> Iterator[list[Report]]:
    """Capture ``namespace``'s traffic for the block, then check it (see the module
    docstring); the yielded list holds the report once the block has ended cleanly.

    A block that raises keeps its own exception (the capture is not checked then); the file is
    kept under $SCTPMH_CAPTURE_DIR when that is set, for a look with Wireshark.
    """
    keep = os.environ.get("SCTPMH_CAPTURE_DIR")
    with tempfile.TemporaryDirectory(prefix="sctpmh-capture-") as scratch:
        capture = Capture(namespace, Path(scratch) / "capture.pcapng")
        reports: list[Report] = []
        capture.start()
        try:
            yield reports
        finally:
            capture.stop()
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(capture.path, Path(keep) / f"{namespace.name}-{time.time_ns()}.pcapng")
        reports.append(capture.check(ports))
