"""The invariant audit: reads a deployment's tables and checks every invariant of the architecture.

`python -m tradestream.audit` (or `make audit`) against the local cloud; `run_audit` from code (the bots
and the end-to-end benchmark end with it). The checks are pure functions of one reading (`checks`).
"""

from tradestream.audit.checks import AuditOptions, Finding, Report, audit
from tradestream.audit.dataset import Dataset
from tradestream.audit.runner import AuditConfig, render, run_audit

__all__ = ["AuditConfig", "AuditOptions", "Dataset", "Finding", "Report", "audit", "render", "run_audit"]
