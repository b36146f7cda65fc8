"""The app as a whole: routing errors, CORS, OpenAPI, start-up checks, and the event loop staying free."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.exc import OperationalError

from main import create_app
from settings import Settings
from tests.conftest import TEST_PASSWORD, serving

PROJECT = Path(__file__).resolve().parent.parent


async def test_unknown_route_and_wrong_method_answer_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = await client.get("/api/auth/login")
    assert r.status_code == 405 and "detail" in r.json()


async def test_cors_allows_configured_origins_only(client: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = await client.options("/api/auth/login", headers={"Origin": "http://localhost:5173"} | preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    refused = await client.options("/api/auth/login", headers={"Origin": "https://evil.example"} | preflight)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_openapi_documents_every_route_from_the_models(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    expected = {
        ("/", "get"),
        ("/api/health", "get"),
        ("/api/auth/register", "post"),
        ("/api/auth/login", "post"),
        ("/api/auth/logout", "post"),
        ("/api/auth/me", "get"),
        ("/api/users/me", "put"),
        ("/api/realtime/ticket", "post"),
        ("/api/properties/create", "post"),
        ("/api/properties/search", "get"),
        ("/api/properties/{property_id}", "put"),
        ("/api/properties/{property_id}/upload-images", "post"),
        ("/api/shortlists", "post"),
        ("/api/renters/search", "get"),
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert expected <= documented
    register = doc["paths"]["/api/auth/register"]["post"]
    body = register["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = doc["components"]["schemas"][body]
    assert set(schema["required"]) == {"email", "phone", "password", "user_type", "full_name"}
    assert schema["additionalProperties"] is False
    assert set(register["responses"]) >= {"201", "400", "422"}
    assert doc["paths"]["/api/auth/me"]["get"]["security"] == [{"bearer": []}]
    upload = doc["paths"]["/api/properties/{property_id}/upload-images"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["files"]
    search_params = {p["name"] for p in doc["paths"]["/api/properties/search"]["get"]["parameters"]}
    assert {"city", "q", "lat", "lng", "radius_km", "sort_by", "page", "limit"} <= search_params
    user_out = doc["components"]["schemas"]["UserOut"]["properties"]
    assert "password_hash" not in user_out and "is_admin" in user_out


@pytest.mark.parametrize("secret", [None, "homer-development-secret-do-not-use-in-production", "too-short"])
def test_production_refuses_to_start_without_a_real_secret(secret: str | None, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"} | {"APP_ENV": "production"}
    if secret is not None:
        env["JWT_SECRET"] = secret
    result = run_import_main(env, tmp_path)
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WS_SENDS_PER_SECOND", "0"),
        ("WS_SENDS_PER_SECOND", "1001"),
        ("WS_TOKEN_RECHECK_SECONDS", "0.5"),
        ("WS_TOKEN_RECHECK_SECONDS", "nan"),
        ("WS_TOKEN_RECHECK_SECONDS", "a minute"),
        ("WS_SENDS_PER_SECOND", "20/s"),
        ("BCRYPT_ROUNDS", ""),
        ("CORS_ORIGINS", "*"),
        ("CORS_ORIGINS", "https://homer.example,*"),
    ],
)
def test_a_setting_out_of_range_refuses_to_start(name: str, value: str, tmp_path: Path) -> None:
    result = run_import_main(dict(os.environ) | {name: value}, tmp_path)
    assert result.returncode != 0
    assert name in result.stderr and "Traceback" not in result.stderr


def test_production_starts_with_a_real_secret(tmp_path: Path) -> None:
    env = dict(os.environ) | {"APP_ENV": "production", "JWT_SECRET": "x" * 48}
    assert run_import_main(env, tmp_path).returncode == 0


def run_import_main(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "BROADCAST_URL": "memory://"}
    code = "import main"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )


async def test_logins_in_progress_do_not_stall_other_requests(settings: Settings) -> None:
    # At bcrypt's real cost a login hashes for about a quarter of a second. If hashing
    # ran on the event loop, a health check sent while four logins hash would wait
    # for at least one of them; in worker threads it answers while all are still busy.
    async with serving(replace(settings, bcrypt_rounds=12)) as client:
        body = {"email": "busy@example.in", "phone": "9811111111", "password": TEST_PASSWORD}
        r = await client.post("/api/auth/register", json=body | {"user_type": "renter", "full_name": "Busy"})
        assert r.status_code == 201, r.text
        credentials = {"email": body["email"], "password": TEST_PASSWORD}
        logins = [asyncio.create_task(client.post("/api/auth/login", json=credentials)) for _ in range(4)]
        await asyncio.sleep(0.05)  # let the logins reach their hashing
        health = await client.get("/api/health")
        assert health.status_code == 200
        finished_before_health = [task.done() for task in logins]
        results = await asyncio.gather(*logins)
        assert [r.status_code for r in results] == [200] * 4
        assert not any(finished_before_health)


async def test_a_running_app_keeps_its_start_up_objects_out_of_full_collections(settings: Settings) -> None:
    async with serving(settings):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0  # an app that stopped leaves nothing frozen behind


async def test_a_start_that_cannot_reach_the_database_fails_with_that_error(tmp_path: Path) -> None:
    """The lifespan's clean-up runs over what it opened, and the cause is the error raised, not a later one."""
    (tmp_path / "homer.db").mkdir()  # a folder where the database file should be: no database opens there
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'homer.db'}",
        upload_dir=tmp_path / "uploads",
        bcrypt_rounds=4,
    )
    with pytest.raises(OperationalError):
        async with LifespanManager(create_app(settings)):
            pass
