"""The kernel backend: Linux kernel SCTP sockets driven by the asyncio event loop."""
