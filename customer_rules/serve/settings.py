"""What the HTTP service serves and how it is guarded (no FastAPI import here)."""

from __future__ import annotations

import hashlib
import importlib
import ipaddress
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from customer_rules.errors import CustomerRulesError

#: environment variable with comma-separated sha256 hex digests of accepted tokens
TOKENS_ENV = "CUSTOMER_RULES_TOKEN_SHA256"

_HEX = re.compile(r"^[0-9a-f]{64}$")


class ServeConfigError(CustomerRulesError):
    """The service cannot start as configured (e.g. a public bind without tokens)."""


def hash_token(token: str) -> str:
    """The sha256 hex digest a token is stored as."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_token_file(path: str | Path) -> list[str]:
    """Token digests from a file: one sha256 hex digest a line (``sha256:`` prefix
    allowed); blank lines and ``#`` comments are skipped. Raw tokens are refused."""
    digests = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        digest = line.removeprefix("sha256:").lower()
        if not _HEX.match(digest):
            raise ServeConfigError(
                f"{path}:{n}: not a sha256 hex digest (store tokens hashed: "
                'python -c "import hashlib,sys;print(hashlib.sha256(sys.argv[1].encode()).hexdigest())" TOKEN)'
            )
        digests.append(digest)
    return digests


def is_local_host(host: str) -> bool:
    """True for a loopback bind (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServeConfig(BaseModel):
    """The service's configuration: what it loads, who may call it, its limits.

    ``token_sha256``: sha256 hex digests of the accepted API tokens (never the
    tokens); also read from ``CUSTOMER_RULES_TOKEN_SHA256`` by :meth:`from_sources`.
    When any are set every endpoint but ``/healthz`` and ``/readyz`` needs
    ``Authorization: Bearer <token>``; a non-loopback ``host`` needs them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    policies: tuple[Path, ...] = ()
    plugins: tuple[str, ...] = ()
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Scheme parameters to change: scheme id → parameter → value (checked on load).",
    )
    fitted: Path | None = None
    token_sha256: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest request body accepted.")
    max_batch: int = Field(default=1000, gt=0, description="Most records (or events) in one request.")
    time_limit_s: float = Field(default=10.0, gt=0, description="Most time a request may take to decide.")
    body_timeout_s: float = Field(default=10.0, gt=0, description="Most time between two body chunks.")
    callback_url: str | None = Field(default=None, description="Where the webhook adapter sends changes.")
    store_url: str | None = Field(
        default=None,
        description="A decision store (cr.DecisionStore URL): every decision is logged there, and"
        " stability rules read the grade history from it.",
    )
    callback_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("token_sha256")
    @classmethod
    def _digests(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(v.removeprefix("sha256:").lower() for v in value)
        for v in out:
            if not _HEX.match(v):
                raise ValueError("token_sha256 takes sha256 hex digests, not raw tokens")
        return out

    @classmethod
    def from_sources(cls, *, token_file: str | Path | None = None, **values: Any) -> ServeConfig:
        """A config from keyword values plus token digests from ``token_file``
        and the ``CUSTOMER_RULES_TOKEN_SHA256`` environment variable."""
        digests = list(values.pop("token_sha256", ()))
        if token_file is not None:
            digests += read_token_file(token_file)
        digests += [d.strip() for d in os.environ.get(TOKENS_ENV, "").split(",") if d.strip()]
        return cls(token_sha256=tuple(digests), **values)

    def check_bind(self) -> None:
        """Refuse a non-loopback bind without tokens."""
        if not is_local_host(self.host) and not self.token_sha256:
            raise ServeConfigError(
                f"refusing to listen on {self.host}: a non-local bind needs API tokens "
                f"(--token-file or {TOKENS_ENV})"
            )


def build_engine(config: ServeConfig) -> Any:
    """A fresh engine from the config: plugins (importable module names),
    policy files, parameters, then fitted cut-offs."""
    import customer_rules as cr

    plugins = []
    for name in config.plugins:
        try:
            plugins.append(importlib.import_module(name))
        except ImportError as exc:
            raise ServeConfigError(f"plugin {name!r} cannot be imported: {exc}") from exc
    engine = cr.Engine(plugins=plugins)
    for path in config.policies:
        engine.add_policy(engine.load_policy(path))
    for scheme, values in config.params.items():
        try:
            engine = engine.with_params(scheme, **values)
        except KeyError as exc:  # an unknown scheme, with a "did you mean"
            raise ServeConfigError(f"params: {exc.args[0]}") from None
        except cr.PolicyError as exc:  # a bad name or value
            raise ServeConfigError(f"params: {exc.message}") from None
    if config.fitted is not None:
        engine.load_fitted(config.fitted)
    return engine
