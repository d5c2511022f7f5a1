"""Tests for sctpmh.config."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sctpmh import config as config_module
from sctpmh.config import Config

# RFC 9260 section 16, "Suggested SCTP Protocol Parameter Values".
RFC_9260_DEFAULTS = {
    "rto_initial": 1.0,
    "rto_min": 1.0,
    "rto_max": 60.0,
    "heartbeat_interval": 30.0,
    "path_max_retransmissions": 5,
    "association_max_retransmissions": 10,
    "max_init_retransmissions": 8,
}

FAST_FAILOVER = {
    "rto_initial": 0.2,
    "rto_min": 0.1,
    "rto_max": 0.5,
    "heartbeat_interval": 0.2,
    "path_max_retransmissions": 2,
    "association_max_retransmissions": 4,
    "potentially_failed_threshold": 0,
    "max_init_retransmissions": 4,
}


def test_protocol_defaults_are_rfc_9260_values() -> None:
    cfg = Config()
    assert {name: getattr(cfg, name) for name in RFC_9260_DEFAULTS} == RFC_9260_DEFAULTS


def test_other_defaults() -> None:
    cfg = Config()
    assert cfg.potentially_failed_threshold is None
    assert (cfg.outbound_streams, cfg.inbound_streams) == (16, 16)
    assert cfg.nodelay is True
    assert cfg.sender_dry_events is False
    assert cfg.send_buffer_size is None
    assert cfg.receive_buffer_size is None
    assert cfg.write_high_water == 64 * 1024
    assert cfg.write_low_water is None
    assert cfg.read_high_water == 256 * 1024
    assert cfg.max_message_size == 1024 * 1024


def test_every_field_has_an_attribute_docstring() -> None:
    # mkdocstrings reads a string literal right after the field; check the source has one.
    tree = ast.parse(inspect.getsource(config_module))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Config")
    documented = set()
    for stmt, following in zip(cls.body, cls.body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
            and following.value.value.strip()
        ):
            documented.add(stmt.target.id)
    assert documented == {f.name for f in dataclasses.fields(Config)}


def test_config_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Config(1.0)  # type: ignore[call-arg]


def test_effective_write_low_water_defaults_to_a_quarter_of_high() -> None:
    assert Config().effective_write_low_water == 16 * 1024
    assert Config(write_high_water=10).effective_write_low_water == 2
    assert Config(write_high_water=0).effective_write_low_water == 0


def test_effective_write_low_water_explicit() -> None:
    cfg = Config(write_high_water=1000, write_low_water=900)
    assert cfg.effective_write_low_water == 900
    assert Config(write_high_water=1000, write_low_water=0).effective_write_low_water == 0
    assert Config(write_high_water=1000, write_low_water=1000).effective_write_low_water == 1000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rto_initial": 2, "rto_max": 2},  # ints are accepted as seconds
        {"rto_min": 0.001, "rto_initial": 0.001, "rto_max": 0.001, "heartbeat_interval": 0.001},
        {"potentially_failed_threshold": 0},
        {"potentially_failed_threshold": 7},
        {"path_max_retransmissions": 0, "max_init_retransmissions": 0},
        {"association_max_retransmissions": 1},
        {"outbound_streams": 1, "inbound_streams": 65535},
        {"send_buffer_size": 1, "receive_buffer_size": 1 << 24},
        {"nodelay": False},
        {"sender_dry_events": True},
        {"read_high_water": 1, "max_message_size": 1},
    ],
)
def test_boundary_values_are_accepted(kwargs: dict[str, Any]) -> None:
    cfg = Config(**kwargs)
    assert {name: getattr(cfg, name) for name in kwargs} == kwargs


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # durations: positive, finite, at least a millisecond, not bool, not str
        *[
            (name, bad)
            for name in ("rto_initial", "rto_min", "rto_max", "heartbeat_interval")
            for bad in (0, 0.0, -1.0, 0.0009, math.nan, math.inf, -math.inf, True, "1")
        ],
        # counts: non-negative ints, not bool, not float
        *[
            (name, bad)
            for name in (
                "path_max_retransmissions",
                "max_init_retransmissions",
                "potentially_failed_threshold",
            )
            for bad in (-1, 1.0, True, "3")
        ],
        ("association_max_retransmissions", 0),
        ("association_max_retransmissions", -1),
        ("association_max_retransmissions", False),
        ("association_max_retransmissions", 2.0),
        # streams: 1..65535
        *[
            (name, bad)
            for name in ("outbound_streams", "inbound_streams")
            for bad in (0, -1, 65536, 16.0, True)
        ],
        ("nodelay", 1),
        ("nodelay", None),
        ("sender_dry_events", 1),
        # buffer sizes: positive or None
        *[
            (name, bad)
            for name in ("send_buffer_size", "receive_buffer_size")
            for bad in (0, -1, 1.5, True)
        ],
        ("write_high_water", -1),
        ("write_high_water", 1.0),
        ("write_high_water", None),
        ("write_low_water", -1),
        ("write_low_water", 65537),  # above the default high-water mark
        ("write_low_water", 1.0),
        ("read_high_water", 0),
        ("read_high_water", -1),
        ("read_high_water", None),
        ("max_message_size", 0),
        ("max_message_size", -1),
        ("max_message_size", 1.0),
        ("max_message_size", True),
    ],
)
def test_invalid_value_is_rejected_naming_field_and_value(field: str, value: object) -> None:
    # rto_* bounds are widened so the ordering rule cannot be what rejects a duration.
    base: dict[str, Any] = {}
    if field.startswith("rto_"):
        base = {"rto_min": 0.001, "rto_initial": 1.0, "rto_max": 1e9}
    with pytest.raises(ValueError, match=field) as excinfo:
        Config(**{**base, field: value})
    assert repr(value) in str(excinfo.value)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"rto_min": 2.0}, ("rto_min", "rto_initial")),  # rto_min > rto_initial (1.0)
        ({"rto_initial": 61.0}, ("rto_initial", "rto_max")),  # rto_initial > rto_max (60.0)
        ({"rto_max": 0.5}, ("rto_initial", "rto_max")),
        (
            {"write_high_water": 100, "write_low_water": 101},
            ("write_low_water", "write_high_water"),
        ),
    ],
)
def test_ordering_rules_name_both_fields(kwargs: dict[str, Any], names: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="must be <=") as excinfo:
        Config(**kwargs)
    message = str(excinfo.value)
    for name in names:
        assert name in message
    for value in kwargs.values():
        assert repr(value) in message


def test_frozen() -> None:
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rto_min = 2.0  # type: ignore[misc]
    assert cfg.rto_min == 1.0


def test_equality_and_hash() -> None:
    assert Config() == Config()
    assert hash(Config()) == hash(Config())
    assert Config(rto_max=30.0) != Config()


def test_fast_failover_preset() -> None:
    cfg = Config.fast_failover()
    assert {name: getattr(cfg, name) for name in FAST_FAILOVER} == FAST_FAILOVER
    # Fields outside the preset keep their defaults.
    assert cfg.replace(**{k: getattr(Config(), k) for k in FAST_FAILOVER}) == Config()


def test_fast_failover_overrides() -> None:
    cfg = Config.fast_failover(heartbeat_interval=1.0, outbound_streams=4)
    assert cfg.heartbeat_interval == 1.0
    assert cfg.outbound_streams == 4
    assert cfg.rto_min == 0.1  # untouched preset value


def test_fast_failover_overrides_are_validated() -> None:
    with pytest.raises(ValueError, match="rto_min"):
        Config.fast_failover(rto_min=0.3)  # above the preset's rto_initial of 0.2
    with pytest.raises(TypeError):
        Config.fast_failover(no_such_field=1)


def test_replace_returns_changed_copy() -> None:
    cfg = Config()
    changed = cfg.replace(heartbeat_interval=5.0, write_low_water=10)
    assert isinstance(changed, Config)
    assert changed.heartbeat_interval == 5.0
    assert changed.effective_write_low_water == 10
    assert cfg.heartbeat_interval == 30.0  # the original is untouched
    assert changed.replace(heartbeat_interval=30.0, write_low_water=None) == cfg


def test_replace_revalidates() -> None:
    cfg = Config()
    with pytest.raises(ValueError, match="heartbeat_interval"):
        cfg.replace(heartbeat_interval=math.nan)
    with pytest.raises(ValueError, match="rto_initial"):
        cfg.replace(rto_max=0.5)


durations = st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(durations, min_size=3, max_size=3))
def test_any_ordered_rto_triple_builds(values: list[float]) -> None:
    rto_min, rto_initial, rto_max = sorted(values)
    cfg = Config(rto_min=rto_min, rto_initial=rto_initial, rto_max=rto_max)
    assert (cfg.rto_min, cfg.rto_initial, cfg.rto_max) == (rto_min, rto_initial, rto_max)


@given(durations, durations, durations)
def test_rto_triple_builds_iff_ordered(rto_min: float, rto_initial: float, rto_max: float) -> None:
    if rto_min <= rto_initial <= rto_max:
        cfg = Config(rto_min=rto_min, rto_initial=rto_initial, rto_max=rto_max)
        assert cfg.rto_initial == rto_initial
    else:
        with pytest.raises(ValueError, match="must be <="):
            Config(rto_min=rto_min, rto_initial=rto_initial, rto_max=rto_max)
