"""The gateway fixtures (a real Envoy in front of the real server) of tests/gateway, for these tests too."""

from tests.gateway.conftest import envoy, gateway, http, key, start_gateway  # noqa: F401  (fixtures)
