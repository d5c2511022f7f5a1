"""Multi-homed SCTP echo client (the seed article's client, on asyncio).

    python examples/echo_client.py -l "127.0.0.3;127.0.0.4" -r "127.0.0.1;127.0.0.2" -p 4444

Connects to every remote address at once, sends COUNT messages of SIZE bytes on STREAM and,
for each reply, prints which path (peer address) carried it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from cmdline import ArgumentParser, address_list, fmt

import sctpmh


async def run(args: argparse.Namespace) -> int:
    remote = address_list(args.remote) or args.remote  # blank: sctpmh names the problem
    local = address_list(args.local)
    async with sctpmh.open_association(remote, args.port, local_addrs=local) as association:
        print(
            f"association {association.association_id}: local "
            f"{', '.join(map(fmt, association.local_addresses))} -> peer "
            f"{', '.join(map(fmt, association.peer_addresses))}",
            flush=True,
        )
        failures = 0
        for i in range(args.count):
            payload = (b"%d:" % i).ljust(args.size, b"x")[: max(args.size, len(b"%d:" % i))]
            await association.send(payload, stream=args.stream, ppid=args.ppid)
            reply = await association.recv()
            ok = reply.data == payload and reply.stream == args.stream
            failures += not ok
            print(
                f"reply {i}: {len(reply.data)} bytes on stream {reply.stream} "
                f"via {fmt(reply.source)} {'ok' if ok else 'MISMATCH'}",
                flush=True,
            )
        return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="echo_client", description="Multi-homed SCTP echo client.")
    parser.add_argument("-l", "--local", help='local addresses, e.g. "127.0.0.3;127.0.0.4"')
    parser.add_argument("-r", "--remote", required=True, help="server addresses")
    parser.add_argument("-p", "--port", type=int, default=4444, help="server port (4444)")
    parser.add_argument("-c", "--count", type=int, default=5, help="messages (5)")
    parser.add_argument("-s", "--size", type=int, default=64, help="message size (64)")
    parser.add_argument("--stream", type=int, default=1, help="stream (1)")
    parser.add_argument("--ppid", type=int, default=0, help="payload protocol id (0)")
    args = parser.parse_args(argv)
    if args.count < 0 or args.size < 1:
        parser.error("--count must be >= 0 and --size >= 1")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    except (
        sctpmh.AddressError,
        sctpmh.StreamError,
        sctpmh.SctpUnavailableError,
        sctpmh.AssociationClosedError,
        TimeoutError,
        ValueError,
    ) as exc:
        print(f"echo_client: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
