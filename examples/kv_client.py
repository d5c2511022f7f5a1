"""Key-value client over multi-homed SCTP, written on the protocol-style (callback) API.

    python examples/kv_client.py -r "127.0.0.1;127.0.0.2" -p 4466 put colour blue get colour
    python examples/kv_client.py -l "127.0.0.3;127.0.0.4" -r "127.0.0.1;127.0.0.2" del colour
    python examples/kv_client.py -r 127.0.0.1 pipeline 200

Commands run one after the other on one association:

    put KEY VALUE   store VALUE under KEY   -> "put KEY: ok"
    get KEY         read the value of KEY   -> "get KEY: VALUE" or "get KEY: not found"
    del KEY         remove KEY              -> "del KEY: ok" or "del KEY: not found"
    pipeline N      N keys: a PUT and a GET for each, all 2N outstanding at once, then N DELETEs
                    at once; checks that every answer matches its request

Put the options before the commands; "--" lets a key or value start with "-". The wire format
is in examples/kvproto.py. Exit status: 0 when every request succeeded, 1 when one was answered
with an error (a missing key, say) or the pipeline found a mismatch, 2 for bad arguments (one
line on stderr), 3 when the association could not be opened or ended early.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import kvproto
from cmdline import ArgumentParser, address_list, fmt

import sctpmh

DEFAULT_PORT = 4466
MAX_PIPELINE = 100_000

# Which response types may answer which request type; anything else breaks the protocol.
ANSWERS: dict[type[kvproto.Request], tuple[type[kvproto.Response], ...]] = {
    kvproto.Get: (kvproto.Value, kvproto.Error),
    kvproto.Put: (kvproto.Ok, kvproto.Error),
    kvproto.Delete: (kvproto.Ok, kvproto.Error),
}


@dataclass(slots=True)
class Outstanding:
    """A request made and not answered yet (possibly still waiting to be sent)."""

    request: kvproto.Request
    stream: int
    future: asyncio.Future[kvproto.Response]


class KvClientProtocol(sctpmh.AssociationProtocol):
    """The client side of one association: requests out, each answer matched to its request
    by id (and checked for its stream and its type) and handed to the request's future.

    Requests go to the transport in the order they were made. While the transport is over its
    high-water mark (``pause_writing``) they wait here, in that order, and ``resume_writing``
    sends them on; so the transport's buffer stays bounded and the order of the requests about
    one key, which the key's stream preserves, is exactly the order of the calls.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: sctpmh.AssociationTransport | None = None
        self._outstanding: dict[int, Outstanding] = {}
        self._unsent: collections.deque[Outstanding] = collections.deque()
        self._last_id = 0
        self._write_paused = False
        self._error: Exception | None = None
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self.streams = 1
        self.streams_used: set[int] = set()
        self.most_outstanding = 0

    # --- protocol callbacks ------------------------------------------------------------------

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self._transport = transport
        self.streams = kvproto.usable_streams(transport.outbound_streams, transport.inbound_streams)

    def message_received(self, message: sctpmh.Message) -> None:
        try:
            response = kvproto.decode_response(message.ppid, message.data)
        except kvproto.ProtocolError as exc:
            self._server_broke_protocol(f"the server sent an undecodable response: {exc}")
            return
        if isinstance(response, kvproto.Error) and response.request_id == 0:
            self._server_broke_protocol(
                f"the server could not read one of our requests: {response.reason}"
            )
            return
        outstanding = self._outstanding.pop(response.request_id, None)
        if outstanding is None:
            self._server_broke_protocol(
                f"the server answered request id {response.request_id}, which is not outstanding"
            )
            return
        if message.stream != outstanding.stream:
            self._server_broke_protocol(
                f"the answer to request id {response.request_id} came on stream "
                f"{message.stream}, not on its request's stream {outstanding.stream}"
            )
            return
        if not isinstance(response, ANSWERS[type(outstanding.request)]):
            self._server_broke_protocol(
                f"the server answered a {type(outstanding.request).__name__.upper()} with "
                f"{type(response).__name__.upper()}"
            )
            return
        if not outstanding.future.done():  # else the caller stopped waiting (cancelled)
            outstanding.future.set_result(response)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._send_unsent()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._error is None:
            if exc is None:
                self._error = sctpmh.AssociationClosedError("the association was closed")
            else:
                self._error = sctpmh.AssociationAbortedError(
                    f"the association ended abruptly: {exc}", getattr(exc, "cause", None)
                )
                self._error.__cause__ = exc
        self._fail_outstanding()
        if not self._closed.done():
            self._closed.set_result(None)

    # --- requests ----------------------------------------------------------------------------

    async def get(self, key: bytes) -> kvproto.Response:
        """GET ``key``: a Value, or an Error (NOT_FOUND when the key is not stored)."""
        return await self.request(lambda request_id: kvproto.Get(request_id, key))

    async def put(self, key: bytes, value: bytes) -> kvproto.Response:
        """PUT ``value`` under ``key``: Ok, or an Error."""
        return await self.request(lambda request_id: kvproto.Put(request_id, key, value))

    async def delete(self, key: bytes) -> kvproto.Response:
        """DELETE ``key``: Ok, or an Error (NOT_FOUND when the key is not stored)."""
        return await self.request(lambda request_id: kvproto.Delete(request_id, key))

    async def request(self, build: Callable[[int], kvproto.Request]) -> kvproto.Response:
        """Send the request ``build(request_id)`` and wait for its answer.

        The request takes its place in the send order when the coroutine starts running
        (``asyncio.gather`` starts them in the order given). Raises
        :class:`sctpmh.AssociationClosedError` (or its subclass ``AssociationAbortedError``)
        when the association ends before the answer comes, and
        :class:`kvproto.ProtocolError` when the server broke the protocol.
        """
        if self._error is not None or self._transport is None:
            raise self._failure()
        request = build(self._new_request_id())
        # Every request about one key takes one stream, so SCTP keeps them in order
        # (RFC 9260 section 6.6); requests about different keys do not wait for each other.
        stream = kvproto.stream_for(request.key, self.streams)
        outstanding = Outstanding(request, stream, self._loop.create_future())
        self._outstanding[request.request_id] = outstanding
        self.streams_used.add(stream)
        self.most_outstanding = max(self.most_outstanding, len(self._outstanding))
        self._unsent.append(outstanding)
        self._send_unsent()
        return await outstanding.future

    def _send_unsent(self) -> None:
        """Hand waiting requests to the transport, in order, until it asks us to pause."""
        transport = self._transport
        while self._unsent and not self._write_paused and transport is not None:
            item = self._unsent.popleft()
            ppid, payload = kvproto.encode(item.request)
            try:
                transport.send(payload, stream=item.stream, ppid=ppid)
            except sctpmh.AssociationClosedError as exc:
                # The association ended; connection_lost is on its way. Fail everything now
                # rather than leave requests waiting for it.
                if self._error is None:
                    self._error = exc
                self._fail_outstanding()
                return

    def _new_request_id(self) -> int:
        """The next id not in use; after 2**32 - 1 they start again at 1."""
        request_id = self._last_id
        while True:
            request_id = request_id % kvproto.MAX_REQUEST_ID + 1
            if request_id not in self._outstanding:
                self._last_id = request_id
                return request_id

    # --- ending ------------------------------------------------------------------------------

    def close(self) -> None:
        """Graceful SHUTDOWN once every request sent is delivered (RFC 9260 section 9.2)."""
        if self._transport is not None:
            self._transport.close()

    async def wait_closed(self) -> None:
        """Wait until the association has ended."""
        await asyncio.shield(self._closed)

    def _server_broke_protocol(self, reason: str) -> None:
        """Nothing more from this server can be trusted: fail every request and ABORT."""
        if self._error is None:
            self._error = kvproto.ProtocolError(reason, kvproto.ErrorCode.BAD_MESSAGE)
        self._fail_outstanding()
        if self._transport is not None:
            self._transport.abort()

    def _failure(self) -> Exception:
        """A fresh exception for one failed request (a shared one would pile up tracebacks)."""
        error = self._error
        if isinstance(error, kvproto.ProtocolError):
            return kvproto.ProtocolError(str(error), error.code)
        if isinstance(error, sctpmh.AssociationAbortedError):
            fresh = sctpmh.AssociationAbortedError(str(error), error.cause)
            fresh.__cause__ = error.__cause__
            return fresh
        return sctpmh.AssociationClosedError(str(error) if error else "not connected")

    def _fail_outstanding(self) -> None:
        outstanding, self._outstanding = self._outstanding, {}
        self._unsent.clear()
        for item in outstanding.values():
            if not item.future.done():
                item.future.set_exception(self._failure())


# --- the command line ------------------------------------------------------------------------


def shown(data: bytes) -> str:
    """Bytes as text for the terminal; what is not UTF-8 is shown escaped."""
    return data.decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class Command:
    """One command from the command line."""

    verb: str
    key: bytes = b""
    value: bytes = b""
    count: int = 0


OPERANDS = {"put": "KEY VALUE", "get": "KEY", "del": "KEY", "pipeline": "N"}


def parse_commands(words: list[str]) -> list[Command]:
    """The commands in ``words``; ValueError (one line) for anything malformed."""
    commands = []
    position = 0
    while position < len(words):
        verb = words[position]
        usage = OPERANDS.get(verb)
        if usage is None:
            raise ValueError(f"unknown command {verb!r} (commands: {', '.join(OPERANDS)})")
        arity = len(usage.split())
        operands = words[position + 1 : position + 1 + arity]
        if len(operands) < arity:
            raise ValueError(f"{verb} needs {usage}")
        position += 1 + arity
        if verb == "pipeline":
            count = operands[0]
            if not (count.isascii() and count.isdigit()) or not 1 <= int(count) <= MAX_PIPELINE:
                raise ValueError(f"pipeline needs a count from 1 to {MAX_PIPELINE}, not {count!r}")
            commands.append(Command(verb, count=int(count)))
            continue
        # os.fsencode gives back the bytes the shell passed, even when they are not UTF-8.
        key = os.fsencode(operands[0])
        if not 1 <= len(key) <= kvproto.MAX_KEY_SIZE:
            raise ValueError(f"a key is 1 to {kvproto.MAX_KEY_SIZE} bytes, not {len(key)}")
        value = os.fsencode(operands[1]) if verb == "put" else b""
        if len(value) > kvproto.MAX_VALUE_SIZE:
            raise ValueError(f"a value is at most {kvproto.MAX_VALUE_SIZE} bytes, not {len(value)}")
        commands.append(Command(verb, key, value))
    return commands


def outcome(command: Command, response: kvproto.Response) -> tuple[str, bool]:
    """The line that reports one command's answer, and whether it succeeded."""
    head = f"{command.verb} {shown(command.key)}"
    match response:
        case kvproto.Ok():
            return f"{head}: ok", True
        case kvproto.Value(value=value):
            return f"{head}: {shown(value)}", True
        case kvproto.Error(code=kvproto.ErrorCode.NOT_FOUND):
            return f"{head}: not found", False
        case kvproto.Error(code=code, reason=reason):
            return f"{head}: error {code.name}: {reason}", False
    raise TypeError(f"not a response: {response!r}")


async def all_answers(
    calls: list[Coroutine[Any, Any, kvproto.Response]],
) -> list[kvproto.Response]:
    """Run ``calls`` concurrently, started in order; their answers, or the first failure once
    every call has finished (so that no failure is left unretrieved)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [result for result in results if not isinstance(result, BaseException)]


async def pipeline(client: KvClientProtocol, count: int) -> bool:
    """PUT and GET ``count`` keys with every request outstanding at once, then DELETE them
    all at once; print one summary line, and one line per answer that does not match."""
    # The token keeps a value left behind by an earlier run from passing for this run's.
    token = secrets.token_hex(4)
    keys = [b"pipeline-%d" % i for i in range(count)]
    values = [b"%s-%d" % (token.encode(), i) for i in range(count)]
    started = time.perf_counter()
    mismatches = []
    # A PUT and the GET of the same key go out back to back without waiting; they share a
    # stream, so the GET is served after the PUT and must see its value.
    first = await all_answers(
        [
            call
            for key, value in zip(keys, values, strict=True)
            for call in (client.put(key, value), client.get(key))
        ]
    )
    for i, (stored, read) in enumerate(zip(first[0::2], first[1::2], strict=True)):
        if stored != kvproto.Ok(stored.request_id):
            mismatches.append(f"put {shown(keys[i])} answered {stored}")
        if read != kvproto.Value(read.request_id, values[i]):
            mismatches.append(f"get {shown(keys[i])} answered {read}, not {shown(values[i])}")
    deleted = await all_answers([client.delete(key) for key in keys])
    for key, answer in zip(keys, deleted, strict=True):
        if answer != kvproto.Ok(answer.request_id):
            mismatches.append(f"del {shown(key)} answered {answer}")
    elapsed = time.perf_counter() - started
    for line in mismatches:
        print(f"pipeline MISMATCH: {line}", flush=True)
    verdict = f"{len(mismatches)} MISMATCHED" if mismatches else "every answer matched"
    print(
        f"pipeline {count}: {3 * count} requests over {len(client.streams_used)} streams, "
        f"at most {client.most_outstanding} outstanding, {verdict}, {elapsed:.2f} s",
        flush=True,
    )
    return not mismatches


async def run(args: argparse.Namespace, commands: list[Command]) -> int:
    # A blank remote list goes to sctpmh as it is, which names the problem.
    remote = address_list(args.remote) or args.remote
    transport, client = await sctpmh.open_protocol_association(
        KvClientProtocol, remote, args.port, local_addrs=address_list(args.local)
    )
    try:
        print(
            f"association {transport.association_id}: local "
            f"{', '.join(map(fmt, transport.local_addresses()))} -> peer "
            f"{', '.join(map(fmt, transport.peer_addresses()))}, {client.streams} streams",
            flush=True,
        )
        succeeded = True
        for command in commands:
            if command.verb == "pipeline":
                succeeded &= await pipeline(client, command.count)
                continue
            if command.verb == "put":
                response = await client.put(command.key, command.value)
            elif command.verb == "get":
                response = await client.get(command.key)
            else:
                response = await client.delete(command.key)
            line, ok = outcome(command, response)
            print(line, flush=True)
            succeeded &= ok
        client.close()
        await client.wait_closed()
    except BaseException:
        transport.abort()
        raise
    return 0 if succeeded else 1


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="kv_client", description="Key-value client over SCTP.")
    parser.add_argument(
        "-r", "--remote", required=True, help='server addresses, e.g. "127.0.0.1;127.0.0.2"'
    )
    parser.add_argument("-l", "--local", help='local addresses, e.g. "127.0.0.3;127.0.0.4"')
    parser.add_argument(
        "-p", "--port", type=int, default=DEFAULT_PORT, help=f"server port ({DEFAULT_PORT})"
    )
    parser.add_argument("command", nargs="+", help="put KEY VALUE | get KEY | del KEY | pipeline N")
    args = parser.parse_args(argv)
    try:
        commands = parse_commands(args.command)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return asyncio.run(run(args, commands))
    except KeyboardInterrupt:
        return 130
    except sctpmh.AddressError as exc:
        print(f"kv_client: {exc}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError, kvproto.ProtocolError) as exc:
        # OSError covers sctpmh's AssociationClosedError (a ConnectionError), refusals and
        # SctpUnavailableError.
        print(f"kv_client: {str(exc) or type(exc).__name__}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C outside asyncio.run
        sys.exit(130)
