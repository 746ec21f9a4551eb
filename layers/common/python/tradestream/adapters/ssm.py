"""Key material from SSM Parameter Store (SecureString JSON), cached per warm container by powertools."""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools.utilities import parameters

from tradestream.auth import KeyRing


def load_keyring(parameter_name: str, *, max_age: int, with_private_key: bool) -> KeyRing:
    """JSON: `{"current": {"kid", "privateKeyPem", "publicKeyPem"}, "previous": [{"kid", "publicKeyPem"}]}`

    Verifiers (the authorizer) get no private key, so a leak of their memory cannot mint tokens.
    The parameter is re-read once `max_age` seconds have passed, so a rotated ring reaches warm
    containers; while the document is unchanged the same KeyRing object comes back, so callers may
    cache what they build from it (issuer, verifier) keyed on that object.
    """
    raw: Any = parameters.get_parameter(parameter_name, decrypt=True, max_age=max_age)
    return _keyring(str(raw), with_private_key)


@functools.lru_cache(maxsize=4)
def _keyring(document_json: str, with_private_key: bool) -> KeyRing:
    document = json.loads(document_json)
    current = document["current"]
    public = [(current["kid"], current["publicKeyPem"])]
    public += [(entry["kid"], entry["publicKeyPem"]) for entry in document.get("previous", [])]
    if with_private_key:
        return KeyRing.from_pems(
            private_pem=current["privateKeyPem"], private_kid=current["kid"], public_pems=public
        )
    return KeyRing.from_pems(public_pems=public)
