"""Hypothesis strategies shared by the parser fuzzers: arbitrary JSON and valid messages with one flaw."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

timestamps = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
        lambda moment: moment.isoformat()
    ),
    st.sampled_from(["2026-01-05T09:30:00", "2026-01-05", "not a time", "2026-13-45T25:61:00Z"]),
)


def mutated(messages: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid message with one field dropped, replaced by arbitrary JSON, or one field added."""

    @st.composite
    def mutate(draw: st.DrawFn) -> dict[str, Any]:
        message = dict(draw(messages))
        key = draw(st.sampled_from(sorted(message)))
        how = draw(st.sampled_from(["drop", "replace", "add"]))
        if how == "drop":
            del message[key]
        elif how == "replace":
            message[key] = draw(json_values)
        else:
            message[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
        return message

    return mutate()
