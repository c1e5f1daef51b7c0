"""An HTTP decision service over the engine: ``customer-rules serve``.

Optional: needs the ``serve`` extra (``pip install 'customer-rules[serve]'``,
FastAPI and uvicorn). :func:`create_app` builds the ASGI app;
:class:`ServeConfig` holds what it serves and its limits. See the how-to
page "Serve decisions over HTTP".
"""

from __future__ import annotations

from customer_rules.serve.settings import (
    ServeConfig,
    ServeConfigError,
    build_engine,
    hash_token,
    is_local_host,
    read_token_file,
)

try:
    from customer_rules.serve.app import create_app
except ImportError as exc:  # fastapi missing: name the extra that brings it
    raise ImportError(
        f"customer_rules.serve needs the 'serve' extra: pip install 'customer-rules[serve]' ({exc})"
    ) from exc

__all__ = [
    "ServeConfig",
    "ServeConfigError",
    "build_engine",
    "create_app",
    "hash_token",
    "is_local_host",
    "read_token_file",
]
