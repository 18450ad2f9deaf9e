"""``crm-adapter users``: tokens printed once, stored only hashed, revocable; roles listed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, select

from adapter.api.access import authenticate, token_hash
from adapter.store import tables as t


def _cli(engine: Engine, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CRM_")}
    env["CRM_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["CRM_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "adapter.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_users_add_prints_a_token_that_authenticates_as_that_user(
    engine: Engine, tmp_path: Path
) -> None:
    done = _cli(engine, tmp_path, "users", "add", "eva", "--role", "supervisor")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    caller = authenticate(engine, token)
    assert caller is not None and (caller.name, caller.role) == ("eva", "supervisor")


def test_the_token_table_holds_only_the_hash_never_the_token(
    engine: Engine, tmp_path: Path
) -> None:
    done = _cli(engine, tmp_path, "users", "add", "eva", "--role", "agent", "--json")
    token = json.loads(done.stdout)["token"]
    with engine.connect() as conn:
        rows = conn.execute(select(t.api_token)).all()
    assert len(rows) == 1
    assert all(token not in str(value) for value in rows[0])
    assert rows[0].token_hash == token_hash(token)


def test_users_list_shows_token_ids_but_no_token(engine: Engine, tmp_path: Path) -> None:
    token = json.loads(
        _cli(engine, tmp_path, "users", "add", "eva", "--role", "agent", "--json").stdout
    )["token"]
    listed = _cli(engine, tmp_path, "users", "list", "--json")
    users = json.loads(listed.stdout)
    assert [(u["name"], u["role"], len(u["tokens"])) for u in users] == [("eva", "agent", 1)]
    assert token not in listed.stdout


def test_revoking_one_token_leaves_the_users_other_token_valid(
    engine: Engine, tmp_path: Path
) -> None:
    first = json.loads(
        _cli(engine, tmp_path, "users", "add", "eva", "--role", "agent", "--json").stdout
    )
    second = json.loads(_cli(engine, tmp_path, "users", "token", "eva", "--json").stdout)
    done = _cli(engine, tmp_path, "users", "revoke", "--token", first["token_id"])
    assert done.returncode == 0, done.stderr
    assert authenticate(engine, first["token"]) is None
    assert authenticate(engine, second["token"]) is not None


def test_revoking_a_user_revokes_all_its_tokens(engine: Engine, tmp_path: Path) -> None:
    issued = json.loads(
        _cli(engine, tmp_path, "users", "add", "eva", "--role", "agent", "--json").stdout
    )
    done = _cli(engine, tmp_path, "users", "revoke", "eva")
    assert done.returncode == 0 and "revoked 1 token" in done.stdout
    assert authenticate(engine, issued["token"]) is None
    refused = _cli(engine, tmp_path, "users", "token", "eva")
    assert refused.returncode == 3 and "disabled" in refused.stderr


def test_an_unknown_role_is_refused_naming_the_roles(engine: Engine, tmp_path: Path) -> None:
    done = _cli(engine, tmp_path, "users", "add", "eva", "--role", "root")
    assert done.returncode == 2
    assert "'root' is not a role" in done.stderr and "supervisor" in done.stderr


def test_users_roles_lists_each_role_with_its_privileges(engine: Engine, tmp_path: Path) -> None:
    roles = json.loads(_cli(engine, tmp_path, "users", "roles", "--json").stdout)
    assert roles["agent"] == ["customers.read"]
    assert "pii.read" in roles["admin"]
