"""The ticker lane: the event-sourced book of one ticker, its log entries, and the matching use case."""
