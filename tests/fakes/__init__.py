"""In-memory fakes of the ports in layers/common, type-checked with the tests so they cannot drift."""
