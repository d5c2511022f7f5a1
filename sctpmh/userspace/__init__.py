"""The userspace backends: sctpmh's own SCTP stack (:mod:`sctpmh.core`) on an event loop.

:mod:`.endpoint` drives core associations from asyncio (datagrams in, events out, one timer
per association) over a :class:`~.endpoint.Carrier` that moves the datagrams;
:mod:`.transport` is their :class:`~sctpmh.transport.BaseTransport`; :mod:`.memory` is the
in-process carrier behind ``backend="memory"``.
"""
