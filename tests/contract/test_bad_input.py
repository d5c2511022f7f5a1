"""Every class of bad input a user can give raises an error that names it, and loses nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import sctpmh

from .conftest import CLIENT, SERVER, Opener

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("arguments", "error", "text"),
    [
        ({"stream": 70000}, sctpmh.StreamError, "70000 is out of range"),
        ({"stream": -1}, sctpmh.StreamError, "-1 is out of range"),
        ({"stream": "1"}, sctpmh.StreamError, "must be an int"),
        ({"stream": True}, sctpmh.StreamError, "must be an int"),
        ({"ppid": 2**32}, ValueError, "ppid must be an int"),
        ({"ppid": -1}, ValueError, "ppid must be an int"),
        ({"ttl": 0}, ValueError, "ttl must be a positive number"),
        ({"ttl": "soon"}, ValueError, "ttl must be a positive number"),
        ({"to": ("10.9.9.9", 1)}, sctpmh.AddressError, "is not an address of the peer"),
        ({"to": "nonsense"}, sctpmh.AddressError, "is not a (host, port) address"),
    ],
)
async def test_bad_send_arguments(
    open_pair: Opener, arguments: dict[str, Any], error: type[Exception], text: str
) -> None:
    pair = await open_pair()
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        await pair.client.send(b"x", **arguments)
    # Nothing was lost or broken: the association still echoes.
    await pair.client.send(b"still fine", stream=1)
    assert (await asyncio.wait_for(pair.client.recv(), 30)).data == b"still fine"


@pytest.mark.parametrize(
    ("data", "error"),
    [(b"", ValueError), ("text", TypeError), (12, TypeError)],
)
async def test_bad_payloads(open_pair: Opener, data: Any, error: type[Exception]) -> None:
    pair = await open_pair()
    with pytest.raises(error):
        await pair.client.send(data)


async def test_oversize_message_names_size_and_limit(open_pair: Opener) -> None:
    pair = await open_pair(config=sctpmh.Config(max_message_size=1000))
    with pytest.raises(sctpmh.MessageTooLargeError, match="1001 bytes") as raised:
        await pair.client.send(b"x" * 1001)
    assert raised.value.limit == 1000


async def test_sending_on_a_closed_association(open_pair: Opener) -> None:
    pair = await open_pair()
    await pair.client.close()
    with pytest.raises(sctpmh.AssociationClosedError):
        await pair.client.send(b"late")
    with pytest.raises(sctpmh.AssociationClosedError):
        await pair.client.recv()


@pytest.mark.parametrize(
    ("remote", "port", "text"),
    [
        (["127.0.0.1", "not an address!"], 4444, "not an address!"),
        (["127.0.0.1"], 70000, "70000"),
        ([], 4444, "no address"),
    ],
)
async def test_bad_addresses_and_ports(
    backend: str, remote: list[str], port: int, text: str
) -> None:
    with pytest.raises(sctpmh.AddressError, match=text):
        await sctpmh.open_association(remote, port, local_addrs=CLIENT, backend=backend)


async def test_an_unknown_backend_is_named() -> None:
    with pytest.raises(ValueError, match="unknown backend backend='carrier pigeon'"):
        await sctpmh.create_server(lambda a: asyncio.sleep(0), SERVER, 0, backend="carrier pigeon")


async def test_bad_backlog(backend: str) -> None:
    async def handler(association: sctpmh.Association) -> None:
        return None

    with pytest.raises(ValueError, match="backlog"):
        await sctpmh.create_server(handler, SERVER, 0, backlog=2**40, backend=backend)
