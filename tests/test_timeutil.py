"""Times as Chinese sites print them: parse_local's fast path gives what strptime over its formats gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.timeutil import _by_strptime as by_strptime
from core.timeutil import parse_local


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25 16:00", "2026-11-25T08:00:00+00:00"),
        ("2026-11-25 16:00:30", "2026-11-25T08:00:30+00:00"),
        ("2026-11-25", "2026-11-24T16:00:00+00:00"),
        ("2026/1/5 09:05", "2026-01-05T01:05:00+00:00"),
        ("2026年11月25日 16:00", "2026-11-25T08:00:00+00:00"),
        ("  2026年3月1日  ", "2026-02-28T16:00:00+00:00"),
        ("2026-13-01", None),
        ("2026-02-30 10:00", None),
        ("昨天 16:00", None),
        ("", None),
    ],
)
def test_known_times(text, expected):
    assert parse_local(text) == expected == by_strptime(text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from([*"0123456789", "-", "/", " ", ":", "年", "月", "日", "\t", "２"]), max_size=22).map(
        "".join
    )
    | st.builds(
        lambda y, mo, d, sep, t: f"{y}{sep[0]}{mo}{sep[1]}{d}{sep[2]}{t}",
        st.integers(0, 9999),
        st.integers(0, 14),
        st.integers(0, 33),
        st.sampled_from([("-", "-", ""), ("/", "/", ""), ("年", "月", "日")]),
        st.sampled_from(["", " 16:00", " 9:5", " 16:00:59", "  23:61", " 24:00", "\t7:07:07"]),
    )
)
def test_the_fast_path_gives_what_strptime_gives(text):
    assert parse_local(text) == by_strptime(text)
