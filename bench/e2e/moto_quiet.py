"""moto's server exactly as the local cloud runs it, minus werkzeug's log line per request.

    python bench/e2e/moto_quiet.py -H 127.0.0.1 -p PORT

An experiment of the end-to-end benchmark (`--quiet-moto`): a profile of moto under the benchmark's
load shows about a sixth of its CPU formatting and writing "POST / HTTP/1.1 200" lines (and contending
for the logging lock), which the local cloud then discards. This measures what switching it off buys.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from localcloud import motoserver  # noqa: E402 - importable once the lines above ran

if __name__ == "__main__":
    # werkzeug logs each request at INFO on its own logger; above INFO the call returns at once.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    motoserver.main()
