"""The association's handshake (RFC 9260 sections 5.1, 5.2) and its INIT / INIT ACK parameters.

:class:`Handshake` owns the setup state of one association (T1-init / T1-cookie, the INIT and
COOKIE ECHO to retransmit, the cookie key):

* 5.1, 5.1.3, 5.1.5: the four-way handshake with T1-init / T1-cookie; the answering side keeps
  no state until a valid COOKIE ECHO arrives (HMAC-authenticated cookie with a lifetime).
* 5.2.1-5.2.6: INIT collisions, unexpected INIT / INIT ACK / COOKIE ECHO / COOKIE ACK, the
  COOKIE ECHO table of 5.2.4 (peer restart, collisions), Stale Cookie handling.
* 3.2.1, 3.2.2: unknown INIT / INIT ACK parameters by the upper two bits of their type.
* 5.4: the addresses each side lists become peer paths; only those the user gave to
  ``connect()`` (on the initiating side) or the one the INIT ACK went to (on the answering
  side) start confirmed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from sctpmh.core import causes
from sctpmh.core.bundling import fit_causes
from sctpmh.core.causes import CauseCode, ErrorCause
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    ChunkType,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitAckChunk,
    InitChunk,
    ShutdownAckChunk,
)
from sctpmh.core.cookie import CookieJar, CookieState, Stale
from sctpmh.core.intake import Inbound
from sctpmh.core.packet import COMMON_HEADER_SIZE
from sctpmh.core.params import (
    Param,
    ParamType,
    address_of,
    address_types_of,
    cookie_preservative,
    cookie_preservative_ms,
    encode_params,
    forward_tsn_supported,
    ipv4_address,
    ipv6_address,
    state_cookie,
    supported_address_types,
    supported_extensions,
    unknown_param_action,
)
from sctpmh.core.paths import Address
from sctpmh.core.states import HANDSHAKE, State
from sctpmh.core.tcb import PendingSend, Tcb
from sctpmh.core.termination import Termination
from sctpmh.core.timers import Timer
from sctpmh.core.transfer import Transfer
from sctpmh.events import AssociationRestarted, AssociationUp, SendFailed

__all__ = ["Handshake"]

# RFC 9260 section 5.2.6: a Cookie Preservative asks for at most this much more life.
_MAX_COOKIE_EXTENSION = 60.0
# RFC 9260 sections 3.3.2, 3.3.3: "The Advertised Receiver Window Credit MUST NOT be smaller
# than 1500."
_MIN_INITIAL_WINDOW = 1500

# Parameters this stack understands in INIT / INIT ACK; any other type falls under the
# upper-two-bits rule (RFC 9260 section 3.2.1). ECN (0x8000) is not supported, but its bits
# say "skip silently", which is what ignoring it does.
_KNOWN_INIT_PARAMS = frozenset(
    {
        ParamType.IPV4_ADDRESS,
        ParamType.IPV6_ADDRESS,
        ParamType.COOKIE_PRESERVATIVE,
        ParamType.HOST_NAME_ADDRESS,
        ParamType.SUPPORTED_ADDRESS_TYPES,
        ParamType.ECN_CAPABLE,
        ParamType.FORWARD_TSN_SUPPORTED,
        ParamType.SUPPORTED_EXTENSIONS,
    }
)
_KNOWN_INIT_ACK_PARAMS = frozenset(
    {
        ParamType.IPV4_ADDRESS,
        ParamType.IPV6_ADDRESS,
        ParamType.STATE_COOKIE,
        ParamType.UNRECOGNIZED_PARAMETER,
        ParamType.HOST_NAME_ADDRESS,
        ParamType.SUPPORTED_ADDRESS_TYPES,
        ParamType.ECN_CAPABLE,
        ParamType.FORWARD_TSN_SUPPORTED,
        ParamType.SUPPORTED_EXTENSIONS,
    }
)


class Handshake:
    """Association setup of one association (the module docstring lists what it covers)."""

    __slots__ = (
        "_cookie_echo",
        "_cookie_preservative_ms",
        "_init_chunk",
        "_init_retransmissions",
        "_jar",
        "_tcb",
        "_termination",
        "_transfer",
        "connecting",
        "t1",
    )

    def __init__(self, tcb: Tcb, transfer: Transfer, termination: Termination) -> None:
        self._tcb = tcb
        self._transfer = transfer
        self._termination = termination
        core = tcb.core
        self._jar = CookieJar(core.secret if core.secret is not None else tcb.rng.randbytes(32))
        self.t1 = Timer()
        """T1-init or T1-cookie (RFC 9260 section 5.1)."""
        self.connecting = False
        """connect() was called and the association is not up yet."""
        self._init_retransmissions = 0
        self._init_chunk: InitChunk | None = None
        self._cookie_echo: tuple[Chunk, ...] = ()
        self._cookie_preservative_ms = 0

    def on_t1(self, now: float) -> None:
        """T1-init or T1-cookie expired."""
        # RFC 9260 section 5.1 C/D: retransmit INIT or COOKIE ECHO with the RTO backed off,
        # until Max.Init.Retransmits.
        if self._tcb.state not in HANDSHAKE:
            return
        if self._init_retransmissions >= self._tcb.config.max_init_retransmissions:
            self._tcb.close(now, None, aborted=True)
            return
        self._init_retransmissions += 1
        self._tcb.stats.init_retransmissions += 1
        path = self._tcb.paths.primary
        assert path is not None
        path.destination.back_off()
        if self._tcb.state is State.COOKIE_WAIT:
            self._send_init(now)
        else:
            self._send_cookie_echo(now)

    def start(self, addresses: Sequence[Address], now: float) -> None:
        """Connect: the addresses the user gave are confirmed (RFC 9260 section 5.4 rule 1);
        send INIT and start T1-init (section 5.1 A)."""
        tcb = self._tcb
        for address in addresses:
            tcb.paths.add(address, confirmed=True)
        self.connecting = True
        tcb.local_tag = self._random_tag()
        tcb.local_initial_tsn = tcb.rng.getrandbits(32)
        tcb.state = State.COOKIE_WAIT
        self._init_retransmissions = 0
        self._send_init(now)

    def _send_init(self, now: float) -> None:
        params = self._own_params()
        types = _address_types(self._tcb.paths.local_addresses)
        if types:
            # RFC 9260 section 3.3.2.1 / 5.1.2: the families we can use, so that the peer
            # does not list addresses of another family in its INIT ACK (usrsctp and Linux
            # list every address of the host otherwise).
            params.append(supported_address_types(types))
        if self._cookie_preservative_ms:
            params.append(cookie_preservative(self._cookie_preservative_ms))
        init = InitChunk(
            initiate_tag=self._tcb.local_tag,
            a_rwnd=self._tcb.window_left(),
            outbound_streams=self._tcb.config.outbound_streams,
            inbound_streams=self._tcb.config.inbound_streams,
            initial_tsn=self._tcb.local_initial_tsn,
            params=tuple(params),
        )
        self._init_chunk = init
        path = self._tcb.paths.primary
        assert path is not None
        self._tcb.send_raw_to(path, 0, (init,))
        self.t1.start(now, path.destination.rto)

    def _send_cookie_echo(self, now: float) -> None:
        path = self._tcb.paths.primary
        assert path is not None
        self._tcb.send_raw_to(path, self._tcb.peer_tag, self._cookie_echo)
        self.t1.start(now, path.destination.rto)

    def _own_params(self, address_types: set[int] | None = None) -> list[Param]:
        # Our addresses when there are several (RFC 9260 section 5.1.2; only those of
        # ``address_types`` when given), and PR-SCTP (RFC 3758 section 3.3.1:
        # Forward-TSN-Supported, also listed in Supported Extensions as RFC 5061 section
        # 4.2.7 has it).
        params: list[Param] = []
        local = self._tcb.paths.local_addresses
        if len(local) > 1:
            for host, _port in local:
                param = _address_param(host)
                if param is not None and (address_types is None or param.type in address_types):
                    params.append(param)
        params.append(forward_tsn_supported())
        params.append(supported_extensions([ChunkType.FORWARD_TSN]))
        return params

    def on_init(self, chunk: InitChunk, inbound: Inbound) -> bool:
        """An INIT chunk (RFC 9260 sections 5.1 B, 5.2.1, 5.2.2)."""
        state = self._tcb.state
        if self._tcb.finished:
            self._tcb.stats.ootb += 1
            self._tcb.stats.packets_dropped += 1
            return False
        # RFC 9260 section 3.3.2: an Initiate Tag of 0 is discarded silently; zero stream
        # counts are answered with an ABORT carrying the INIT's tag.
        if chunk.initiate_tag == 0:
            self._tcb.stats.packets_dropped += 1
            return False
        # RFC 9260 section 3.3.2: "A receiver of an INIT chunk with the OS value set to 0 MUST
        # discard the packet, SHOULD send a packet in response containing an ABORT chunk and using
        # the Initiate Tag as the Verification Tag, and MUST NOT change the state of any existing
        # association"; the same for MIS 0 and for an a_rwnd "smaller than 1500".
        if (
            chunk.outbound_streams == 0
            or chunk.inbound_streams == 0
            or chunk.a_rwnd < _MIN_INITIAL_WINDOW
        ):
            self._abort_init(chunk, inbound, (causes.invalid_mandatory_parameter(),))
            return False
        if state is State.SHUTDOWN_ACK_SENT:
            # Section 9.2: the SHUTDOWN COMPLETE was probably lost; resend SHUTDOWN ACK.
            self._tcb.outbox.queue(ShutdownAckChunk())
            return False
        parsed = _parse_params(chunk.params, _KNOWN_INIT_PARAMS)
        if parsed.host_name is not None:
            # Section 5.1.2: host names are not supported; they cannot be resolved.
            cause = ErrorCause(CauseCode.UNRESOLVABLE_ADDRESS, parsed.host_name.raw)
            self._abort_init(chunk, inbound, (cause,))
            return False
        peer_hosts = (inbound.source[0], *parsed.addresses)
        if state is State.CLOSED:
            # Section 5.1 B: answer statelessly with a new tag and a cookie.
            self._send_init_ack(
                chunk, inbound, parsed, self._random_tag(), self._tcb.rng.getrandbits(32), 0, 0
            )
            return False
        paths = self._tcb.paths
        # An address we could never reach has no path (see _establish_from_cookie): it is
        # not new, whatever the peer lists.
        new_hosts = [h for h in peer_hosts if h not in paths and paths.reachable(h)]
        if state in HANDSHAKE:
            # Section 5.2.1: an INIT collision; answer with the parameters of our own INIT.
            if new_hosts and state is State.COOKIE_ECHOED:
                self._tcb.stats.chunks_ignored += 1
                return False
            self._send_init_ack(
                chunk,
                inbound,
                parsed,
                self._tcb.local_tag,
                self._tcb.local_initial_tsn,
                self._tcb.local_tag,
                self._tcb.peer_tag,
            )
            return False
        # Section 5.2.2: an unexpected INIT in an established association (a peer restart, or
        # a lost handshake); new tag, tie-tags carry the current ones.
        if new_hosts:
            params = []
            for host in new_hosts:
                param = _address_param(host)
                if param is not None:
                    params.append(param)
            cause = ErrorCause(CauseCode.RESTART_WITH_NEW_ADDRESSES, encode_params(params))
            self._abort_init(chunk, inbound, (cause,))
            return False
        self._send_init_ack(
            chunk,
            inbound,
            parsed,
            self._random_tag(),
            self._tcb.rng.getrandbits(32),
            self._tcb.local_tag,
            self._tcb.peer_tag,
        )
        return False

    def _send_init_ack(
        self,
        init: InitChunk,
        inbound: Inbound,
        parsed: _ParsedParams,
        local_tag: int,
        local_tsn: int,
        local_tie_tag: int,
        peer_tie_tag: int,
    ) -> None:
        # RFC 9260 section 5.1 B / 5.1.3: everything needed later goes into the cookie.
        lifetime = self._tcb.core.cookie_lifetime
        if parsed.preservative_ms:
            lifetime += min(parsed.preservative_ms / 1000, _MAX_COOKIE_EXTENSION)
        state = CookieState(
            local_tag=local_tag,
            peer_tag=init.initiate_tag,
            local_initial_tsn=local_tsn,
            peer_initial_tsn=init.initial_tsn,
            outbound_streams=min(self._tcb.config.outbound_streams, init.inbound_streams),
            inbound_streams=min(self._tcb.config.inbound_streams, init.outbound_streams),
            peer_rwnd=init.a_rwnd,
            created=inbound.now,
            lifetime=lifetime,
            peer_addresses=(inbound.source[0], *parsed.addresses),
            local_tie_tag=local_tie_tag,
            peer_tie_tag=peer_tie_tag,
            peer_port=inbound.source_port,
            peer_prsctp=parsed.prsctp,
        )
        accepted = None
        if parsed.address_types is not None:
            # Section 5.1.2: list only addresses of the types the peer supports; the family
            # its INIT came from and those it listed count as supported too (the
            # IMPLEMENTATION NOTE there).
            accepted = set(parsed.address_types)
            for host in (inbound.source[0], *parsed.addresses):
                param = _address_param(host)
                if param is not None:
                    accepted.add(param.type)
        params: list[Param] = [state_cookie(self._jar.make(state)), *self._own_params(accepted)]
        # Section 3.2.2: unrecognized INIT parameters come back in the INIT ACK.
        room = self._tcb.core.mtu - COMMON_HEADER_SIZE - 20
        room -= sum(4 + len(p.value) + 3 for p in params)
        for unknown in parsed.unrecognized:
            raw = unknown.raw
            if len(raw) + 8 > room:
                break
            room -= len(raw) + 8
            params.append(Param(ParamType.UNRECOGNIZED_PARAMETER, raw))
        ack = InitAckChunk(
            initiate_tag=local_tag,
            a_rwnd=self._tcb.core.receive_window,
            outbound_streams=self._tcb.config.outbound_streams,
            inbound_streams=self._tcb.config.inbound_streams,
            initial_tsn=local_tsn,
            params=tuple(params),
        )
        self._tcb.reply_raw(
            inbound.source, inbound.destination, inbound.source_port, init.initiate_tag, (ack,)
        )

    def _abort_init(
        self, init: InitChunk, inbound: Inbound, abort_causes: tuple[ErrorCause, ...]
    ) -> None:
        # RFC 9260 section 8.4 rule 3: an ABORT answering an INIT carries its Initiate Tag, T=0.
        self._tcb.stats.aborts_sent += 1
        chunk = AbortChunk(tuple(fit_causes(abort_causes, self._tcb.core.mtu)))
        self._tcb.reply_raw(
            inbound.source, inbound.destination, inbound.source_port, init.initiate_tag, (chunk,)
        )

    def on_init_ack(self, chunk: InitAckChunk, inbound: Inbound) -> bool:
        """An INIT ACK chunk in COOKIE-WAIT (RFC 9260 section 5.1 C)."""
        now = inbound.now
        # RFC 9260 section 3.3.3: "If an endpoint in the COOKIE-WAIT state receives an INIT ACK
        # chunk with the Initiate Tag set to 0, it MUST destroy the TCB and SHOULD send an ABORT
        # chunk with the T bit set" (there is no tag to address it with, so it reflects ours);
        # with OS or MIS 0 it "MUST destroy the TCB and SHOULD send an ABORT chunk". An a_rwnd
        # below 1500 is handled alike, as Errata 7148 to RFC 9260 corrects 3.3.3 (the published
        # text, copied from the INIT's, would keep retrying a peer that answers alike).
        if (
            chunk.initiate_tag == 0
            or chunk.outbound_streams == 0
            or chunk.inbound_streams == 0
            or chunk.a_rwnd < _MIN_INITIAL_WINDOW
        ):
            cause = causes.invalid_mandatory_parameter()
            if chunk.initiate_tag:
                abort = AbortChunk((cause,))
                self._tcb.reply_raw(
                    inbound.source,
                    inbound.destination,
                    inbound.source_port,
                    chunk.initiate_tag,
                    (abort,),
                )
            else:
                abort = AbortChunk((cause,), reflected_tag=True)
                self._tcb.reply_raw(
                    inbound.source,
                    inbound.destination,
                    inbound.source_port,
                    self._tcb.local_tag,
                    (abort,),
                )
            self._tcb.stats.aborts_sent += 1
            self._tcb.close(now, CauseCode.INVALID_MANDATORY_PARAMETER, aborted=True)
            return False
        parsed = _parse_params(chunk.params, _KNOWN_INIT_ACK_PARAMS)
        cookie = chunk.state_cookie
        if parsed.host_name is not None:
            cause = ErrorCause(CauseCode.UNRESOLVABLE_ADDRESS, parsed.host_name.raw)
            self._tcb.reply_raw(
                inbound.source,
                inbound.destination,
                inbound.source_port,
                chunk.initiate_tag,
                (AbortChunk((cause,)),),
            )
            self._tcb.stats.aborts_sent += 1
            self._tcb.close(now, CauseCode.UNRESOLVABLE_ADDRESS, aborted=True)
            return False
        if cookie is None:
            # Section 5.1 C: the State Cookie is mandatory.
            cause = causes.missing_mandatory([ParamType.STATE_COOKIE])
            self._tcb.reply_raw(
                inbound.source,
                inbound.destination,
                inbound.source_port,
                chunk.initiate_tag,
                (AbortChunk((cause,)),),
            )
            self._tcb.stats.aborts_sent += 1
            self._tcb.close(now, CauseCode.MISSING_MANDATORY_PARAMETER, aborted=True)
            return False
        self.t1.stop()
        self._tcb.peer_tag = chunk.initiate_tag
        self._tcb.peer_initial_tsn = chunk.initial_tsn
        self._tcb.peer_a_rwnd = self._tcb.peer_rwnd = chunk.a_rwnd
        # Section 5.1.1: use the smaller of our outbound and the peer's inbound count.
        self._tcb.outbound_streams = min(self._tcb.config.outbound_streams, chunk.inbound_streams)
        self._tcb.inbound_streams = min(self._tcb.config.inbound_streams, chunk.outbound_streams)
        self._tcb.peer_prsctp = parsed.prsctp
        for host in (inbound.source[0], *parsed.addresses):
            # Section 5.4: the addresses the peer lists are unconfirmed until probed. One of
            # a family we have no local address of gets no path: nothing can be sent to it.
            if self._tcb.paths.reachable(host):
                self._tcb.paths.add((host, self._tcb.remote_port), confirmed=False)
        echo: list[Chunk] = [CookieEchoChunk(cookie)]
        if parsed.unrecognized:
            # Section 3.2.2: unrecognized INIT ACK parameters are reported in an ERROR chunk
            # bundled with the COOKIE ECHO.
            report = b"".join(_padded(param.raw) for param in parsed.unrecognized)
            echo.append(
                ErrorChunk((causes.unrecognized_parameters(self._tcb.outbox.fit_cause(report)),))
            )
            self._tcb.stats.errors_sent += 1
        self._cookie_echo = tuple(echo)
        self._tcb.state = State.COOKIE_ECHOED
        self._init_retransmissions = 0
        self._send_cookie_echo(now)
        return False

    def on_cookie_echo(self, chunk: CookieEchoChunk, inbound: Inbound) -> bool:
        """A COOKIE ECHO chunk (RFC 9260 sections 5.1.5, 5.2.4)."""
        now = inbound.now
        if inbound.index != 0:
            # RFC 9260 section 5.1: COOKIE ECHO must be the first chunk of its packet.
            self._tcb.stats.chunks_ignored += 1
            return True
        opened = self._jar.open(chunk.cookie, now)
        if opened is None:
            # Section 5.1.5 step 1-2: a bad MAC; discard silently.
            self._tcb.stats.bad_cookies += 1
            self._tcb.stats.packets_dropped += 1
            return False
        cookie = opened.state if isinstance(opened, Stale) else opened
        if inbound.tag != cookie.local_tag or inbound.source_port != cookie.peer_port:
            # Section 5.1.5 step 3 (before the lifetime check of step 4) and 8.5.1 D: "Compare
            # the port numbers and the Verification Tag contained within the COOKIE ECHO chunk to
            # the actual port numbers and the Verification Tag within the SCTP common header of
            # the received packet. If these values do not match, the packet MUST be silently
            # discarded." (The destination port was checked on arrival: it is ours.)
            self._tcb.stats.bad_cookies += 1
            self._tcb.stats.packets_dropped += 1
            return False
        if isinstance(opened, Stale) and not (
            self._tcb.state is not State.CLOSED
            and self._tcb.peer_tag
            and cookie.local_tag == self._tcb.local_tag
            and cookie.peer_tag == self._tcb.peer_tag
        ):
            # Section 5.1.5 step 4: tell the peer how stale it was. Section 5.2.4 step 3 makes
            # one exception: "If both Verification Tags in the State Cookie match the Verification
            # Tags of the current association, consider the State Cookie valid (i.e., action D
            # below), even if the lifespan is exceeded" (a COOKIE ACK lost for a long time).
            self._tcb.stats.stale_cookies += 1
            self._tcb.stats.errors_sent += 1
            self._tcb.reply_raw(
                inbound.source,
                inbound.destination,
                inbound.source_port,
                cookie.peer_tag,
                (ErrorChunk((causes.stale_cookie(opened.staleness_us),)),),
            )
            return False
        if self._tcb.state is State.CLOSED:
            self._establish_from_cookie(cookie, inbound)
            self._queue_cookie_ack()
            self._became_established(now, restarted=False)
            return True
        return self._cookie_echo_with_tcb(cookie, inbound)

    def _cookie_echo_with_tcb(self, cookie: CookieState, inbound: Inbound) -> bool:
        # RFC 9260 section 5.2.4, the table of actions for a COOKIE ECHO when a TCB exists.
        now = inbound.now
        local_match = cookie.local_tag == self._tcb.local_tag
        peer_match = bool(self._tcb.peer_tag) and cookie.peer_tag == self._tcb.peer_tag
        if (
            not local_match
            and not peer_match
            and cookie.local_tie_tag == self._tcb.local_tag
            and cookie.peer_tie_tag == self._tcb.peer_tag
            and self._tcb.peer_tag
        ):
            # Action A: the peer restarted.
            if self._tcb.state is State.SHUTDOWN_ACK_SENT:
                # Section 5.2.4 A: no new association while shutting down.
                self._tcb.outbox.queue(ShutdownAckChunk())
                self._tcb.outbox.queue(ErrorChunk((causes.cookie_while_shutting_down(),)))
                self._tcb.stats.errors_sent += 1
                return False
            self._restart(cookie, inbound)
            return True
        if local_match and not peer_match:
            # Action B: a collision; the peer's tag is the one in the cookie.
            if self._tcb.state in HANDSHAKE:
                self._establish_from_cookie(cookie, inbound)
                self._queue_cookie_ack()
                self._became_established(now, restarted=False)
            else:
                self._tcb.peer_tag = cookie.peer_tag
                self._queue_cookie_ack()
            return True
        if (
            not local_match
            and peer_match
            and cookie.local_tie_tag == 0
            and cookie.peer_tie_tag == 0
        ):
            # Action C: an old cookie crossing; discard.
            self._tcb.stats.chunks_ignored += 1
            return False
        if local_match and peer_match:
            # Action D: both tags match (a retransmitted COOKIE ECHO).
            if self._tcb.state in HANDSHAKE:
                self._establish_from_cookie(cookie, inbound)
                self._became_established(now, restarted=False)
            self._queue_cookie_ack()
            return True
        self._tcb.stats.chunks_ignored += 1
        return False

    def on_cookie_ack(self, chunk: CookieAckChunk, inbound: Inbound) -> bool:
        """A COOKIE ACK chunk in COOKIE-ECHOED: the association is up."""
        # RFC 9260 section 5.1 E.
        self._transfer.start_data_plane()
        self._became_established(inbound.now, restarted=False)
        return True

    def on_stale_cookie(self, cause: ErrorCause, now: float) -> None:
        """The peer reported our cookie stale (an ERROR chunk in COOKIE-ECHOED)."""
        # RFC 9260 section 5.2.6: start over with a new INIT asking for a longer cookie life
        # (Cookie Preservative), as long as INIT retransmissions remain.
        if self._init_retransmissions >= self._tcb.config.max_init_retransmissions:
            self._tcb.close(now, CauseCode.STALE_COOKIE, aborted=True)
            return
        staleness_us = int.from_bytes(cause.info[:4], "big") if len(cause.info) >= 4 else 0
        self._cookie_preservative_ms = max(1000, 2 * (staleness_us // 1000))
        self._init_retransmissions += 1
        self.t1.stop()
        self._tcb.peer_tag = 0
        self._tcb.state = State.COOKIE_WAIT
        self._send_init(now)

    def _establish_from_cookie(self, cookie: CookieState, inbound: Inbound) -> None:
        self._tcb.local_tag = cookie.local_tag
        self._tcb.peer_tag = cookie.peer_tag
        self._tcb.local_initial_tsn = cookie.local_initial_tsn
        self._tcb.peer_initial_tsn = cookie.peer_initial_tsn
        self._tcb.outbound_streams = cookie.outbound_streams
        self._tcb.inbound_streams = cookie.inbound_streams
        self._tcb.peer_a_rwnd = self._tcb.peer_rwnd = cookie.peer_rwnd
        self._tcb.remote_port = inbound.source_port
        self._tcb.peer_prsctp = cookie.peer_prsctp
        # Section 5.4 rule 2: of the peer's addresses only the one the INIT ACK went to (the
        # INIT's source, first in the cookie) is confirmed. The COOKIE ECHO's source is a
        # peer address too, whichever it is.
        paths = self._tcb.paths
        port = inbound.source_port
        hosts = cookie.peer_addresses or (inbound.source[0],)
        paths.add((hosts[0], port), confirmed=True)
        for host in (*hosts[1:], inbound.source[0]):
            if paths.reachable(host):  # as in the INIT ACK's handling
                paths.add((host, port), confirmed=False)
        self._transfer.start_data_plane()

    def _became_established(self, now: float, *, restarted: bool) -> None:
        self.t1.stop()
        self._init_retransmissions = 0
        self._tcb.state = State.ESTABLISHED
        self.connecting = False
        if restarted:
            self._tcb.events.append(AssociationRestarted(self._tcb.association_id))
        else:
            self._tcb.events.append(
                AssociationUp(
                    self._tcb.association_id, self._tcb.outbound_streams, self._tcb.inbound_streams
                )
            )
        self._tcb.paths.start_heartbeats(now)
        pending, self._tcb.pending = self._tcb.pending, []
        for item in pending:
            if item.stream >= self._tcb.outbound_streams:
                # The peer accepted fewer streams than we asked for (section 5.1.1).
                self._tcb.events.append(
                    SendFailed(
                        item.data,
                        item.stream,
                        item.ppid,
                        CauseCode.INVALID_STREAM_IDENTIFIER,
                        False,
                    )
                )
                continue
            self._tcb.enqueue(item)
        if self._tcb.shutdown_requested:
            self._tcb.state = State.SHUTDOWN_PENDING
            self._termination.check_progress(now)

    def _restart(self, cookie: CookieState, inbound: Inbound) -> None:
        # RFC 9260 section 5.2.4 A: like an ABORT followed by a new association, except that
        # messages not yet sent are kept and the application hears of a restart.
        self._tcb.stats.restarts += 1
        if self._tcb.sender is not None:
            for data, stream, ppid, sent in self._tcb.sender.drain_unsent():
                if sent:
                    self._tcb.events.append(SendFailed(data, stream, ppid, 0, True))
                else:
                    self._tcb.pending.append(PendingSend(data, stream, ppid, False, None, None))
        self._tcb.deliver(inbound.source)
        self._termination.t2.stop()
        self._termination.t5.stop()
        for path in self._tcb.paths:
            # Section 5.2.4 A: "All the congestion control parameters (e.g., cwnd, ssthresh)
            # related to this peer MUST be reset to their initial values" (the new data plane
            # below sets ssthresh from the peer's new a_rwnd again).
            path.destination.reset_congestion_control()
        self._establish_from_cookie(cookie, inbound)
        for path in self._tcb.paths:
            path.destination.error_count = 0
        self._tcb.paths.error_count = 0
        self._queue_cookie_ack()
        self._became_established(inbound.now, restarted=True)

    def _queue_cookie_ack(self) -> None:
        self._tcb.outbox.queue(CookieAckChunk())

    def _random_tag(self) -> int:
        # RFC 9260 section 5.3.1: a random non-zero 32-bit tag.
        return self._tcb.rng.getrandbits(32) or 1


# --- parameters --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ParsedParams:
    addresses: tuple[str, ...]
    unrecognized: tuple[Param, ...]
    preservative_ms: int
    host_name: Param | None
    prsctp: bool
    address_types: tuple[int, ...] | None
    """Supported Address Types (section 3.3.2.1), None when the peer sent none."""


def _parse_params(params: Sequence[Param], known: frozenset[int]) -> _ParsedParams:
    # RFC 9260 section 3.2.1: an unknown parameter type's upper two bits say whether to stop
    # (0x) or skip (1x) and whether to report it (x1).
    addresses: list[str] = []
    unrecognized: list[Param] = []
    preservative = 0
    host_name: Param | None = None
    prsctp = False
    address_types: tuple[int, ...] | None = None
    for param in params:
        if param.type not in known:
            stop, report = unknown_param_action(param.type)
            if report:
                unrecognized.append(param)
            if stop:
                break
            continue
        if param.type == ParamType.HOST_NAME_ADDRESS:
            host_name = param
            continue
        if param.type == ParamType.FORWARD_TSN_SUPPORTED:
            prsctp = True  # RFC 3758 section 3.3.1
            continue
        if param.type == ParamType.SUPPORTED_EXTENSIONS:
            prsctp = prsctp or ChunkType.FORWARD_TSN in param.value
            continue
        if param.type == ParamType.SUPPORTED_ADDRESS_TYPES:
            address_types = address_types_of(param)
            continue
        host = address_of(param)
        if host is not None:
            addresses.append(host)
            continue
        ms = cookie_preservative_ms(param)
        if ms is not None:
            preservative = ms
    return _ParsedParams(
        tuple(addresses), tuple(unrecognized), preservative, host_name, prsctp, address_types
    )


def _address_types(local: Sequence[Address]) -> list[int]:
    """The address parameter types of ``local``'s families (RFC 9260 section 3.3.2.1)."""
    versions = set()
    for host, _port in local:
        param = _address_param(host)
        if param is not None:
            versions.add(param.type)
    return sorted(versions)


def _address_param(host: str) -> Param | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version == 4:
        return ipv4_address(host)
    return ipv6_address(host)


def _padded(raw: bytes) -> bytes:
    return raw + b"\x00" * (-len(raw) % 4)
