"""Moving a stalled association off a server's shared socket onto a socket of its own.

A one-to-many socket has one receive queue for all its associations: stopping reading it for
one association whose application does not keep up (``Config.read_high_water``) would hold
back every other one. So that association is first peeled off (sctp_peeloff, RFC 6458
section 9.2) onto a one-to-one socket of its own, and only that socket stops being read;
the peer then sees that association's receive window close (RFC 9260 section 6.2).

Linux moves the association with what the kernel holds for it (see
:func:`sctpmh.kernel.sockapi.peel_off`); what sctpmh holds for it moves here: its transport,
the messages still in the shared socket's write queue, and a message read in part.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import sockapi

if TYPE_CHECKING:
    from .demux import KernelEndpoint
    from .transport import KernelAssociationTransport

__all__ = ["peel_off"]

logger = logging.getLogger("sctpmh.kernel")


def peel_off(
    shared: KernelEndpoint, transport: KernelAssociationTransport
) -> KernelEndpoint | None:
    """Move ``transport`` and its association from ``shared`` to an endpoint on a socket of
    their own, which stops being read for it; None, and nothing changed, when the kernel
    refuses."""
    if shared.is_ending(transport):
        # Its end is already read: it goes once the socket is read dry.
        return None
    assoc_id = transport.association_id
    try:
        sock = sockapi.peel_off(shared.socket, assoc_id)
    except OSError as exc:
        # EINVAL when this thread is not in the socket's network namespace (Linux does
        # not peel off across namespaces) or the association is going away.
        logger.warning(
            "association %d could not be peeled off (%s); reading the shared socket "
            "stops until it resumes",
            assoc_id,
            exc.strerror or exc,
        )
        return None
    peeled = shared.open_peeled(sock)
    shared.release(transport)
    peeled.adopt(transport)
    # What the kernel has not been handed yet follows the association, in order, behind
    # what it has (the association took its own send queue along).
    peeled.io.resume_queued(shared.io.take_queued(transport))
    partial = shared.io.take_partial(assoc_id)
    if partial is not None:
        # A message read in part: the kernel moved the rest of its partial delivery to
        # the new socket (its pd_lobby), so the pieces read so far go there too.
        peeled.io.resume_partial(partial)
    peeled.io.hold_reading(assoc_id, True)
    peeled.start()
    shared.io.hold_reading(assoc_id, False)
    return peeled
