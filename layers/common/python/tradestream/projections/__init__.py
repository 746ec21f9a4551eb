"""Projections of the matching events: each folds committed log entries into its table, idempotently."""
