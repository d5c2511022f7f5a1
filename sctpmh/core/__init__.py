"""A sans-I/O SCTP association (RFC 9260): the protocol core of the userspace stack.

Nothing here reads a clock or touches a socket. Every input takes ``now`` (seconds on a
monotonic clock); the caller feeds received datagrams and timer expiries in, and takes
datagrams to send and events out (the pattern of aioquic's ``QuicConnection``). The later UDP
backend (RFC 6951) is the glue that does the I/O.

This package imports only the standard library, the compiled ``crc32c`` package and the leaf
modules (``sctpmh.events``, ``sctpmh.errors``, ``sctpmh.config``).
"""
