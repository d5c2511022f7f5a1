"""sctpmh: multi-homed SCTP for asyncio.

One association spread over several addresses on each side, so that when a link dies the
traffic moves to another path and nothing is lost. Start with :func:`create_server` and
:func:`open_association`.
"""

from .addresses import Endpoint
from .api import (
    Opening,
    create_protocol_server,
    create_server,
    open_association,
    open_protocol_association,
)
from .association import Association, Stream
from .config import Config
from .errors import (
    AddressError,
    AssociationAbortedError,
    AssociationClosedError,
    AssociationLostError,
    BackendUnavailableError,
    MessageTooLargeError,
    NotSupportedError,
    SctpmhError,
    SctpUnavailableError,
    StreamError,
)
from .events import (
    AssociationClosed,
    AssociationLost,
    AssociationRestarted,
    AssociationUp,
    Event,
    Message,
    PathAdded,
    PathInfo,
    PathRemoved,
    PathState,
    PathStateChanged,
    PeerShutdown,
    PrimaryChanged,
    RemoteError,
    SenderDry,
    SendFailed,
)
from .protocol import AssociationProtocol, AssociationTransport
from .server import Handler, Server

__version__ = "0.1.0"

__all__ = [
    "AddressError",
    "Association",
    "AssociationAbortedError",
    "AssociationClosed",
    "AssociationClosedError",
    "AssociationLost",
    "AssociationLostError",
    "AssociationProtocol",
    "AssociationRestarted",
    "AssociationTransport",
    "AssociationUp",
    "BackendUnavailableError",
    "Config",
    "Endpoint",
    "Event",
    "Handler",
    "Message",
    "MessageTooLargeError",
    "NotSupportedError",
    "Opening",
    "PathAdded",
    "PathInfo",
    "PathRemoved",
    "PathState",
    "PathStateChanged",
    "PeerShutdown",
    "PrimaryChanged",
    "RemoteError",
    "SctpUnavailableError",
    "SctpmhError",
    "SendFailed",
    "SenderDry",
    "Server",
    "Stream",
    "StreamError",
    "__version__",
    "create_protocol_server",
    "create_server",
    "open_association",
    "open_protocol_association",
]
