"""State Cookies over the real socket: a tampered or expired cookie is refused and creates no
association (RFC 9260 section 5.1.5); cookies from any INIT ACK of the endpoint stay valid
while other associations come up."""

from __future__ import annotations

import asyncio
import random

from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import CookieAckChunk, CookieEchoChunk, ErrorChunk, InitAckChunk

from .wire import SILENCE, Live, RawPeer, cookie_of, init_chunk, live_endpoint


async def handshake_to_cookie(peer: RawPeer, tag: int) -> tuple[int, bytes]:
    """Send an INIT, return the INIT ACK's initiate tag and State Cookie."""
    peer.send(0, [init_chunk(tag)])
    reply = await peer.reply()
    assert reply.verification_tag == tag
    (ack,) = reply.chunks
    assert isinstance(ack, InitAckChunk)
    return ack.initiate_tag, cookie_of(ack)


async def assert_no_association(live: Live, peer: RawPeer) -> None:
    assert await peer.receive(SILENCE) is None
    assert live.tables()["driven"] == 0
    assert live.tables()["by_tag"] == 0
    assert live.accepted == []


async def test_every_flipped_byte_of_a_cookie_is_refused() -> None:
    async with live_endpoint() as live:
        peer = live.peer()
        try:
            their_tag, cookie = await handshake_to_cookie(peer, 0x1234_5678)
            rng = random.Random(5)
            for index in range(len(cookie)):
                tampered = bytearray(cookie)
                tampered[index] ^= 1 << rng.randrange(8)
                peer.send(their_tag, [CookieEchoChunk(bytes(tampered))])
            # Also cut short, and with junk after the MAC.
            peer.send(their_tag, [CookieEchoChunk(cookie[:-1])])
            peer.send(their_tag, [CookieEchoChunk(cookie + b"\x00")])
            await assert_no_association(live, peer)
            assert live.endpoint._listener is not None
            assert live.endpoint._listener.core.stats.bad_cookies == len(cookie) + 2
            # The cookie itself was good: sent as it came, it makes the association.
            peer.send(their_tag, [CookieEchoChunk(cookie)])
            reply = await peer.reply()
            assert reply.verification_tag == 0x1234_5678
            assert isinstance(reply.chunks[0], CookieAckChunk)
            assert live.tables()["driven"] == 1
        finally:
            peer.close()


async def test_a_good_cookie_under_a_wrong_tag_or_port_is_refused() -> None:
    async with live_endpoint() as live:
        peer = live.peer()
        try:
            their_tag, cookie = await handshake_to_cookie(peer, 77)
            # RFC 9260 section 5.1.5 step 3 / 8.5.1 D: tag and ports must match the cookie.
            peer.send(their_tag ^ 1, [CookieEchoChunk(cookie)])
            peer.send(their_tag, [CookieEchoChunk(cookie)], sctp_port=peer.sctp_port + 1)
            await assert_no_association(live, peer)
        finally:
            peer.close()


class SkewedLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock a test can move forward (the core takes its time from the
    loop), so a cookie can outlive its 60 s lifetime without a 60 s test."""

    skew = 0.0

    def time(self) -> float:
        return super().time() + self.skew


def test_an_expired_cookie_draws_a_stale_cookie_error_and_no_association() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SkewedLoop)
        async with live_endpoint() as live:
            peer = live.peer()
            try:
                their_tag, cookie = await handshake_to_cookie(peer, 0xCAFE)
                loop.skew = 61.0  # Valid.Cookie.Life is 60 s (RFC 9260 section 16)
                peer.send(their_tag, [CookieEchoChunk(cookie)])
                reply = await peer.reply()
                # Section 5.1.5 step 4: an ERROR with a Stale Cookie cause, to the INIT's tag.
                assert reply.verification_tag == 0xCAFE
                (error,) = reply.chunks
                assert isinstance(error, ErrorChunk)
                (cause,) = error.causes
                assert cause.code == CauseCode.STALE_COOKIE
                staleness_us = int.from_bytes(cause.info[:4], "big")
                assert 900_000 <= staleness_us <= 30_000_000
                await assert_no_association(live, peer)
            finally:
                peer.close()

    with asyncio.Runner(loop_factory=SkewedLoop) as runner:
        # No wait_for around it: moving the clock would end that at once (the receive
        # calls inside have their own timeouts, pytest-timeout bounds the rest).
        runner.run(scenario())


async def test_a_cookie_stays_good_after_another_association_came_up() -> None:
    # Two peers handshake at once; the first COOKIE ECHO makes an association out of the
    # listener and a new listener takes its place: the second peer's cookie, made before,
    # must still open (the endpoint keeps one cookie secret, RFC 9260 section 5.1.3).
    async with live_endpoint() as live:
        first, second = live.peer("127.0.0.9", 5001), live.peer("127.0.0.10", 5002)
        try:
            first_tag, first_cookie = await handshake_to_cookie(first, 1001)
            second_tag, second_cookie = await handshake_to_cookie(second, 1002)
            first.send(first_tag, [CookieEchoChunk(first_cookie)])
            reply = await first.reply()
            assert isinstance(reply.chunks[0], CookieAckChunk)
            second.send(second_tag, [CookieEchoChunk(second_cookie)])
            reply = await second.reply()
            assert reply.verification_tag == 1002
            assert isinstance(reply.chunks[0], CookieAckChunk)
            assert live.tables()["driven"] == 2
        finally:
            first.close()
            second.close()
