"""Which backend carries an association: ``backend=`` or ``SCTPMH_BACKEND``, else "auto".

The only public-layer module that knows the backends, and it imports them lazily, so that
``import sctpmh`` works where a backend cannot (no pysctp, no kernel SCTP, not Linux).

- ``"kernel"``: Linux kernel SCTP sockets (:mod:`sctpmh.kernel`).
- ``"memory"``: the userspace SCTP stack over an in-process datagram network
  (:mod:`sctpmh.userspace.memory`): both ends in one process, for tests of code built on
  sctpmh; nothing leaves the process.
- ``"auto"`` (the default): kernel where kernel SCTP works here.
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import Final, cast

from .errors import BackendUnavailableError
from .seam import Backend

__all__ = ["BACKENDS", "ENVIRONMENT_VARIABLE", "get_backend", "kernel_problem"]

#: The environment variable that picks the backend for a whole program.
ENVIRONMENT_VARIABLE: Final = "SCTPMH_BACKEND"

#: Backend name -> the module whose ``BACKEND`` it is.
BACKENDS: Final = {
    "kernel": "sctpmh.kernel.backend",
    "memory": "sctpmh.userspace.memory",
}

_AUTO = "auto"


def get_backend(name: str | None = None) -> Backend:
    """The backend called ``name``; None means ``SCTPMH_BACKEND``, or "auto" without it.

    Raises ValueError for an unknown name and :class:`~sctpmh.BackendUnavailableError`,
    saying what is missing, for a backend that cannot run here.
    """
    where = "backend="
    if name is None:
        name = os.environ.get(ENVIRONMENT_VARIABLE) or _AUTO
        where = f"{ENVIRONMENT_VARIABLE}="
    if not isinstance(name, str) or name not in (*BACKENDS, _AUTO):
        choices = ", ".join(repr(n) for n in (_AUTO, *BACKENDS))
        raise ValueError(f"unknown backend {where}{name!r}; choose one of {choices}")
    if name == _AUTO:
        problem = kernel_problem()
        if problem is not None:
            raise BackendUnavailableError(
                f"no SCTP backend can run here: {problem} (the userspace backend over UDP "
                "is not built yet; backend='memory' runs both ends in one process)"
            )
        name = "kernel"
    if name == "kernel":
        problem = kernel_problem()
        if problem is not None:
            raise BackendUnavailableError(f"the kernel backend cannot run here: {problem}")
    return _load(name)


@functools.cache
def _load(name: str) -> Backend:
    module = importlib.import_module(BACKENDS[name])
    return cast(Backend, module.BACKEND)


@functools.cache
def kernel_problem() -> str | None:
    """Why the kernel backend cannot run here (with the fix), or None when it can.

    Probed once per process: pysctp importable, and an SCTP socket created."""
    from .kernel import diagnose

    error = diagnose.sctp_socket_error()
    if error is not None:
        verdict = diagnose.diagnose(probe=False, socket_error=error)
        return f"{verdict.reason}; {verdict.fix}"
    try:
        importlib.import_module("sctpmh.kernel.sockapi")
    except ImportError as exc:
        return f"pysctp is missing ({exc}); install it with: pip install pysctp"
    return None
