"""Setting up: login, whoami, profiles, and development tokens."""

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import typer

from privacyctl import config
from privacyctl.core import Cli, Exit, command, fail

app = typer.Typer(help="Development tokens (never in production).", no_args_is_help=True)
root = typer.Typer()  # login, whoami and profiles sit at the top level

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _url_options(profile: config.Profile, given: dict[str, str | None]) -> None:
    for service, url in given.items():
        if url:
            profile.urls[service] = url


@command(root, "login", example="privacyctl login --token $(make -s token ROLE=security)")
def login(
    cli: Cli,
    token: Annotated[
        str | None, typer.Option(help="A bearer token; default: $PRIVACYCTL_TOKEN, else OIDC.")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option(help="An OpenID provider: sign in with its device-code flow.")
    ] = None,
    client_id: Annotated[str | None, typer.Option(help="The OIDC client id.")] = None,
    registry: Annotated[str | None, typer.Option(help="The registry's base URL.")] = None,
    consent: Annotated[str | None, typer.Option(help="The consent service's base URL.")] = None,
    audit: Annotated[str | None, typer.Option(help="The audit service's base URL.")] = None,
    breach: Annotated[str | None, typer.Option(help="The breach service's base URL.")] = None,
    notifier: Annotated[str | None, typer.Option(help="The notifier's base URL.")] = None,
) -> None:
    """Sign in: store a token (given, from the environment, or from an OpenID provider's
    device-code flow) and the services' URLs in a profile."""
    profile = config.load(cli.profile_name)
    _url_options(
        profile,
        {
            "registry": registry,
            "consent": consent,
            "audit": audit,
            "breach": breach,
            "notifier": notifier,
        },
    )
    if issuer:
        profile.issuer = issuer
    if client_id:
        profile.client_id = client_id
    token = token or os.environ.get("PRIVACYCTL_TOKEN")
    if not token and profile.issuer:
        token = device_flow(cli, profile.issuer, profile.client_id)
    if not token:
        fail(
            "no token given",
            Exit.USAGE,
            "pass --token, set PRIVACYCTL_TOKEN, or configure an OpenID provider with --issuer; "
            "in development: privacyctl token mint --role security",
        )
    if config.expired(token):
        fail("that token has expired", Exit.AUTH, "get a new one and log in again")
    profile.token = token
    path = config.save(cli.profile_name, profile)
    claims = config.claims(token)
    cli.say(f"signed in to profile '{cli.profile_name}' as {_who(claims)} (saved in {path})")
    cli.result(_identity(cli.profile_name, profile), human=lambda: None)


def device_flow(cli: Cli, issuer: str, client_id: str, *, http: httpx.Client | None = None) -> str:
    """OAuth 2.0 device authorization (RFC 8628): show the code, poll for the token."""
    own = http is None
    http = http or httpx.Client(timeout=10)
    try:
        meta = http.get(issuer.rstrip("/") + "/.well-known/openid-configuration").json()
        endpoint = meta.get("device_authorization_endpoint")
        if not endpoint:
            fail(f"the provider {issuer} offers no device-code flow", Exit.AUTH)
        grant = http.post(endpoint, data={"client_id": client_id, "scope": "openid"}).json()
        where = grant.get("verification_uri_complete") or grant["verification_uri"]
        cli.err.print(f"Open {where} and enter the code {grant['user_code']}")
        interval = float(grant.get("interval", 5))
        deadline = time.monotonic() + float(grant.get("expires_in", 600))
        while time.monotonic() < deadline:
            time.sleep(interval)
            answer = http.post(
                meta["token_endpoint"],
                data={
                    "grant_type": DEVICE_GRANT,
                    "device_code": grant["device_code"],
                    "client_id": client_id,
                },
            )
            body: dict[str, Any] = answer.json()
            if answer.status_code == 200:
                return str(body.get("access_token") or body["id_token"])
            error = body.get("error")
            if error == "slow_down":
                interval += 5
            elif error != "authorization_pending":
                fail(
                    f"the provider refused: {error}: {body.get('error_description', '')}", Exit.AUTH
                )
        fail("the code expired before it was entered", Exit.AUTH, "run 'privacyctl login' again")
    except httpx.TransportError as exc:
        fail(
            f"the OpenID provider at {issuer} is not reachable ({type(exc).__name__})",
            Exit.UNAVAILABLE,
        )
    finally:
        if own:
            http.close()


def _who(claims: dict[str, Any]) -> str:
    role = claims.get("role", "?")
    extra = claims.get("org_id") or claims.get("user_id")
    return f"{claims.get('sub', '?')} ({role}{', ' + extra if extra else ''})"


def _identity(name: str, profile: config.Profile) -> dict[str, Any]:
    claims = config.claims(profile.token) if profile.token else {}
    exp = claims.get("exp")
    return {
        "profile": name,
        "signed_in": bool(profile.token),
        "sub": claims.get("sub"),
        "role": claims.get("role"),
        "org_id": claims.get("org_id"),
        "user_id": claims.get("user_id"),
        "expires_at": datetime.fromtimestamp(exp, UTC).isoformat() if exp else None,
        "expired": bool(profile.token) and config.expired(profile.token or ""),
        "urls": profile.urls,
        "issuer": profile.issuer,
    }


@command(root, "whoami", example="privacyctl whoami --json")
def whoami(cli: Cli) -> None:
    """Who the profile's token says you are, its role and expiry, and the services' URLs."""
    profile = cli.profile
    me = _identity(cli.profile_name, profile)

    def show() -> None:
        if not me["signed_in"]:
            cli.out.print(f"profile '{cli.profile_name}': not signed in")
        else:
            state = "[red]expired[/red]" if me["expired"] else "valid"
            cli.out.print(
                f"profile '{cli.profile_name}': {_who(config.claims(profile.token or ''))}"
            )
            cli.out.print(f"token {state} until {me['expires_at']}")
        for service, url in profile.urls.items():
            cli.out.print(f"  {service:<9} {url}")

    cli.result(me, show)
    if not me["signed_in"] or me["expired"]:
        fail(
            "not signed in" if not me["signed_in"] else "the token has expired",
            Exit.AUTH,
            "sign in with 'privacyctl login'",
        )


@command(root, "profiles", example="privacyctl profiles")
def profiles(cli: Cli) -> None:
    """The profiles in the config file."""
    names = config.names()
    cli.result(
        {"config": str(config.config_path()), "profiles": names},
        lambda: cli.table(["profile"], ([n] for n in names), title=str(config.config_path())),
    )


@command(app, "mint", example="privacyctl token mint --role auditor")
def mint(
    cli: Cli,
    role: Annotated[
        str, typer.Option(help="platform, member_org, auditor, security, subject, admin.")
    ],
    org_id: Annotated[str | None, typer.Option(help="The organisation (member_org).")] = None,
    user_id: Annotated[str | None, typer.Option(help="The person (subject).")] = None,
    hours: Annotated[float, typer.Option(help="How long it lasts.")] = 12,
    login: Annotated[bool, typer.Option("--login", help="Also store it in the profile.")] = False,
) -> None:
    """Mint a development token with the stack's shared secret; refused in production
    settings (ENVIRONMENT=production)."""
    from shared.auth import Role, mint_token
    from shared.settings import ServiceSettings

    try:
        settings = ServiceSettings()
    except ValueError as exc:
        fail(f"the stack's settings do not load: {exc}", Exit.USAGE)
    if settings.environment == "production":
        fail(
            "tokens are not minted in production settings",
            Exit.AUTH,
            "sign in with your identity provider: privacyctl login --issuer URL",
        )
    try:
        token = mint_token(
            settings.jwt_secret.get_secret_value(),
            role=Role(role),
            org_id=org_id,
            user_id=user_id,
            issuer=settings.jwt_issuer,
            ttl=timedelta(hours=hours),
        )
    except ValueError as exc:
        fail(f"invalid input: {exc}", Exit.USAGE)
    if login:
        profile = config.load(cli.profile_name)
        profile.token = token
        config.save(cli.profile_name, profile)
        cli.say(f"stored in profile '{cli.profile_name}'")
    cli.result({"token": token}, lambda: cli.out.print(token))
