"""The probes' samples: each settled probe keeps its POST time, latency and legs together."""

from __future__ import annotations

from tradestream.bots.stats import Stats


def test_a_settled_probe_is_traced_with_its_post_time_and_legs() -> None:
    stats = Stats()
    stats.probe(final=0.4, position=0.9, timed_out=False, trace=(100.0, (0.01, 0.1, 0.29)))
    stats.probe(final=0.2, position=None, timed_out=True, trace=(101.0, (0.01, 0.05, 0.14)))
    stats.probe(final=None, position=None, timed_out=True)  # never settled: nothing to trace
    assert stats.latencies.traced == [(100.0, 0.4, (0.01, 0.1, 0.29)), (101.0, 0.2, (0.01, 0.05, 0.14))]
    assert stats.latencies.to_final == [0.4, 0.2]
    assert stats.latencies.timeouts == 2
