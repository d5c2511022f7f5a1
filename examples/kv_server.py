"""Key-value server over multi-homed SCTP, written on the protocol-style (callback) API.

    python examples/kv_server.py "127.0.0.1;127.0.0.2" 4466
    python examples/kv_server.py                    # every address of this host, port 4466

ADDRS is a list separated by ";", "," or spaces. Each association gets its own
:class:`KvServerProtocol`; all of them share one in-memory store. The wire format is in
examples/kvproto.py. One line is printed when an association comes up and one when it ends.
Ctrl-C shuts every association down gracefully and exits 0. Bad arguments: one line on
stderr, exit 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import kvproto
from cmdline import ArgumentParser, address_list, fmt

import sctpmh

DEFAULT_PORT = 4466

Store = dict[bytes, bytes]


class KvServerProtocol(sctpmh.AssociationProtocol):
    """Serves the requests of one association from the shared ``store``.

    Requests are served as they arrive, and each answer goes back on the stream its request
    came by: SCTP keeps each stream in order, so the answers about one key (which always
    travels on one stream, see kvproto) reach the client in the order of its requests.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.transport: sctpmh.AssociationTransport | None = None
        self.served = 0
        self.rejected = 0

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self.transport = transport
        peers = ", ".join(map(fmt, transport.peer_addresses()))
        print(f"association {transport.association_id} up from {peers}", flush=True)

    def message_received(self, message: sctpmh.Message) -> None:
        try:
            request = kvproto.decode_request(message.ppid, message.data)
        except kvproto.ProtocolError as exc:
            # A bad request costs the client an ERROR, not its association (nor the server).
            self.rejected += 1
            self.answer(message.stream, kvproto.Error(exc.request_id, exc.code, str(exc)))
            return
        self.served += 1
        self.answer(message.stream, self.serve(request))

    def serve(self, request: kvproto.Request) -> kvproto.Response:
        """Apply ``request`` to the store; the response that reports it."""
        match request:
            case kvproto.Get(request_id, key):
                value = self.store.get(key)
                if value is None:
                    return kvproto.Error(request_id, kvproto.ErrorCode.NOT_FOUND, "no such key")
                return kvproto.Value(request_id, value)
            case kvproto.Put(request_id, key, value):
                self.store[key] = value
                return kvproto.Ok(request_id)
            case kvproto.Delete(request_id, key):
                if self.store.pop(key, None) is None:
                    return kvproto.Error(request_id, kvproto.ErrorCode.NOT_FOUND, "no such key")
                return kvproto.Ok(request_id)
        raise TypeError(f"not a request: {request!r}")

    def answer(self, stream: int, response: kvproto.Response) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            # The association is shutting down (Ctrl-C, or the client left): nobody will
            # read the answer, and sending would raise.
            return
        ppid, payload = kvproto.encode(response)
        # The request's stream; folded into range for a client that sent on more streams than
        # it lets us answer on (kvproto.usable_streams keeps ours from doing that).
        transport.send(payload, stream=stream % transport.outbound_streams, ppid=ppid)

    def pause_writing(self) -> None:
        # The client does not read its answers as fast as it sends requests: stop reading
        # requests until the answers drain, so memory stays bounded here. Unread requests
        # then fill the kernel's receive buffer and its window closes toward the client
        # (RFC 9260 section 6.2), which slows the client down in turn.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        association_id = self.transport.association_id if self.transport is not None else "?"
        how = "closed" if exc is None else f"aborted: {exc}"
        print(
            f"association {association_id} down ({how}) after {self.served} requests, "
            f"{self.rejected} rejected",
            flush=True,
        )


async def serve(addrs: str | None, port: int) -> None:
    store: Store = {}
    server = await sctpmh.create_protocol_server(
        lambda: KvServerProtocol(store), address_list(addrs), port
    )
    print(f"kv server on {', '.join(map(fmt, server.addresses))}", flush=True)
    async with server:
        # Cancelled by Ctrl-C (asyncio.run cancels the main task), serve_forever closes the
        # server and waits for every association to shut down before it returns.
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="kv_server", description="Key-value server over SCTP.")
    parser.add_argument("addrs", nargs="?", help='addresses, e.g. "127.0.0.1;127.0.0.2"')
    parser.add_argument(
        "port", nargs="?", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.addrs, args.port))
    except KeyboardInterrupt:
        return 0
    except sctpmh.AddressError as exc:
        print(f"kv_server: {exc}", file=sys.stderr)
        return 2
    except sctpmh.SctpUnavailableError as exc:
        print(f"kv_server: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Ctrl-C can also land outside asyncio.run (during start-up or after it returned).
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
