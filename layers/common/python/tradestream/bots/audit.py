"""The audit at the end of a run, repeated until what it finds stops changing.

The order-status projection can be done while the journal, portfolio or market-data projections are
still applying the last batches; a violation that is only lag disappears on the next reading, a real
one stays. So the audit is read again after a pause until it passes or two readings agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tradestream.audit import AuditConfig, Dataset, Report, run_audit


def settled_audit(
    config: AuditConfig,
    *,
    attempts: int = 6,
    pause: float = 3.0,
    progress: Callable[[str], None] | None = None,
) -> tuple[Dataset, Report]:
    previous: set[str] | None = None
    data, report = run_audit(config)
    for _ in range(attempts - 1):
        found = {str(f) for f in report.violations}
        if not found or found == previous:
            break
        if progress is not None:
            progress(
                f"[audit] {len(found)} difference(s), reading again in {pause:.0f}s (projections may lag)"
            )
        previous = found
        time.sleep(pause)
        data, report = run_audit(config)
    return data, report
