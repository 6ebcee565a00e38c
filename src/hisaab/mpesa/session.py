"""The HTTP side of talking to Daraja: OAuth tokens, sending, failures.

`DarajaSession` is synchronous (workers, the CLI; httpx); `AsyncDarajaSession` is the same
protocol on the API's event loop (aiohttp), so that an STK Push waiting for Daraja holds
neither a thread nor a database connection. Both share everything but the sending.

Tokens are cached until shortly before `expires_in` (60 s, or a tenth of a short lifetime)
and fetched again once when Daraja rejects one: HTTP 401, or its "404.001.03 Invalid Access
Token" error body. Transport failures become `DarajaError`; `may_have_reached` is False only
when the request certainly never left (connect failures).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import aiohttp
import httpx

from hisaab.mpesa.errors import DarajaAuthError, DarajaError
from hisaab.mpesa.payloads.answers import is_error_body, parse_error_body
from hisaab.mpesa.protocol import OAUTH_PATH

log = logging.getLogger("hisaab.mpesa")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_TOKEN_TTL = 3599
_MAX_EARLY_REFRESH = 60.0


class DarajaSession:
    """One base URL, one set of app credentials, one cached token."""

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._consumer = (consumer_key, consumer_secret)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_good_until = 0.0

    def close(self) -> None:
        self._http.close()

    def access_token(self) -> str:
        """A valid access token: the cached one, or a new one from Daraja."""
        with self._token_lock:
            if self._token is not None and time.monotonic() < self._token_good_until:
                return self._token
            token, ttl = self._fetch_token()
            self._token = token
            self._token_good_until = time.monotonic() + ttl - min(_MAX_EARLY_REFRESH, ttl / 10)
            return token

    def _forget_token(self, token: str) -> None:
        with self._token_lock:
            if self._token == token:
                self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        response = self._send(
            "GET",
            OAUTH_PATH,
            params={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth(*self._consumer),
        )
        return _read_token(response)

    # --- transport ---------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.base_url, path) from exc

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        """POST with a bearer token; on a rejected token, fetch a new one and retry once."""
        token = self.access_token()
        response = self._send("POST", path, json=payload, headers=_bearer(token))
        if _token_rejected(response):
            log.info("Daraja rejected the access token; fetching a new one", extra={"path": path})
            self._forget_token(token)
            token = self.access_token()
            response = self._send("POST", path, json=payload, headers=_bearer(token))
            _refuse_if_rejected_again(response, path)
        return _answer(response, path)


class AsyncDarajaSession:
    """`DarajaSession` on an event loop: one base URL, one set of credentials, one token.

    It sends with aiohttp rather than httpx's AsyncClient: an STK Push's round trip to a
    local Daraja cost about 930 us of CPU through httpx and 140 us through aiohttp on this
    machine, and the API makes one per payment it initiates. Answers are read into httpx
    Responses, so both sessions read Daraja's answers with the same code. Made on the loop
    that uses it, and closed there (`aclose`).
    """

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._consumer = {"Authorization": aiohttp.encode_basic_auth(consumer_key, consumer_secret)}
        self._timeout = aiohttp.ClientTimeout(
            total=timeout.read, connect=timeout.connect, sock_read=timeout.read
        )
        self._http: aiohttp.ClientSession | None = None
        self._token_lock = asyncio.Lock()
        self._token: str | None = None
        self._token_good_until = 0.0

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            # Keep-alive connections for as many pushes as are in flight at once.
            connector = aiohttp.TCPConnector(limit=256, limit_per_host=256)
            self._http = aiohttp.ClientSession(
                timeout=self._timeout, connector=connector, raise_for_status=False
            )
        return self._http

    async def access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_good_until:
            return self._token
        async with self._token_lock:
            if self._token is not None and time.monotonic() < self._token_good_until:
                return self._token  # fetched by another task while this one waited
            response = await self._send(
                "GET",
                OAUTH_PATH,
                params={"grant_type": "client_credentials"},
                headers=self._consumer,
            )
            token, ttl = _read_token(response)
            self._token = token
            self._token_good_until = time.monotonic() + ttl - min(_MAX_EARLY_REFRESH, ttl / 10)
            return token

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            async with self._client().request(method, self.base_url + path, **kwargs) as answer:
                body = await answer.read()
                return httpx.Response(
                    answer.status,
                    content=body,
                    headers={"content-type": answer.headers.get("content-type", "")},
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _aiohttp_error(exc, self.base_url, path) from exc

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        token = await self.access_token()
        response = await self._send("POST", path, json=payload, headers=_bearer(token))
        if _token_rejected(response):
            log.info("Daraja rejected the access token; fetching a new one", extra={"path": path})
            if self._token == token:
                self._token = None
            token = await self.access_token()
            response = await self._send("POST", path, json=payload, headers=_bearer(token))
            _refuse_if_rejected_again(response, path)
        return _answer(response, path)


def _aiohttp_error(exc: BaseException, base_url: str, path: str) -> DarajaError:
    """The same DarajaError as `_transport_error` says for httpx's failures."""
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return _failure("unreachable", exc, base_url, path)
    if isinstance(exc, TimeoutError):
        return _failure("timeout", exc, base_url, path)
    return _failure("broken", exc, base_url, path)


def _read_token(response: httpx.Response) -> tuple[str, float]:
    body = _json_or_none(response)
    if response.status_code != 200 or not isinstance(body, dict):
        error = parse_error_body(body) if is_error_body(body) else None
        raise DarajaAuthError(
            f"Daraja refused the consumer key and secret (HTTP {response.status_code}"
            + (f": {error.error_code} {error.error_message}" if error else "")
            + "): check HISAAB_MPESA_CONSUMER_KEY and HISAAB_MPESA_CONSUMER_SECRET",
            error_code=error.error_code if error else None,
            error_message=error.error_message if error else None,
            request_id=error.request_id if error else None,
            upstream_status=response.status_code,
        )
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise DarajaAuthError(
            "Daraja's OAuth answer has no access_token", upstream_status=response.status_code
        )
    try:
        ttl = float(str(body.get("expires_in", DEFAULT_TOKEN_TTL)).strip())
    except ValueError:
        ttl = DEFAULT_TOKEN_TTL  # the token still works; a 401 later refreshes it
    return token, max(ttl, 0.0)


def _transport_error(exc: httpx.HTTPError, base_url: str, path: str) -> DarajaError:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return _failure("unreachable", exc, base_url, path)
    if isinstance(exc, httpx.TimeoutException):
        return _failure("timeout", exc, base_url, path)
    return _failure("broken", exc, base_url, path)


def _failure(kind: str, exc: BaseException, base_url: str, path: str) -> DarajaError:
    """What a failure to get Daraja's answer means: never sent, or perhaps acted upon."""
    if kind == "unreachable":
        return DarajaError(
            f"cannot reach Daraja at {base_url}: {type(exc).__name__}: {exc}",
            may_have_reached=False,
        )
    if kind == "timeout":
        return DarajaError(
            f"Daraja did not answer {path} in time ({type(exc).__name__}); the request may "
            "have been processed: query before retrying",
            may_have_reached=True,
        )
    return DarajaError(
        f"Daraja connection failed during {path}: {type(exc).__name__}: {exc}",
        may_have_reached=True,
    )


def _refuse_if_rejected_again(response: httpx.Response, path: str) -> None:
    if _token_rejected(response):
        raise DarajaAuthError(
            f"Daraja rejected a freshly issued access token on {path}",
            upstream_status=response.status_code,
        )


def _answer(response: httpx.Response, path: str) -> tuple[int, Any]:
    body = _json_or_none(response)
    if body is None:
        raise DarajaError(
            f"Daraja answered {path} with HTTP {response.status_code} and a body that is "
            f"not JSON: {response.text[:200]!r}",
            upstream_status=response.status_code,
        )
    return response.status_code, body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _token_rejected(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    body = _json_or_none(response)
    if not is_error_body(body):
        return False
    message = str(body.get("errorMessage") or "").lower()
    return str(body.get("errorCode")) == "404.001.03" or "invalid access token" in message
