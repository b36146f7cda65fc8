"""Uploading a property's photos through the API, and serving them under /uploads."""

from __future__ import annotations

from pathlib import Path

import httpx

from demo.png import gradient_png
from http_api.properties import MAX_IMAGES
from settings import Settings
from tests.conftest import MakeProperty, Register, bearer

PNG = gradient_png((200, 120, 60), (40, 80, 160), width=16, height=12)
OTHER_PNG = gradient_png((10, 200, 60), (40, 80, 16), width=8, height=8)


def stored_files(settings: Settings, property_id: str) -> list[str]:
    folder = settings.upload_dir / "properties" / property_id
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


async def upload(
    client: httpx.AsyncClient, owner: dict[str, str], property_id: str, *contents: bytes
) -> httpx.Response:
    files = [("files", (f"photo{n}.png", content, "image/png")) for n, content in enumerate(contents)]
    return await client.post(
        f"/api/properties/{property_id}/upload-images", files=files, headers=bearer(owner["token"])
    )


async def test_the_owner_uploads_photos_that_anyone_can_fetch(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    property_id = await make_property(owner)
    r = await upload(client, owner, property_id, PNG, OTHER_PNG)
    assert r.status_code == 200, r.text
    urls = r.json()["image_urls"]
    assert len(urls) == 2 and all(url.startswith(f"/uploads/properties/{property_id}/") for url in urls)
    assert all(url.endswith(".png") and "photo" not in url for url in urls), "random names, not the client's"
    assert (await client.get(f"/api/properties/{property_id}")).json()["images"] == urls
    served = await client.get(urls[1])
    assert served.status_code == 200 and served.content == OTHER_PNG
    assert served.headers["content-type"] == "image/png" and served.headers["x-content-type-options"] == "nosniff"
    more = (await upload(client, owner, property_id, PNG)).json()["image_urls"]
    assert (await client.get(f"/api/properties/{property_id}")).json()["images"] == urls + more


async def test_strangers_renters_and_unknown_properties_store_nothing(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner, other, renter = await register(user_type="owner"), await register(user_type="owner"), await register()
    property_id = await make_property(owner)
    assert (await upload(client, other, property_id, PNG)).status_code == 403
    assert (await upload(client, renter, property_id, PNG)).status_code == 403
    assert (await upload(client, owner, "00000000-0000-0000-0000-000000000000", PNG)).status_code == 404
    r = await client.post(f"/api/properties/{property_id}/upload-images", files=[("files", ("a.png", PNG))])
    assert r.status_code == 401
    assert stored_files(settings, property_id) == []
    assert (await client.get(f"/api/properties/{property_id}")).json()["images"] == []


async def test_a_file_that_is_no_image_fails_the_whole_upload(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    property_id = await make_property(owner)
    r = await upload(client, owner, property_id, PNG, b"#!/bin/sh\nrm -rf /\n")
    assert r.status_code == 415, r.text
    assert stored_files(settings, property_id) == []
    assert (await client.get(f"/api/properties/{property_id}")).json()["images"] == []


async def test_a_file_over_10_mb_is_413_and_nothing_is_kept(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    property_id = await make_property(owner)
    big = PNG + b"\0" * (10 * 1024 * 1024 + 1 - len(PNG))
    r = await upload(client, owner, property_id, PNG, big)
    assert r.status_code == 413, r.text
    assert stored_files(settings, property_id) == []
    assert (await client.get(f"/api/properties/{property_id}")).json()["images"] == []


async def test_a_property_holds_at_most_its_gallery(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    property_id = await make_property(owner)
    for _ in range(MAX_IMAGES // 10):
        assert (await upload(client, owner, property_id, *[PNG] * 10)).status_code == 200
    r = await upload(client, owner, property_id, PNG)
    assert r.status_code == 422, r.text
    assert len(stored_files(settings, property_id)) == MAX_IMAGES


async def test_an_update_reorders_or_removes_images_but_adds_none(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    property_id = await make_property(owner)
    urls = (await upload(client, owner, property_id, PNG, OTHER_PNG)).json()["image_urls"]
    path, headers = f"/api/properties/{property_id}", bearer(owner["token"])
    r = await client.put(path, json={"images": [urls[1]]}, headers=headers)
    assert r.status_code == 200 and r.json()["images"] == [urls[1]]
    r = await client.put(path, json={"images": [urls[1], "https://evil.example/x.png"]}, headers=headers)
    assert r.status_code == 422, r.text
    assert (await client.get(path)).json()["images"] == [urls[1]]


async def test_only_property_images_are_public(client: httpx.AsyncClient, settings: Settings, tmp_path: Path) -> None:
    secret = settings.upload_dir / "verification" / "someone" / "pan.png"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(PNG)
    for path in (
        "/uploads/verification/someone/pan.png",
        "/uploads/properties/../verification/someone/pan.png",
        "/uploads/properties/..%2fverification/someone/pan.png",
        "/uploads/properties/nothing-here.png",
    ):
        assert (await client.get(path)).status_code == 404, path
