"""Which backend carries an association: ``backend=`` or ``SCTPMH_BACKEND``, else "auto".

The only public-layer module that knows the backends, and it imports them lazily, so that
``import sctpmh`` works where a backend cannot (no pysctp, no kernel SCTP, not Linux).

- ``"kernel"``: Linux kernel SCTP sockets (:mod:`sctpmh.kernel`).
- ``"memory"``: the userspace SCTP stack over an in-process datagram network
  (:mod:`sctpmh.userspace.memory`): both ends in one process, for tests of code built on
  sctpmh; nothing leaves the process.
- ``"udp"``: the userspace SCTP stack over UDP (RFC 6951, :mod:`sctpmh.userspace.udp`).
- ``"auto"`` (the default): kernel where kernel SCTP works here, else udp. The choice is
  logged once (logger ``sctpmh``, INFO), and ``get_extra_info("backend")`` tells it: a udp
  association speaks SCTP over UDP, which a peer must speak too.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from typing import Final, cast

from .errors import BackendUnavailableError, SctpUnavailableError
from .seam import Backend

__all__ = ["BACKENDS", "ENVIRONMENT_VARIABLE", "get_backend", "kernel_problem"]

#: The environment variable that picks the backend for a whole program.
ENVIRONMENT_VARIABLE: Final = "SCTPMH_BACKEND"

#: Backend name -> the module whose ``BACKEND`` it is.
BACKENDS: Final = {
    "kernel": "sctpmh.kernel.backend",
    "memory": "sctpmh.userspace.memory",
    "udp": "sctpmh.userspace.udp",
}

_AUTO = "auto"
logger = logging.getLogger("sctpmh")


def get_backend(name: str | Backend | None = None) -> Backend:
    """The backend called ``name``; None means ``SCTPMH_BACKEND``, or "auto" without it. A
    backend object (``sctpmh.userspace.udp.UdpBackend(port=...)``) is taken as it is.

    Raises ValueError for an unknown name; for "kernel" where kernel SCTP is missing,
    :class:`~sctpmh.SctpUnavailableError` (a :class:`~sctpmh.BackendUnavailableError`) with
    the diagnosis and its fix, and BackendUnavailableError when pysctp is missing.
    """
    if name is not None and not isinstance(name, str):
        if callable(getattr(name, "listen", None)) and callable(getattr(name, "connect", None)):
            return name
        raise ValueError(f"backend must be a name or a backend object, not {name!r}")
    where = "backend="
    if name is None:
        name = os.environ.get(ENVIRONMENT_VARIABLE) or _AUTO
        where = f"{ENVIRONMENT_VARIABLE}="
    if not isinstance(name, str) or name not in (*BACKENDS, _AUTO):
        choices = ", ".join(repr(n) for n in (_AUTO, *BACKENDS))
        raise ValueError(f"unknown backend {where}{name!r}; choose one of {choices}")
    if name == _AUTO:
        name = _auto_choice()
    elif name == "kernel":
        problem = kernel_problem()
        if problem is not None:
            raise type(problem)(*_with_prefix(problem, "the kernel backend cannot run here"))
    return _load(name)


@functools.cache
def _auto_choice() -> str:
    """What "auto" means on this host: kernel where it can run, else udp (said once)."""
    problem = kernel_problem()
    if problem is None:
        return "kernel"
    reason = (problem.strerror if isinstance(problem, OSError) else None) or str(problem)
    logger.info(
        "backend auto: the udp backend (SCTP over UDP, RFC 6951), as the kernel backend "
        "cannot run here (%s)",
        reason.split(";")[0],
    )
    return "udp"


def _with_prefix(problem: BackendUnavailableError, prefix: str) -> tuple[object, ...]:
    reason = (problem.strerror if isinstance(problem, OSError) else None) or str(problem)
    text = f"{prefix}: {reason}"
    if isinstance(problem, OSError) and problem.errno is not None:
        return (problem.errno, text)
    return (text,)


@functools.cache
def _load(name: str) -> Backend:
    module = importlib.import_module(BACKENDS[name])
    return cast(Backend, module.BACKEND)


@functools.cache
def kernel_problem() -> BackendUnavailableError | None:
    """Why the kernel backend cannot run here, with the fix, or None when it can.

    Probed once per process: an SCTP socket created (else the diagnosis of ``sctpmh
    check``), and pysctp importable."""
    from .kernel import diagnose

    error = diagnose.sctp_socket_error()
    if error is not None:
        verdict = diagnose.diagnose(probe=False, socket_error=error)
        return SctpUnavailableError(error.errno, f"{verdict.reason}; {verdict.fix}")
    try:
        importlib.import_module("sctpmh.kernel.sockapi")
    except ImportError as exc:
        return BackendUnavailableError(
            f"pysctp is missing ({exc}); install it with: pip install pysctp; {diagnose.UDP_HINT}"
        )
    return None
