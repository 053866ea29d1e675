"""Where the client finds its host, API token and organization: resolved in one place.

Order, first found wins:

1. explicit arguments;
2. Pulumi stack config: ``astrokeys:host``, ``astrokeys:apiToken``, ``astrokeys:organizationId``;
3. the environment: ``ASTRO_API_HOST``, ``ASTRO_API_TOKEN``, ``ASTRO_ORGANIZATION_ID``
   (the names Astronomer's own tools read).

The host defaults to ``https://api.astronomer.io``. Plain ``http://`` is refused
except for loopback hosts (the local emulator).

How hard the provider's client tries is tunable the same way (stack config first, then
the environment); unset, the client's defaults apply:

- ``astrokeys:maxRetries`` / ``ASTROKEYS_MAX_RETRIES``: retries of a failed request
  (0 to 20, default 5); a 429 is no failure and spends none: it is waited out for as
  long as the request's time budget lasts;
- ``astrokeys:retryBackoff`` / ``ASTROKEYS_RETRY_BACKOFF``: seconds before the first
  retry, doubling with each further one (0 to 60, default 0.5); a server's
  ``Retry-After`` still wins when longer;
- ``astrokeys:requestTimeout`` / ``ASTROKEYS_REQUEST_TIMEOUT``: seconds one request may
  take as a whole, from sending it to the last byte of the answer (more than 0, at most
  600, default 30).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

from pydantic import SecretStr

from ._errors import ConfigurationError

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_HOST",
    "AstroSettings",
    "RequestSettings",
    "resolve_request_settings",
    "resolve_settings",
    "settings_problem",
]

DEFAULT_HOST = "https://api.astronomer.io"
CONFIG_NAMESPACE = "astrokeys"


@dataclass(frozen=True)
class _Setting:
    config_key: str
    env_var: str
    what: str
    secret: bool = False

    @property
    def full_config_key(self) -> str:
        return f"{CONFIG_NAMESPACE}:{self.config_key}"

    def config_command(self) -> str:
        secret = "--secret " if self.secret else ""
        return f"`pulumi config set {secret}{self.full_config_key} <value>`"

    def how_to_set(self) -> str:
        return f"set it with {self.config_command()} or the environment variable {self.env_var}"


def _missing(settings: list[_Setting], stack_config: bool) -> ConfigurationError:
    """One sentence naming the missing settings and every way the caller reads them."""
    if len(settings) == 1:
        (setting,) = settings
        if stack_config:
            return ConfigurationError(f"No {setting.what} is configured: {setting.how_to_set()}.")
        return ConfigurationError(f"No {setting.what} is set: set the environment variable {setting.env_var}.")
    what = " and no ".join(setting.what for setting in settings)
    variables = " and ".join(setting.env_var for setting in settings)
    if stack_config:
        commands = " and ".join(setting.config_command() for setting in settings)
        return ConfigurationError(
            f"No {what} are configured: set them with {commands}, or the environment variables {variables}."
        )
    return ConfigurationError(f"No {what} are set: set the environment variables {variables}.")


HOST = _Setting("host", "ASTRO_API_HOST", "Astro API host")
API_TOKEN = _Setting("apiToken", "ASTRO_API_TOKEN", "Astro API token", secret=True)
ORGANIZATION_ID = _Setting("organizationId", "ASTRO_ORGANIZATION_ID", "Astro organization ID")
MAX_RETRIES = _Setting("maxRetries", "ASTROKEYS_MAX_RETRIES", "number of retries")
RETRY_BACKOFF = _Setting("retryBackoff", "ASTROKEYS_RETRY_BACKOFF", "retry backoff")
REQUEST_TIMEOUT = _Setting("requestTimeout", "ASTROKEYS_REQUEST_TIMEOUT", "request timeout")
CONFIG_KEYS: tuple[str, ...] = tuple(
    s.full_config_key
    for s in (HOST, API_TOKEN, ORGANIZATION_ID, MAX_RETRIES, RETRY_BACKOFF, REQUEST_TIMEOUT)
)
"""The stack config keys the provider reads."""


@dataclass(frozen=True)
class AstroSettings:
    """Resolved connection settings. ``repr`` never shows the API token."""

    host: str
    api_token: SecretStr
    organization_id: str

    @property
    def base_url(self) -> str:
        """The API base, ``{host}/v1``."""
        return f"{self.host}/v1"

    @property
    def organization_url(self) -> str:
        """The base of every organization-scoped path."""
        return f"{self.base_url}/organizations/{self.organization_id}"


def resolve_settings(
    *,
    host: Optional[str] = None,
    api_token: Optional[str] = None,
    organization_id: Optional[str] = None,
    config: Optional[Mapping[str, Any]] = None,
    environ: Optional[Mapping[str, str]] = None,
    stack_config: bool = True,
) -> AstroSettings:
    """Resolve the settings from arguments, then stack config, then the environment.

    ``config`` maps full config keys (``astrokeys:apiToken``) to values, as the Pulumi
    engine hands them to a provider. Raises :class:`ConfigurationError` naming the
    settings to set when the token or organization is missing (both at once when both
    are), or the host is unsafe. ``stack_config=False`` is for a caller that reads no
    stack config (``astrokeys audit``): its message names the environment variables only.
    """
    config = config or {}
    environ = os.environ if environ is None else environ

    def pick(explicit: Optional[str], setting: _Setting) -> Optional[str]:
        for value in (explicit, config.get(setting.full_config_key), environ.get(setting.env_var)):
            if value is not None and str(value).strip():
                return str(value).strip()
        return None

    resolved_host = _normalise_host(pick(host, HOST) or DEFAULT_HOST)
    token = pick(api_token, API_TOKEN)
    organization = pick(organization_id, ORGANIZATION_ID)
    if token is None or organization is None:
        missing = [setting for setting, value in ((API_TOKEN, token), (ORGANIZATION_ID, organization)) if value is None]
        raise _missing(missing, stack_config)
    return AstroSettings(host=resolved_host, api_token=SecretStr(token), organization_id=organization)


def settings_problem(config: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Why the connection settings of ``config`` and the environment do not resolve, or ``None``.

    For a preview to fail on missing or unsafe settings without a request to the API.
    """
    try:
        resolve_settings(config=config, environ=environ)
    except ConfigurationError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class RequestSettings:
    """How hard the client tries; ``None`` leaves the client's default."""

    max_retries: Optional[int] = None
    retry_backoff: Optional[float] = None
    request_timeout: Optional[float] = None


def resolve_request_settings(
    *, config: Optional[Mapping[str, Any]] = None, environ: Optional[Mapping[str, str]] = None
) -> RequestSettings:
    """Resolve the retry and timeout settings from stack config, then the environment.

    Raises :class:`ConfigurationError` naming the setting when a value is out of range.
    """
    config = config or {}
    environ = os.environ if environ is None else environ

    def number(setting: _Setting, high: float, *, whole: bool = False, zero: bool = True) -> Optional[float]:
        for value in (config.get(setting.full_config_key), environ.get(setting.env_var)):
            if value is None or not str(value).strip():
                continue
            text = str(value).strip()
            try:
                parsed: Optional[float] = int(text) if whole else float(text)
            except ValueError:
                parsed = None
            if parsed is None or not (0 <= parsed if zero else 0 < parsed) or not parsed <= high:
                kind = "a whole number" if whole else "a number of seconds"
                low = "from 0" if zero else "above 0"
                raise ConfigurationError(
                    f"The {setting.what} {text!r} is not {kind} {low} up to {high:g}: {setting.how_to_set()}."
                )
            return parsed
        return None

    retries = number(MAX_RETRIES, 20, whole=True)
    backoff = number(RETRY_BACKOFF, 60)
    timeout = number(REQUEST_TIMEOUT, 600, zero=False)
    return RequestSettings(
        max_retries=None if retries is None else int(retries),
        retry_backoff=backoff,
        request_timeout=timeout,
    )


def _normalise_host(host: str) -> str:
    """Validate the host URL and strip a trailing slash or ``/v1``."""
    parts = urlsplit(host)
    if parts.username is not None or parts.password is not None:
        # Shown without the part before "@": it may hold a password, which must not reach a log.
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        raise ConfigurationError(
            f"The {HOST.what} {shown!r} was given with a user name or password before '@', which would "
            f"replace the API token with Basic auth and show in logs; remove it (the API token is the only "
            f"credential): {HOST.how_to_set()}."
        )
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            f"The {HOST.what} {host!r} is not a URL like https://api.astronomer.io: {HOST.how_to_set()}."
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"The {HOST.what} {host!r} uses plain http://, which would send the API token unencrypted; "
            f"use https:// (plain http is accepted only for loopback hosts such as the local emulator)."
        )
    cleaned = host.rstrip("/")
    if cleaned.endswith("/v1"):
        cleaned = cleaned[: -len("/v1")]
    return cleaned


def is_loopback(hostname: str) -> bool:
    """Whether a host name is this machine (``localhost`` or a loopback address)."""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
