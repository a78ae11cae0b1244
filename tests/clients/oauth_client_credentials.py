"""Fetches client-credentials tokens from the connector's token endpoint with real OAuth 2.0
client libraries, unchanged: Authlib (HTTP Basic and form body) and requests-oauthlib (HTTP
Basic through requests' HTTPBasicAuth). Run by tests/tests/token_endpoint.rs.

Usage: python3 oauth_client_credentials.py TOKEN_URL CLIENT_ID CLIENT_SECRET
Prints one JSON object: {library_and_method: {"access_token": ...} | {"error": ...}}.
"""
import json
import os
import sys

# The local stack serves http; both libraries refuse it unless told it is a test.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.requests_client import OAuth2Session as AuthlibSession  # noqa: E402
from oauthlib.oauth2 import BackendApplicationClient  # noqa: E402
from requests.auth import HTTPBasicAuth  # noqa: E402
from requests_oauthlib import OAuth2Session as OAuthlibSession  # noqa: E402


def authlib(url, client_id, secret, method):
    session = AuthlibSession(client_id, secret, token_endpoint_auth_method=method)
    return session.fetch_token(url, grant_type="client_credentials")


def requests_oauthlib_basic(url, client_id, secret):
    session = OAuthlibSession(client=BackendApplicationClient(client_id=client_id))
    return session.fetch_token(url, auth=HTTPBasicAuth(client_id, secret))


def main():
    url, client_id, secret = sys.argv[1:4]
    attempts = {
        "authlib client_secret_basic": lambda: authlib(url, client_id, secret, "client_secret_basic"),
        "authlib client_secret_post": lambda: authlib(url, client_id, secret, "client_secret_post"),
        "requests-oauthlib HTTPBasicAuth": lambda: requests_oauthlib_basic(url, client_id, secret),
    }
    results = {}
    for name, fetch in attempts.items():
        try:
            token = fetch()
            results[name] = {"access_token": token["access_token"], "token_type": token.get("token_type")}
        except Exception as error:  # reported to the Rust test, which names the library
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
