"""The key-value example (examples/kv_server.py, kv_client.py, kvproto.py) on loopback: the
commands, a store shared by associations, a pipeline of many outstanding requests over every
stream, a multi-homed client, bad requests answered with ERROR, bad arguments and Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sctpmh

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# examples/ is not a package; the scripts import kvproto as a top-level module (Python puts
# the script's directory on sys.path), and so does this test, to speak the protocol itself.
sys.path.insert(0, str(EXAMPLES))

import kv_client  # noqa: E402
import kvproto  # noqa: E402

pytestmark = pytest.mark.kernel

PORT = "4466"  # test_examples.py's echo server has 4455

UP = re.compile(r"association (\d+) up from (.+)")
DOWN = re.compile(
    r"association (\d+) down \((closed|aborted: .+)\) after (\d+) requests, (\d+) rejected"
)


def python(script: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / script), *args]


class KvServer:
    """examples/kv_server.py running in a subprocess; its output read line by line."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            python("kv_server.py", "127.0.0.1;127.0.0.2", PORT),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.line() == f"kv server on 127.0.0.1:{PORT}, 127.0.0.2:{PORT}"

    def line(self) -> str:
        """The next line the server prints (blocks until it does)."""
        assert self.process.stdout is not None
        return self.process.stdout.readline().rstrip("\n")

    def interrupt(self) -> list[str]:
        """Ctrl-C: the server must end cleanly; the lines it printed from here on."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err
        assert "Traceback" not in err
        assert err == ""
        return out.splitlines()


@pytest.fixture
def server() -> Iterator[KvServer]:
    kv = KvServer()
    try:
        yield kv
    finally:
        if kv.process.poll() is None:
            rest = kv.interrupt()
            # Whatever is left is the end of associations, each one once.
            assert all(DOWN.fullmatch(line) for line in rest), rest


def client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        python("kv_client.py", *args), capture_output=True, text=True, timeout=300, check=False
    )


def association_line(local: str, port: str) -> str:
    """The regex of the client's first line: its local addresses (one port) and the server's."""
    return (
        rf"association \d+: local {local} -> peer 127\.0\.0\.1:{port}, 127\.0\.0\.2:{port}, "
        r"16 streams"
    )


def test_commands_share_one_store_across_associations(server: KvServer) -> None:
    first = client(
        "-r", "127.0.0.1;127.0.0.2", "-p", PORT, "put", "colour", "blue", "get", "colour"
    )
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert re.fullmatch(association_line(r"127\.0\.0\.1:\d+", PORT), lines[0]), lines[0]
    assert lines[1:] == ["put colour: ok", "get colour: blue"]
    assert first.stderr == ""
    up = UP.fullmatch(server.line())
    assert up is not None
    down = DOWN.fullmatch(server.line())
    assert down is not None
    assert down.groups() == (up.group(1), "closed", "2", "0")

    # A second association (a multi-homed client this time) sees what the first stored.
    # A missing key is reported, and makes the exit status 1.
    second = client(
        "-l",
        "127.0.0.3;127.0.0.4",
        "-r",
        "127.0.0.1, 127.0.0.2",
        "-p",
        PORT,
        "get",
        "colour",
        "del",
        "colour",
        "get",
        "colour",
        "del",
        "colour",
        "put",
        "spaced key",
        "a value, with spaces",
        "get",
        "spaced key",
    )
    assert second.returncode == 1, second.stderr
    lines = second.stdout.splitlines()
    header = re.fullmatch(association_line(r"127\.0\.0\.3:(\d+), 127\.0\.0\.4:\1", PORT), lines[0])
    assert header is not None, lines[0]
    assert lines[1:] == [
        "get colour: blue",
        "del colour: ok",
        "get colour: not found",
        "del colour: not found",
        "put spaced key: ok",
        "get spaced key: a value, with spaces",
    ]
    # The server saw one association from both of the client's addresses.
    up = UP.fullmatch(server.line())
    assert up is not None
    client_port = header.group(1)
    assert sorted(up.group(2).split(", ")) == [
        f"127.0.0.3:{client_port}",
        f"127.0.0.4:{client_port}",
    ]
    down = DOWN.fullmatch(server.line())
    assert down is not None
    assert down.groups() == (up.group(1), "closed", "6", "0")


def test_pipeline_of_many_outstanding_requests_over_every_stream(server: KvServer) -> None:
    result = client("-r", "127.0.0.1;127.0.0.2", "-p", PORT, "pipeline", "200")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines
    summary = re.fullmatch(
        r"pipeline 200: 600 requests over 16 streams, at most (\d+) outstanding, "
        r"every answer matched, \d+\.\d\d s",
        lines[1],
    )
    assert summary is not None, lines[1]
    # Every PUT and GET was sent before the first answer was read.
    assert int(summary.group(1)) == 400
    assert server.line().startswith("association ")
    down = DOWN.fullmatch(server.line())
    assert down is not None
    assert down.group(2, 3, 4) == ("closed", "600", "0")
    assert server.interrupt() == []


def test_client_ctrl_c_ends_cleanly_and_aborts_its_association(server: KvServer) -> None:
    process = subprocess.Popen(
        python("kv_client.py", "-r", "127.0.0.1", "-p", PORT, "pipeline", "5000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("association ")
    assert UP.fullmatch(server.line())
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert out == ""
    down = DOWN.fullmatch(server.line())
    assert down is not None
    assert down.group(2).startswith("aborted: ")


async def test_server_answers_bad_requests_with_error_and_keeps_serving(server: KvServer) -> None:
    get, put = kvproto.MessageType.GET, kvproto.MessageType.PUT
    async with sctpmh.open_association(["127.0.0.1", "127.0.0.2"], int(PORT)) as association:
        bad = [
            (3, 46, b"\x00\x00\x00\x05not ours"),  # a PPID that is no request type
            (4, get, b"\x00\x00"),  # too short to hold an id
            (5, get, b"\x00\x00\x00\x07\x00\x01kX"),  # a byte after the key
            (6, put, b"\x00\x00\x00\x08\x00\x00v"),  # an empty key
        ]
        for stream, ppid, payload in bad:
            await association.send(payload, stream=stream, ppid=ppid)
        answers = {}
        for _ in bad:
            message = await association.recv()
            answers[message.stream] = kvproto.decode_response(message.ppid, message.data)
        codes = kvproto.ErrorCode
        assert answers == {
            3: kvproto.Error(5, codes.UNKNOWN_TYPE, "PPID 0x2e is not a request type"),
            4: kvproto.Error(
                0, codes.BAD_MESSAGE, "GET of 2 bytes is too short to hold a request id"
            ),
            5: kvproto.Error(7, codes.BAD_MESSAGE, "GET has 1 bytes after its key"),
            6: kvproto.Error(8, codes.BAD_MESSAGE, "PUT has an empty key"),
        }
        # The association still works.
        ppid, payload = kvproto.encode(kvproto.Put(9, b"k", b"v"))
        await association.send(payload, stream=kvproto.stream_for(b"k", 16), ppid=ppid)
        reply = await association.recv()
        assert reply.stream == kvproto.stream_for(b"k", 16)
        assert kvproto.decode_response(reply.ppid, reply.data) == kvproto.Ok(9)
    assert UP.fullmatch(server.line())
    down = DOWN.fullmatch(server.line())
    assert down is not None
    assert down.group(2, 3, 4) == ("closed", "1", "4")


class WatchedClient(kv_client.KvClientProtocol):
    """The example's client protocol, noting how full the write buffer was at each pause."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer_at_pause: list[int] = []
        self.resumed = 0

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        super().connection_made(transport)
        self.transport = transport

    def pause_writing(self) -> None:
        self.buffer_at_pause.append(self.transport.get_write_buffer_size())
        super().pause_writing()

    def resume_writing(self) -> None:
        self.resumed += 1
        super().resume_writing()


async def test_client_holds_requests_back_while_the_transport_is_paused(server: KvServer) -> None:
    transport, client = await sctpmh.open_protocol_association(
        WatchedClient, ["127.0.0.1", "127.0.0.2"], int(PORT)
    )
    high = 2048
    transport.set_write_buffer_limits(high=high)
    count = 3000
    keys = [b"flow-%d" % i for i in range(count)]
    calls = [call for key in keys for call in (client.put(key, key * 3), client.get(key))]
    answers = await kv_client.all_answers(calls)
    # The kernel's send buffer filled (SCTP charges it per chunk), sctpmh queued the rest and
    # paused the protocol; the protocol then stopped sending, so the transport's buffer never
    # went past the high-water mark by more than the one message that crossed it.
    assert client.buffer_at_pause, "6,000 requests at once never filled the write buffer"
    largest = max(len(kvproto.encode(kvproto.Put(1, key, key * 3))[1]) for key in keys)
    assert max(client.buffer_at_pause) <= high + largest
    assert client.resumed == len(client.buffer_at_pause)
    assert answers[0::2] == [kvproto.Ok(answer.request_id) for answer in answers[0::2]]
    assert answers[1::2] == [
        kvproto.Value(answer.request_id, key * 3)
        for answer, key in zip(answers[1::2], keys, strict=True)
    ]
    assert client.most_outstanding == 2 * count
    client.close()
    await client.wait_closed()
    assert UP.fullmatch(server.line())
    assert DOWN.fullmatch(server.line())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-r", "127.0.0.1", "frobnicate"], "unknown command 'frobnicate'"),
        (["-r", "127.0.0.1", "get", "k", "put", "k"], "put needs KEY VALUE"),
        (["-r", "127.0.0.1", "pipeline", "0"], "pipeline needs a count from 1 to 100000"),
        (["-r", "127.0.0.1", "get", "k" * 1025], "a key is 1 to 1024 bytes, not 1025"),
        (["-r", "127.0.0.1", "-p", "x", "get", "k"], "argument -p/--port: invalid int value"),
        (["get", "k"], "the following arguments are required: -r/--remote"),
        (["-r", "127.0.0.1", "-p", "70000", "get", "k"], "70000"),
        (["-r", "127.0.0.1;300.1.1.1", "get", "k"], "300.1.1.1"),
    ],
)
def test_bad_client_arguments_get_one_line_and_exit_2(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The script's own main(), in this process: no Python start-up (seconds in the lab) per case.
    status: int | str | None
    try:
        status = kv_client.main(args)
    except SystemExit as exc:  # how argparse leaves
        status = exc.code
    assert status == 2
    out, err = capsys.readouterr()
    assert err.startswith("kv_client: "), err
    assert words in err
    assert len(err.splitlines()) == 1, err
    assert out == ""


def test_bad_server_address_gets_one_line_and_exit_2() -> None:
    result = subprocess.run(
        python("kv_server.py", "127.0.0.1 256.1.1.1", PORT),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("kv_server: ")
    assert "256.1.1.1" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_client_without_a_server_says_so_and_exits_3() -> None:
    result = client("-r", "127.0.0.1", "-p", "4467", "get", "k")
    assert result.returncode == 3
    assert result.stderr.startswith("kv_client: ")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
