"""Where the kernel has no SCTP, sctpmh says so and says how to fix it.

This runs for real on hosts whose kernel lacks SCTP (the project's own machines and CI), and
is skipped where SCTP works, because there nothing can make the kernel refuse SCTP.
"""

from __future__ import annotations

import pytest

import sctpmh
from sctpmh.kernel.diagnose import sctp_socket_error

pytestmark = pytest.mark.skipif(sctp_socket_error() is None, reason="this kernel has SCTP")


async def test_create_server_explains_the_missing_kernel_support() -> None:
    async def handler(association: sctpmh.Association) -> None:
        raise AssertionError("never called")

    with pytest.raises(sctpmh.SctpUnavailableError) as caught:
        await sctpmh.create_server(handler, ["127.0.0.1"], 0)
    message = str(caught.value)
    assert "modprobe sctp" in message
    assert "scripts/lab" in message
    assert isinstance(caught.value, OSError)


async def test_open_association_explains_the_missing_kernel_support() -> None:
    with pytest.raises(sctpmh.SctpUnavailableError, match="cannot create SCTP sockets"):
        await sctpmh.open_association(["127.0.0.1"], 4444)
