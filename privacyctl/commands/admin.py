"""The administrators' commands: the organisation directory and access grants."""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from privacyctl import lazy
from privacyctl.core import Cli, Exit, command, fail

if TYPE_CHECKING:
    from client import consent
    from client.models import consent as models
else:  # loaded when a command uses them (privacyctl.lazy)
    consent = lazy.module("client.consent")
    models = lazy.module("client.models.consent")

orgs = typer.Typer(help="The member-organisation directory.", no_args_is_help=True)
grants = typer.Typer(
    help="Organisations' time-bound access to data categories.", no_args_is_help=True
)

Slug = Annotated[str, typer.Argument(help="The organisation's slug, e.g. ph-philexport.")]


def _model(kind: Any, data: dict[str, Any]) -> Any:
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"invalid input: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}", Exit.USAGE)


@command(orgs, "list", example="privacyctl org list --json")
def org_list(cli: Cli) -> None:
    """Every organisation of the directory, retired ones marked."""
    rows = cli.client.send(consent.organisations())
    cli.result(
        rows,
        lambda: cli.table(
            ["slug", "name", "country", "kind", "privacy contact", "retired"],
            ((o.slug, o.name, o.country, o.kind, o.privacy_contact, o.retired_at) for o in rows),
        ),
    )


@command(
    orgs,
    "add",
    example='privacyctl org add ph-philexport --name "PhilExport" --country PH --kind private',
)
def org_add(
    cli: Cli,
    slug: Slug,
    name: Annotated[str, typer.Option(help="Its name.")],
    kind: Annotated[str, typer.Option(help="governmental, non_governmental, private, regional.")],
    country: Annotated[str | None, typer.Option(help="Its country (ISO code).")] = None,
    privacy_contact: Annotated[str | None, typer.Option(help="Where Art. 19 notices go.")] = None,
    standing_access: Annotated[
        bool, typer.Option(help="Access under contract, not consent.")
    ] = False,
) -> None:
    """Add an organisation to the directory."""
    data = {"slug": slug, "name": name, "kind": kind, "standing_access": standing_access}
    data |= {k: v for k, v in (("country", country), ("privacy_contact", privacy_contact)) if v}
    added = cli.client.send(consent.add_organisation(_model(models.OrganisationCreate, data)))
    cli.say(f"added {added.slug}")
    cli.result(added, lambda: cli.out.print(f"{added.slug}: {added.name} ({added.kind})"))


@command(orgs, "update", example="privacyctl org update ph-philexport --privacy-contact dpo@x.ph")
def org_update(
    cli: Cli,
    slug: Slug,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    privacy_contact: Annotated[str | None, typer.Option(help="A new privacy contact.")] = None,
    no_privacy_contact: Annotated[
        bool, typer.Option("--no-privacy-contact", help="Remove the privacy contact.")
    ] = False,
) -> None:
    """Change an organisation's name or privacy contact; only what is given changes."""
    data: dict[str, Any] = {}
    if name:
        data["name"] = name
    if privacy_contact:
        data["privacy_contact"] = privacy_contact
    if no_privacy_contact:
        data["privacy_contact"] = None
    if not data:
        fail(
            "nothing to change",
            Exit.USAGE,
            "give --name, --privacy-contact or --no-privacy-contact",
        )
    updated = cli.client.send(
        consent.update_organisation(slug, _model(models.OrganisationUpdate, data))
    )
    cli.result(
        updated, lambda: cli.out.print(f"{updated.slug}: {updated.name}, {updated.privacy_contact}")
    )


@command(orgs, "retire", example="privacyctl org retire ph-philexport")
def org_retire(cli: Cli, slug: Slug) -> None:
    """Retire an organisation: no decision allows it anything from now on."""
    cli.client.send(consent.retire_organisation(slug))
    cli.say(f"retired {slug}")
    cli.result({"slug": slug, "retired": True}, human=lambda: None)


@command(grants, "list", example="privacyctl grant list --organisation ph-philexport")
def grant_list(
    cli: Cli,
    organisation: Annotated[str | None, typer.Option(help="Only this organisation's.")] = None,
) -> None:
    """Access grants, with their periods and whether they were revoked."""
    rows = cli.client.send(consent.grants(organisation))
    cli.result(
        rows,
        lambda: cli.table(
            ["grant", "organisation", "categories", "from", "until", "revoked"],
            (
                (
                    g.grant_id,
                    g.organisation,
                    ",".join(c.root for c in g.data_categories),
                    f"{g.valid_from:%Y-%m-%d}",
                    f"{g.valid_until:%Y-%m-%d}",
                    g.revoked_at,
                )
                for g in rows
            ),
        ),
    )


@command(
    grants, "add", example="privacyctl grant add ph-philexport --category email_address --days 30"
)
def grant_add(
    cli: Cli,
    organisation: Slug,
    category: Annotated[list[str], typer.Option(help="A data category (repeatable).")],
    days: Annotated[int, typer.Option(help="How long from now (or from --valid-from).")] = 30,
    valid_from: Annotated[
        datetime | None, typer.Option(help="When it starts; default now.")
    ] = None,
) -> None:
    """Grant an organisation time-bound access to some data categories."""
    start = (valid_from or datetime.now(UTC)).astimezone(UTC)
    body = {
        "organisation": organisation,
        "data_categories": category,
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=days)).isoformat(),
    }
    made = cli.client.send(consent.add_grant(_model(models.GrantCreate, body)))
    cli.say(f"grant {made.grant_id}: {organisation} until {made.valid_until:%Y-%m-%d}")
    cli.result(made, human=lambda: cli.out.print(str(made.grant_id)))


@command(grants, "revoke", example="privacyctl grant revoke 2b0c...")
def grant_revoke(
    cli: Cli, grant_id: Annotated[str, typer.Argument(help="The grant's id.")]
) -> None:
    """Revoke a grant before its end (revoking a revoked grant changes nothing)."""
    revoked = cli.client.send(consent.revoke_grant(grant_id))
    cli.say(f"revoked {revoked.grant_id}")
    cli.result(revoked, human=lambda: None)
