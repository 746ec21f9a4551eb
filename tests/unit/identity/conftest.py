"""Keys for the identity use-case tests: 2048-bit, made once per session (key generation is the slow part)."""

from __future__ import annotations

import pytest

from tradestream.auth import KeyRing, generate_dev_keypair

TEST_KEY_BITS = 2048


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    private_pem, _ = generate_dev_keypair(TEST_KEY_BITS)
    return KeyRing.from_pems(private_pem=private_pem, private_kid="unit-key")
