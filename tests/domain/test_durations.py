"""Compact and ISO 8601 durations: table-driven cases plus a format -> parse round trip."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epbot.domain.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("1s", timedelta(seconds=1)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90s", timedelta(seconds=90)),
        ("0s", timedelta(0)),
        (" 15m ", timedelta(minutes=15)),
        ("15M", timedelta(minutes=15)),
        ("PT15M", timedelta(minutes=15)),
        ("PT30S", timedelta(seconds=30)),
        ("pt1h", timedelta(hours=1)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H5S", timedelta(days=1, hours=2, seconds=5)),
    ],
)
def test_parses(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "15",
        "15 m",
        "m",
        "1.5h",
        "-5m",
        "5w",
        "15min",
        "1m1h",
        "P",
        "PT",
        "P1DT",
        "PT1D",
        "1h 30m",
        "P1H",
        "forever",
    ],
)
def test_rejects(text: str) -> None:
    with pytest.raises(DurationError, match="bad duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [15, 1.5, None, True, [], {}])
def test_rejects_values_without_a_unit(value: object) -> None:
    with pytest.raises(DurationError, match="write it with a unit"):
        parse_duration(value)  # type: ignore[arg-type]


def test_overflow_is_a_duration_error() -> None:
    with pytest.raises(DurationError, match="too long"):
        parse_duration("99999999999d")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=30), "30s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2, seconds=1), "2d1s"),
        (timedelta(minutes=-5), "-5m"),
    ],
)
def test_formats(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_format_then_parse_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@given(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999), st.integers(0, 999))
def test_iso_and_compact_agree(d: int, h: int, m: int, s: int) -> None:
    compact = f"{d}d{h}h{m}m{s}s"
    assert parse_duration(compact) == parse_duration(f"P{d}DT{h}H{m}M{s}S")
    assert parse_duration(compact) == timedelta(days=d, hours=h, minutes=m, seconds=s)


@given(st.text(max_size=20))
def test_any_text_parses_or_raises_duration_error(text: str) -> None:
    try:
        result = parse_duration(text)
    except DurationError:
        return
    assert result >= timedelta(0)
