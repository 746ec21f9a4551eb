"""Session-wide RSA key pairs for the auth tests: 2048-bit (the dev key is 3072) and made once, for speed."""

from __future__ import annotations

import pytest

from tradestream.auth import generate_dev_keypair

TEST_KEY_BITS = 2048


@pytest.fixture(scope="session")
def current_pems() -> tuple[str, str]:
    """(private PEM, public PEM) of the key that signs today."""
    return generate_dev_keypair(TEST_KEY_BITS)


@pytest.fixture(scope="session")
def previous_pems() -> tuple[str, str]:
    """The key that signed before the last rotation."""
    return generate_dev_keypair(TEST_KEY_BITS)


@pytest.fixture(scope="session")
def attacker_pems() -> tuple[str, str]:
    """A well-formed key nobody trusts."""
    return generate_dev_keypair(TEST_KEY_BITS)
