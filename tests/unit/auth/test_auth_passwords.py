"""Argon2id hashing, verification, rehash detection, and the decoy verify for unknown users."""

from __future__ import annotations

from unittest.mock import Mock

import argon2
import pytest
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tradestream.auth import passwords
from tradestream.auth.passwords import PasswordHashing, default_hasher


def _cheap_hasher() -> PasswordHasher:
    # Cheap parameters keep the spy tests fast; the production parameters are asserted separately.
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _spy() -> Mock:
    return Mock(wraps=_cheap_hasher())


def test_hashes_are_argon2id_with_the_lambda_parameters() -> None:
    params = argon2.extract_parameters(passwords.hash_password("correct horse"))
    assert params.type is argon2.Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (2, 19 * 1024, 1)


def test_right_password_verifies_and_wrong_one_does_not() -> None:
    stored = passwords.hash_password("correct horse")
    assert passwords.verify_password(stored, "correct horse") is True
    assert passwords.verify_password(stored, "correct horse ") is False
    assert passwords.verify_password(stored, "") is False


def test_each_hash_is_salted() -> None:
    assert passwords.hash_password("same password") != passwords.hash_password("same password")


@pytest.mark.parametrize(
    ("stored", "error"),
    [("not-a-hash", InvalidHashError), ("$argon2id$garbage", VerificationError), ("", InvalidHashError)],
)
def test_a_corrupt_stored_hash_raises_instead_of_reading_as_a_wrong_password(
    stored: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        passwords.verify_password(stored, "whatever1")


def test_needs_rehash_flags_hashes_made_with_other_parameters() -> None:
    weak = _cheap_hasher().hash("correct horse")
    assert passwords.needs_rehash(weak) is True
    assert passwords.needs_rehash(passwords.hash_password("correct horse")) is False
    # A hash with old parameters still verifies, so the login that notices can rehash it.
    assert passwords.verify_password(weak, "correct horse") is True


def test_burn_verify_runs_a_real_verify_on_a_hash_made_by_the_same_hasher() -> None:
    spy = _spy()
    PasswordHashing(spy).burn_verify()

    spy.verify.assert_called_once()
    decoy_hash, attempted = spy.verify.call_args.args
    assert spy.hash.call_count == 1
    # Same parameters as every stored hash, hence the same cost as a wrong password for a real user.
    assert argon2.extract_parameters(decoy_hash) == argon2.extract_parameters(spy.hash("x"))
    assert isinstance(attempted, str)
    assert attempted


def test_burn_verify_reuses_its_decoy_and_verifies_every_time() -> None:
    spy = _spy()
    hashing = PasswordHashing(spy)
    hashing.burn_verify()
    hashing.burn_verify()
    assert spy.hash.call_count == 1
    assert spy.verify.call_count == 2
    first, second = (call.args[0] for call in spy.verify.call_args_list)
    assert first == second


def test_wrong_password_and_unknown_user_go_through_the_same_verify() -> None:
    spy = _spy()
    hashing = PasswordHashing(spy)
    stored = hashing.hash_password("correct horse")
    assert hashing.verify_password(stored, "wrong horse") is False
    hashing.burn_verify()
    verified_hashes = [call.args[0] for call in spy.verify.call_args_list]
    assert len(verified_hashes) == 2
    assert argon2.extract_parameters(verified_hashes[0]) == argon2.extract_parameters(verified_hashes[1])


def test_module_level_burn_verify_uses_the_default_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Mock(wraps=default_hasher())
    monkeypatch.setattr(passwords, "_default", PasswordHashing(spy))
    passwords.burn_verify()
    spy.verify.assert_called_once()
    decoy_hash = spy.verify.call_args.args[0]
    assert argon2.extract_parameters(decoy_hash) == argon2.extract_parameters(passwords.hash_password("x"))
