"""The token issuer settings (the server's and the gateway renderer's reading of the same JSON), and the rich error
the gateway attaches to its gRPC refusals."""

from __future__ import annotations

import base64

import pytest
from google.rpc import error_details_pb2, status_pb2

from storyloom.config import TOKEN_ALGORITHMS, TokenIssuerSettings, token_issuers_from_json
from tests.support.gateway import render_config

FIREBASE = ('{"issuer": "https://securetoken.google.com/p", "audiences": "p", '
            '"jwks_url": "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"}')


def test_one_issuer_or_a_list_with_defaults() -> None:
    (one,) = token_issuers_from_json(FIREBASE)
    assert one == TokenIssuerSettings("https://securetoken.google.com/p", ("p",), one.jwks_url, "", TOKEN_ALGORITHMS)
    two = token_issuers_from_json(f'[{FIREBASE}, {{"issuer": "https://c.clerk.accounts.dev", '
                                  f'"jwks_file": "/etc/jwks.json", "algorithms": ["RS256"]}}]')
    assert [i.audiences for i in two] == [("p",), ()] and two[1].algorithms == ("RS256",)
    assert token_issuers_from_json("") == ()
    # The gateway reads the same JSON to the same values.
    assert [vars(i) for i in render_config.read_token_issuers(FIREBASE)] == [vars(one)]


@pytest.mark.parametrize("text", [
    '{"issuer": "https://a"}',  # no keys
    '{"jwks_url": "https://a/jwks"}',  # no issuer
    '{"issuer": "https://a", "jwks_url": "https://a/j", "algorithms": ["HS256"]}',  # a shared-secret algorithm
    '{"issuer": "https://a", "jwks_url": "https://a/j", "audience": "typo"}',  # an unknown key
    f"[{FIREBASE}, {FIREBASE}]",  # twice
])
def test_a_wrong_issuer_setting_stops_the_server_from_starting(text: str) -> None:
    with pytest.raises(ValueError):
        token_issuers_from_json(text)


def test_the_gateways_grpc_refusal_carries_one_error_info() -> None:
    encoded = render_config.status_details_bin(16, "The token has expired.", "TOKEN_EXPIRED", {"source": "gateway"})
    status = status_pb2.Status.FromString(base64.b64decode(encoded))
    info = error_details_pb2.ErrorInfo()
    assert status.code == 16 and status.message == "The token has expired." and len(status.details) == 1
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == ("TOKEN_EXPIRED", "storyloom.v1", {"source": "gateway"})
