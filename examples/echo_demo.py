"""The multi-homed echo demo: one association over two addresses on each side.

A server bound to 127.0.0.1 and 127.0.0.2 and a client bound to 127.0.0.3 and 127.0.0.4 that
connects to both server addresses. Each message goes out on its own stream with a PPID and
comes back echoed; both sides print every path of the association.

    scripts/demo                                  # sets itself up, then this and the failover demo
    python examples/echo_demo.py                  # directly: kernel SCTP where the kernel has it
    python examples/echo_demo.py --backend udp    # SCTP over UDP (RFC 6951), on any kernel
"""

from __future__ import annotations

import asyncio
import sys

from cmdline import ArgumentParser, fmt

import sctpmh

SERVER_ADDRS = "127.0.0.1;127.0.0.2"
CLIENT_ADDRS = "127.0.0.3;127.0.0.4"


UNCONFIRMED_NOTE = (
    "  (unconfirmed: an address the peer announced is used for data only once a HEARTBEAT "
    "sent to it\n   has been answered, RFC 9260 section 5.4; the client's own list is "
    "confirmed from the start)"
)


def describe_paths(title: str, association: sctpmh.Association) -> None:
    print(f"{title}: association {association.association_id}")
    print(f"  local addresses: {', '.join(map(fmt, association.local_addresses))}")
    for path in association.paths:
        mark = "  (primary)" if path.primary else ""
        print(
            f"  path to {fmt(path.address):<17} {path.state.value:<11} "
            f"rto={path.rto * 1000:.0f} ms  cwnd={path.cwnd}  mtu={path.mtu}{mark}"
        )
    if any(path.state is sctpmh.PathState.UNCONFIRMED for path in association.paths):
        print(UNCONFIRMED_NOTE)


def describe_backend(association: sctpmh.Association, loop_name: str) -> None:
    backend = association.transport.get_extra_info("backend")
    carried = (
        "SCTP over UDP (RFC 6951, UDP port 9899), the userspace stack"
        if backend == "udp"
        else "Linux kernel SCTP sockets"
    )
    print(f"backend {backend}: {carried}")
    print(f"event loop: {loop_name}")


async def run(count: int, port: int, backend: str, loop_name: str) -> None:
    server_ready = asyncio.Event()

    async def echo(association: sctpmh.Association) -> None:
        describe_backend(association, loop_name)
        describe_paths("server", association)
        server_ready.set()
        async for message in association:
            await association.send(message.data, stream=message.stream, ppid=message.ppid)

    server = await sctpmh.create_server(echo, SERVER_ADDRS, port, backend=backend)
    async with server:
        print(f"server listening on {', '.join(map(fmt, server.addresses))}")
        async with sctpmh.open_association(
            SERVER_ADDRS, server.port, local_addrs=CLIENT_ADDRS, backend=backend
        ) as association:
            await server_ready.wait()
            describe_paths("client", association)
            for i in range(count):
                stream = 1 + i % (association.outbound_streams - 1)
                payload = f"message {i}".encode()
                await association.send(payload, stream=stream, ppid=46)
                reply = await association.recv()
                ok = (reply.data, reply.stream, reply.ppid) == (payload, stream, 46)
                print(
                    f"echo {i}: {reply.data.decode()!r} stream={reply.stream} "
                    f"ppid={reply.ppid} {'ok' if ok else 'MISMATCH'}"
                )
                if not ok:
                    raise SystemExit(1)
            describe_paths("client, after the exchange", association)
            if len(association.paths) != 2 or len(association.local_addresses) != 2:
                print("the association does not span both addresses of each side")
                raise SystemExit(1)
    print("done: the association spans both addresses on both sides")


def main() -> None:
    parser = ArgumentParser(prog="echo_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5, help="messages to echo (default 5)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: any)")
    parser.add_argument(
        "--backend",
        choices=["auto", "kernel", "udp"],
        default="auto",
        help="kernel SCTP or SCTP over UDP (default auto: kernel where this kernel has SCTP)",
    )
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    try:
        if args.uvloop:
            import uvloop

            uvloop.run(run(args.count, args.port, args.backend, "uvloop (--uvloop)"))
        else:
            loop_name = "asyncio's default (--uvloop for uvloop)"
            asyncio.run(run(args.count, args.port, args.backend, loop_name))
    except sctpmh.SctpUnavailableError as exc:
        print(f"echo_demo: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
