"""Writes the local signing key material (a 3072-bit RSA key) in the format the functions read from SSM."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tradestream.auth import generate_dev_keypair, jwk_thumbprint
from tradestream.auth.keys import SigningKey


def main(folder: str) -> int:
    target = Path(folder) / "signing-key.json"
    if target.exists():
        print(f"{target} exists; keeping it")
        return 0
    private_pem, public_pem = generate_dev_keypair()
    kid = jwk_thumbprint(SigningKey.from_pem(private_pem).private_key.public_key())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(
            {
                "current": {"kid": kid, "privateKeyPem": private_pem, "publicKeyPem": public_pem},
                "previous": [],
            }
        )
    )
    target.chmod(0o600)
    print(f"wrote a 3072-bit dev signing key to {target} (kid {kid})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".dev-keys"))
