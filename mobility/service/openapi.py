"""Write the service's OpenAPI document to ``mobility/service/openapi.json`` (the committed copy).

    python -m mobility.service.openapi [PATH]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the service serves at ``/openapi.json``."""
    from .app import create_app

    with tempfile.TemporaryDirectory() as d:
        app = create_app(Path(d) / "openapi.db")
        doc = app.openapi()
        app.state.store.close()
    return doc


def main(argv: list[str] | None = None) -> int:
    from .._io import write_text_atomic

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else HERE / "openapi.json"
    write_text_atomic(out, json.dumps(openapi_document(), indent=1, sort_keys=True) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
