"""Orders: the API's use cases (place, read, list, cancel) and the order as clients see it."""
