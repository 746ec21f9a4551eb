"""Identity use cases: registration, login, refresh rotation with reuse detection, logout, authorization."""
