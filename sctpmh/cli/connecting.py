"""Opening the client association of ``connect`` and ``paths`` from their options.

Failures to set the association up become one-line :class:`CommandError` messages that say
where the command tried to go (exit status 2); bad addresses and a missing kernel SCTP raise
sctpmh's own errors, whose messages already say what is wrong.
"""

from __future__ import annotations

import argparse
import asyncio

from ..api import open_association
from ..association import Association
from ..errors import AssociationClosedError
from .arguments import CommandError, address_items, backend_from, config_from

__all__ = ["close_gracefully", "open_client_association"]


async def open_client_association(args: argparse.Namespace) -> Association:
    """Open the association to ``args.remote`` at ``args.port`` from ``args.local``."""
    remote = address_items(args.remote)
    if not remote:
        raise CommandError("no remote address given")
    local = address_items(args.local) if args.local else []
    where = f"{','.join(remote)} port {args.port}"
    backend = backend_from(args)
    try:
        return await open_association(
            remote,
            args.port,
            local_addrs=local or None,
            config=config_from(args),
            timeout=args.timeout,
            backend=backend,
        )
    except TimeoutError:
        raise CommandError(f"no answer from {where} within {args.timeout:g} s") from None
    except AssociationClosedError as exc:
        # The peer answered INIT with ABORT (nobody listens there) or INIT was never answered
        # within Max.Init.Retransmits (RFC 9260 section 5.1).
        raise CommandError(f"cannot connect to {where}: {exc}") from None


async def close_gracefully(association: Association, within: float) -> None:
    """SHUTDOWN the association (RFC 9260 section 9.2), aborting it if that takes longer
    than ``within`` seconds (a peer that no longer answers)."""
    association.close()
    try:
        async with asyncio.timeout(within):
            await association.wait_closed()
    except TimeoutError:
        association.abort()
        await association.wait_closed()
