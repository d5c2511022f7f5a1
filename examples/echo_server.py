"""Multi-homed SCTP echo server (the seed article's server, on asyncio).

    python examples/echo_server.py "127.0.0.1;127.0.0.2" 4444
    python examples/echo_server.py                    # every address of this host, port 4444

ADDRS is a list separated by ";" (as in the article), "," or spaces. Every message is echoed
on the stream and with the PPID it came with. Ctrl-C stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from cmdline import ArgumentParser, address_list, fmt

import sctpmh

DEFAULT_PORT = 4444


async def echo(association: sctpmh.Association) -> None:
    peer = ", ".join(map(fmt, association.peer_addresses))
    print(f"association {association.association_id} up from {peer}", flush=True)
    count = 0
    try:
        async for message in association:
            await association.send(message.data, stream=message.stream, ppid=message.ppid)
            count += 1
    finally:
        print(f"association {association.association_id} ended after {count} messages", flush=True)


async def serve(addrs: str | None, port: int) -> None:
    server = await sctpmh.create_server(echo, address_list(addrs), port)
    print(f"echo server on {', '.join(map(fmt, server.addresses))}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="echo_server", description="Multi-homed SCTP echo server.")
    parser.add_argument("addrs", nargs="?", help='addresses, e.g. "127.0.0.1;127.0.0.2"')
    parser.add_argument(
        "port", nargs="?", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.addrs, args.port))
    except KeyboardInterrupt:
        return 0
    except (sctpmh.AddressError, sctpmh.SctpUnavailableError) as exc:
        print(f"echo_server: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
