"""Key material from SSM Parameter Store (SecureString JSON), cached per warm container by powertools."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters

from tradestream.auth import KeyRing


def load_keyring(parameter_name: str, *, max_age: int, with_private_key: bool) -> KeyRing:
    """JSON: `{"current": {"kid", "privateKeyPem", "publicKeyPem"}, "previous": [{"kid", "publicKeyPem"}]}`

    Verifiers (the authorizer) get no private key, so a leak of their memory cannot mint tokens.
    """
    document: Any = parameters.get_parameter(parameter_name, decrypt=True, transform="json", max_age=max_age)
    current = document["current"]
    public = [(current["kid"], current["publicKeyPem"])]
    public += [(entry["kid"], entry["publicKeyPem"]) for entry in document.get("previous", [])]
    if with_private_key:
        return KeyRing.from_pems(
            private_pem=current["privateKeyPem"], private_kid=current["kid"], public_pems=public
        )
    return KeyRing.from_pems(public_pems=public)
