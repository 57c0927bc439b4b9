"""Setting up: login, whoami, profiles, and development tokens."""

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import typer

from privacyctl import config, oidc
from privacyctl.core import Cli, Exit, command, fail

app = typer.Typer(help="Development tokens (never in production).", no_args_is_help=True)
root = typer.Typer()  # login, whoami and profiles sit at the top level

DEVICE_GRANT = oidc.DEVICE_GRANT


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
    role_claim: Annotated[
        str | None,
        typer.Option(help="The claim holding the role in the provider's tokens (shown only)."),
    ] = None,
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
    if role_claim:
        profile.role_claim = role_claim
    token = token or os.environ.get("PRIVACYCTL_TOKEN")
    profile.refresh_token = None
    if not token and profile.issuer:
        answer = device_flow(cli, profile.issuer, profile.client_id)
        token = str(answer["access_token"])
        profile.refresh_token = answer.get("refresh_token")
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
    cli.say(
        f"signed in to profile '{cli.profile_name}' as {_who(claims, profile.role_claim)} "
        f"(saved in {path})"
    )
    cli.result(_identity(cli.profile_name, profile), human=lambda: None)


def device_flow(
    cli: Cli, issuer: str, client_id: str, *, http: httpx.Client | None = None
) -> dict[str, Any]:
    """OAuth 2.0 device authorization (RFC 8628): show the code, poll for the tokens."""
    own = http is None
    http = http or httpx.Client(timeout=10)
    try:
        meta = oidc.discover(http, issuer)
        grant = oidc.start_device_flow(http, meta, client_id)
        if grant.verification_uri_complete:
            cli.err.print(f"Open {grant.verification_uri_complete} and sign in")
            cli.err.print(
                f"(or open {grant.verification_uri} and enter the code {grant.user_code})"
            )
        else:
            cli.err.print(f"Open {grant.verification_uri} and enter the code {grant.user_code}")
        return oidc.poll_device_flow(http, meta, client_id, grant)
    except oidc.ProviderError as exc:
        code = Exit.UNAVAILABLE if exc.unavailable else Exit.AUTH
        hint = None if exc.unavailable else "run 'privacyctl login' again"
        fail(f"{exc} ({issuer})", code, hint)
    finally:
        if own:
            http.close()


def _who(claims: dict[str, Any], role_claim: str = "role") -> str:
    role = claims.get(role_claim, "?")
    extra = claims.get("org_id") or claims.get("user_id")
    return f"{claims.get('sub', '?')} ({role}{', ' + extra if extra else ''})"


def _identity(name: str, profile: config.Profile) -> dict[str, Any]:
    claims = config.claims(profile.token) if profile.token else {}
    exp = claims.get("exp")
    return {
        "profile": name,
        "signed_in": bool(profile.token),
        "sub": claims.get("sub"),
        "role": claims.get(profile.role_claim),
        "org_id": claims.get("org_id"),
        "user_id": claims.get("user_id"),
        "expires_at": datetime.fromtimestamp(exp, UTC).isoformat() if exp else None,
        "expired": bool(profile.token) and config.expired(profile.token or ""),
        "urls": profile.urls,
        "issuer": profile.issuer,
        "renewable": bool(profile.refresh_token and profile.issuer),
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
                f"profile '{cli.profile_name}': "
                f"{_who(config.claims(profile.token or ''), profile.role_claim)}"
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
