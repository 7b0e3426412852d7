"""Official Graph SDK clients (msgraph-sdk, msgraph-beta-sdk) pointed at a complyd, imported only
when a test asks for one."""

from __future__ import annotations

import importlib
from urllib.parse import urlparse

PACKAGES = {"v1.0": ("msgraph", "msgraph-sdk"), "beta": ("msgraph_beta", "msgraph-beta-sdk")}


def graph_client(url: str, version: str, token: str):
    """A ``GraphServiceClient`` whose requests go to ``url``/``version`` with ``token``, through
    the SDK's own request adapter and default middleware."""
    if version not in PACKAGES:
        raise ValueError(f"version is v1.0 or beta, not {version!r}")
    package, distribution = PACKAGES[version]
    try:
        sdk = importlib.import_module(package)
        adapters = importlib.import_module(f"{package}.graph_request_adapter")
    except ImportError as err:
        raise ImportError(f"the {version} Graph client needs {distribution}: pip install {distribution}") from err
    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )

    class ComplydToken(AccessTokenProvider):
        """The one token, for complyd's host only."""

        def __init__(self) -> None:
            self.validator = AllowedHostsValidator([urlparse(url).hostname or ""])

        async def get_authorization_token(self, uri, additional_authentication_context=None):
            return token

        def get_allowed_hosts_validator(self):
            return self.validator

    import httpx
    from msgraph_core import GraphClientFactory

    # The SDK's own middleware over a client that ignores proxy settings: complyd is on loopback.
    client = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(trust_env=False, timeout=30.0), options=adapters.options
    )
    adapter = adapters.GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(ComplydToken()), client=client)
    adapter.base_url = f"{url}/{version}"
    return sdk.GraphServiceClient(request_adapter=adapter)
