"""Transport rules: TLS verified by default, no plain HTTP to a remote host, no bearer off-origin."""

from __future__ import annotations

import ssl

import pytest

from prefect_sora._errors import InvalidParameter
from prefect_sora._transport.client import SoraClient
from prefect_sora.blocks import SoraCredentials


def ssl_context_of(client: SoraClient) -> ssl.SSLContext:
    # The pool's context is what every https connection of this client is made with.
    context = client._http._transport._inner._pool._ssl_context  # type: ignore[attr-defined]
    assert isinstance(context, ssl.SSLContext)
    return context


def test_tls_certificates_and_host_names_are_verified_by_default() -> None:
    client = SoraCredentials(api_key="sk-tls", base_url="https://api.example.com/v1").get_client()
    context = ssl_context_of(client)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


@pytest.mark.parametrize("url", ["http://api.example.com/v1", "http://10.0.0.5:8000/v1", "http://[2001:db8::1]/v1"])
def test_plain_http_to_a_remote_host_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidParameter, match="must use https"):
        SoraClient(api_key="sk-http", base_url=url)
    assert SoraClient(api_key="sk-http", base_url=url, allow_insecure_http=True).base_url == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v1", "http://localhost/v1", "http://[::1]:9/v1"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert SoraClient(api_key="sk-http", base_url=url).base_url == url


@pytest.mark.parametrize(
    "url", ["ftp://api.example.com/v1", "api.example.com/v1", "https://user:pw@api.example.com/v1"]
)
def test_base_urls_that_are_not_plain_https_endpoints_are_refused(url: str) -> None:
    with pytest.raises(InvalidParameter):
        SoraClient(api_key="sk-http", base_url=url)
