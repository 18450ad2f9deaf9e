"""``crm-adapter serve`` (the CRM HTTP API) and ``crm-adapter users`` (its users and tokens).

``adapter.cli`` registers both; FastAPI, uvicorn and the store are imported when a command
runs, so that starting any other command stays cheap. A token is printed once, when issued,
and stored only as its SHA-256.
"""

from __future__ import annotations

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port (0: any free one).",
)
def serve_cmd(host: str, port: int) -> None:
    """Serve the CRM API until Ctrl-C: /api/v1/…, the OpenAPI document at /openapi.json and
    interactive docs at /docs. Callers authenticate with `Authorization: Bearer TOKEN` (tokens
    from `crm-adapter users add`). The store must be migrated."""
    from adapter.api.server import serve
    from adapter.logs import configure_logging
    from adapter.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve(
        settings,
        host,
        port,
        announce=lambda url: click.echo(
            f"api: {url} (docs {url}/docs, console {url}/console)", nl=True
        ),
    )


@click.group("users")
def users_group() -> None:
    """Users of the CRM API, their roles and bearer tokens."""


def _print_token(verb: str, name: str, role: str | None, token_id: str, token: str) -> None:
    role_text = f" (role {role})" if role else ""
    click.echo(f"{verb} {name}{role_text}; token {token_id}, shown once, keep it secret:")
    click.echo(token)


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, help="agent, supervisor, backoffice, admin or provisioning.")
@click.option("--json", "as_json", is_flag=True)
def users_add(name: str, role: str, as_json: bool) -> None:
    """Create user NAME with ROLE and print its first token (once: only its hash is kept)."""
    from adapter.api.access import add_user
    from adapter.cli import _container, _dump, _errors

    with _errors():
        issued = add_user(_container().engine, name, role)
    if as_json:
        _dump({"user": name, "role": role, "token_id": issued.token_id, "token": issued.token})
    else:
        _print_token("created user", name, role, issued.token_id, issued.token)


@users_group.command("token")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def users_token(name: str, as_json: bool) -> None:
    """Issue another token for NAME (the others stay valid until revoked)."""
    from adapter.api.access import issue_token
    from adapter.cli import _container, _dump, _errors

    with _errors():
        issued = issue_token(_container().engine, name)
    if as_json:
        _dump({"user": name, "token_id": issued.token_id, "token": issued.token})
    else:
        _print_token("new token for", name, None, issued.token_id, issued.token)


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json: bool) -> None:
    """Every user with role, state and tokens (ids only: tokens are not stored)."""
    from adapter.api.access import list_users
    from adapter.cli import _container, _dump, _errors

    with _errors():
        users = list_users(_container().engine)
    if as_json:
        _dump([u.as_dict() for u in users])
        return
    if not users:
        click.echo("no users; add one with `crm-adapter users add NAME --role ROLE`")
    for user in users:
        active = [tok for tok in user.tokens if tok["revoked_at"] is None]
        state = "disabled" if user.disabled_at else "active"
        ids = ", ".join(str(tok["id"]) for tok in active) or "-"
        click.echo(f"{user.name:<24} {user.role:<13} {state:<9} tokens: {ids}")


@users_group.command("revoke")
@click.argument("name", required=False)
@click.option("--token", "token_id", help="Revoke only this token (its id, from `users list`).")
def users_revoke(name: str | None, token_id: str | None) -> None:
    """Disable user NAME and revoke all its tokens, or revoke one token with --token ID."""
    from adapter.api.access import revoke_token, revoke_user
    from adapter.cli import EXIT_INPUT, _container, _errors, _fail

    if bool(name) == bool(token_id):
        _fail("give a user NAME or --token ID (one of them)", EXIT_INPUT)
    with _errors():
        if token_id:
            owner = revoke_token(_container().engine, token_id)
            click.echo(f"revoked token {token_id} of {owner}")
        else:
            assert name is not None
            count = revoke_user(_container().engine, name)
            click.echo(f"disabled user {name}; revoked {count} token(s)")


@users_group.command("roles")
@click.option("--json", "as_json", is_flag=True)
def users_roles(as_json: bool) -> None:
    """The roles and the privileges each holds."""
    from adapter.api.privileges import PRIVILEGE_DESCRIPTIONS, ROLES
    from adapter.cli import _dump

    if as_json:
        _dump({role: sorted(p.value for p in privileges) for role, privileges in ROLES.items()})
        return
    for role, privileges in ROLES.items():
        click.echo(f"{role}: {', '.join(sorted(p.value for p in privileges))}")
    click.echo("\nprivileges:")
    for privilege, text in PRIVILEGE_DESCRIPTIONS.items():
        click.echo(f"  {privilege.value:<26} {text}")
