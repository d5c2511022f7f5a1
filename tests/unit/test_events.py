"""Tests for sctpmh.events."""

from __future__ import annotations

import ast
import dataclasses
import inspect

import pytest

from sctpmh import events
from sctpmh.events import (
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

ADDR = ("10.0.0.1", 4444)

ALL_EVENTS: list[Event] = [
    AssociationUp(association_id=1, outbound_streams=10, inbound_streams=5),
    AssociationRestarted(association_id=1),
    AssociationLost(association_id=1, cause=None),
    PathStateChanged(ADDR, PathState.INACTIVE),
    PathAdded(ADDR),
    PathRemoved(ADDR),
    PrimaryChanged(ADDR),
    SendFailed(data=b"x", stream=3, ppid=46, error=1, sent=False),
    RemoteError(cause=1, data=b"\x00\x01"),
    PeerShutdown(),
    SenderDry(),
    AssociationClosed(),
]

DATACLASSES = [Message, PathInfo, Event, *(type(e) for e in ALL_EVENTS)]


def _path_info() -> PathInfo:
    return PathInfo(
        address=ADDR,
        state=PathState.ACTIVE,
        srtt=None,
        rto=1.0,
        cwnd=4380,
        mtu=1500,
        primary=True,
    )


def test_path_state_values() -> None:
    assert {s.name: s.value for s in PathState} == {
        "ACTIVE": "active",
        "POTENTIALLY_FAILED": "potentially-failed",
        "INACTIVE": "inactive",
        "UNCONFIRMED": "unconfirmed",
    }
    assert PathState("potentially-failed") is PathState.POTENTIALLY_FAILED


def test_all_lists_every_public_class() -> None:
    public = {
        name
        for name, obj in vars(events).items()
        if inspect.isclass(obj) and obj.__module__ == events.__name__ and not name.startswith("_")
    }
    assert set(events.__all__) == public
    assert len(events.__all__) == len(set(events.__all__))


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_is_an_event(event: Event) -> None:
    assert isinstance(event, Event)
    assert type(event) is not Event


def test_every_event_class_is_in_the_list() -> None:
    event_classes = {
        obj
        for obj in vars(events).values()
        if inspect.isclass(obj) and issubclass(obj, Event) and obj is not Event
    }
    assert event_classes == {type(e) for e in ALL_EVENTS}


@pytest.mark.parametrize("cls", DATACLASSES, ids=lambda c: c.__name__)
def test_frozen_slotted_dataclass(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in vars(cls)  # slots=True on the class itself, not just inherited


@pytest.mark.parametrize(
    "obj",
    [Message(b"abc"), _path_info(), *ALL_EVENTS],
    ids=lambda o: type(o).__name__,
)
def test_instances_are_immutable(obj: object) -> None:
    fields = dataclasses.fields(obj)  # type: ignore[arg-type]
    name = fields[0].name if fields else "anything"
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        setattr(obj, name, 0)
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        obj.new_attribute = 0  # type: ignore[attr-defined]
    assert not hasattr(obj, "new_attribute")


def test_frozen_assignment_raises_frozen_instance_error() -> None:
    msg = Message(b"abc", stream=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.stream = 2  # type: ignore[misc]
    assert msg.stream == 1
    ev = PathAdded(ADDR)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.address = ("10.0.0.2", 1)  # type: ignore[misc]
    assert ev.address == ADDR


def test_every_class_and_field_has_a_docstring() -> None:
    tree = ast.parse(inspect.getsource(events))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for name in events.__all__:
        node = classes[name]
        assert ast.get_docstring(node), name
        documented = set()
        for stmt, following in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(stmt, ast.AnnAssign | ast.Assign)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                target = stmt.target if isinstance(stmt, ast.AnnAssign) else stmt.targets[0]
                assert isinstance(target, ast.Name)
                documented.add(target.id)
        cls = getattr(events, name)
        if dataclasses.is_dataclass(cls):
            expected = {f.name for f in dataclasses.fields(cls)}
        else:
            expected = {member.name for member in cls}
        assert documented == expected, name


def test_equality_and_hash() -> None:
    assert Message(b"a", stream=1, ppid=2) == Message(b"a", stream=1, ppid=2)
    assert Message(b"a", stream=1) != Message(b"a", stream=2)
    assert hash(Message(b"a", ppid=7)) == hash(Message(b"a", ppid=7))
    assert PathStateChanged(ADDR, PathState.ACTIVE) == PathStateChanged(ADDR, PathState.ACTIVE, 0)
    assert PathStateChanged(ADDR, PathState.ACTIVE) != PathStateChanged(ADDR, PathState.INACTIVE)
    assert _path_info() == _path_info()
    assert PeerShutdown() == PeerShutdown()


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (PathAdded(ADDR), PathRemoved(ADDR)),
        (PathAdded(ADDR), PrimaryChanged(ADDR)),
        (PeerShutdown(), SenderDry()),
        (PeerShutdown(), Event()),
        (AssociationRestarted(1), AssociationLost(1, None)),
    ],
)
def test_different_event_types_with_same_fields_are_not_equal(left: Event, right: Event) -> None:
    assert left != right


def test_pattern_matching_by_position() -> None:
    ev: Event = PathStateChanged(ADDR, PathState.POTENTIALLY_FAILED, 5)
    match ev:
        case PathStateChanged(address, PathState.POTENTIALLY_FAILED, error):
            assert (address, error) == (ADDR, 5)
        case _:
            pytest.fail("PathStateChanged did not match positionally")


def test_message_defaults() -> None:
    msg = Message(b"hello")
    assert (msg.data, msg.stream, msg.ppid, msg.unordered, msg.ssn, msg.tsn) == (
        b"hello",
        0,
        0,
        False,
        None,
        None,
    )


def test_association_closed_defaults() -> None:
    ev = AssociationClosed()
    assert (ev.cause, ev.aborted) == (None, False)
    assert AssociationClosed(cause=12, aborted=True).aborted is True


def test_path_state_changed_default_error() -> None:
    assert PathStateChanged(ADDR, PathState.ACTIVE).error == 0


@pytest.mark.parametrize("stream", [0, 1, 65535])
def test_message_stream_in_range(stream: int) -> None:
    assert Message(b"", stream=stream).stream == stream


@pytest.mark.parametrize("stream", [-1, 65536, 2**32, True, 1.0, "1", None])
def test_message_stream_out_of_range(stream: object) -> None:
    with pytest.raises(ValueError, match="stream") as excinfo:
        Message(b"", stream=stream)  # type: ignore[arg-type]
    assert repr(stream) in str(excinfo.value)


@pytest.mark.parametrize("ppid", [0, 0x80, 46, 0xFFFFFFFF])
def test_message_ppid_in_range(ppid: int) -> None:
    assert Message(b"", ppid=ppid).ppid == ppid


@pytest.mark.parametrize("ppid", [-1, 2**32, 2**64, False, 46.0, None])
def test_message_ppid_out_of_range(ppid: object) -> None:
    with pytest.raises(ValueError, match="ppid") as excinfo:
        Message(b"", ppid=ppid)  # type: ignore[arg-type]
    assert repr(ppid) in str(excinfo.value)


@pytest.mark.parametrize(
    "fields",
    [
        (b"payload", 7, 0xFFFFFFFF, False, 3, 123456, ("10.0.0.1", 5000)),
        (b"x", 0, 0, True, None, None, None),
    ],
)
def test_received_message_equals_a_checked_message(fields: tuple[object, ...]) -> None:
    data, stream, ppid, unordered, ssn, tsn, source = fields
    built = events.received_message(*fields)  # type: ignore[arg-type]
    checked = Message(
        data,  # type: ignore[arg-type]
        stream=stream,  # type: ignore[arg-type]
        ppid=ppid,  # type: ignore[arg-type]
        unordered=unordered,  # type: ignore[arg-type]
        ssn=ssn,  # type: ignore[arg-type]
        tsn=tsn,  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
    )
    assert type(built) is Message
    assert built == checked
    assert hash(built) == hash(checked)
    assert repr(built) == repr(checked)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.stream = 1  # type: ignore[misc]
