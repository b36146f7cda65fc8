"""Image uploads through a real multipart body, and serving them back.

A tiny Starlette app stores uploads with `receive_images` and serves them with
`public_files`, behind the project's own exception handlers. Every refusal
also checks the folder: nothing may stay on disk, not even a temporary file.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from demo.png import gradient_png
from http_api.handlers import exception_handlers
from storage.images import MAX_IMAGE_BYTES, body_limit, public_files, receive_images, remove_images

PROPERTY_ID = "7d5b1c1e-55a4-4b8e-9a51-0c3f7f1b2d10"
PNG = gradient_png((200, 120, 60), (40, 80, 160), width=16, height=12)
# A mid-grey 8x8 baseline JPEG: one quantisation table, one-code Huffman tables, one block.
JPEG = b"".join(
    [
        b"\xff\xd8",
        b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
        b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64,
        b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00",
        b"\xff\xc4" + struct.pack(">H", 20) + b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00",
        b"\xff\xc4" + struct.pack(">H", 20) + b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00",
        b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00",
        b"\x3f",  # DC difference 0, then end of block, padded with ones
        b"\xff\xd9",
    ]
)
# A 1x1 lossless WebP (the one Modernizr uses to detect WebP support).
WEBP = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
BOUNDARY = "homer-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
STORED_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png|webp)")
NO_FILES = {"detail": [{"loc": ["body", "files"], "msg": "At least one image file is required", "type": "value_error"}]}


def make_app(root: Path) -> Starlette:
    async def upload(request: Request) -> JSONResponse:
        query = request.query_params
        limits = {key: int(query[key]) for key in ("max_files", "max_bytes") if key in query}
        images = await receive_images(request, root / request.path_params["property_id"], **limits)
        if "undo" in query:
            await remove_images(images)
        return JSONResponse([asdict(image) | {"path": str(image.path)} for image in images])

    return Starlette(
        routes=[
            Route("/upload/{property_id}", upload, methods=["POST"]),
            Mount("/uploads/properties", app=public_files(root)),
        ],
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "uploads" / "properties"


@pytest.fixture
def folder(root: Path) -> Path:
    return root / PROPERTY_ID


@pytest.fixture
async def http(root: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(root))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def listing(folder: Path) -> list[str]:
    """Every name in the folder, hidden temporary files included."""
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def part(name: str, content: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + ("" if filename is None else f'; filename="{filename}"')
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def post_form(http: httpx.AsyncClient, body: bytes, query: str = "") -> httpx.Response:
    return await http.post(f"/upload/{PROPERTY_ID}{query}", content=body, headers={"content-type": MULTIPART})


async def test_one_image_is_stored_under_a_random_name(http: httpx.AsyncClient, folder: Path) -> None:
    r = await http.post(f"/upload/{PROPERTY_ID}", files=[("files", ("living room.png", PNG, "image/png"))])
    assert r.status_code == 200, r.text
    [image] = r.json()
    assert STORED_NAME.fullmatch(image["stored_name"]) and image["stored_name"].endswith(".png")
    assert image == {
        "stored_name": image["stored_name"],
        "original_name": "living room.png",
        "content_type": "image/png",
        "size": len(PNG),
        "path": str(folder / image["stored_name"]),
    }
    assert listing(folder) == [image["stored_name"]]
    assert (folder / image["stored_name"]).read_bytes() == PNG


async def test_several_images_keep_their_order_bytes_and_types(http: httpx.AsyncClient, folder: Path) -> None:
    files = [("files", ("a.png", PNG, "image/png")), ("files", ("b.jpg", JPEG, "image/jpeg"))]
    files.append(("files", ("c.webp", WEBP, "image/webp")))
    r = await http.post(f"/upload/{PROPERTY_ID}", files=files)
    assert r.status_code == 200, r.text
    images = r.json()
    assert [(i["original_name"], i["content_type"], i["size"]) for i in images] == [
        ("a.png", "image/png", len(PNG)),
        ("b.jpg", "image/jpeg", len(JPEG)),
        ("c.webp", "image/webp", len(WEBP)),
    ]
    assert [i["stored_name"].rsplit(".", 1)[1] for i in images] == ["png", "jpg", "webp"]
    assert listing(folder) == sorted(i["stored_name"] for i in images)
    assert [(folder / i["stored_name"]).read_bytes() for i in images] == [PNG, JPEG, WEBP]


async def test_the_type_comes_from_the_content_not_the_name(http: httpx.AsyncClient, folder: Path) -> None:
    r = await http.post(f"/upload/{PROPERTY_ID}", files=[("files", ("photo.png", JPEG, "image/png"))])
    assert r.status_code == 200, r.text
    [image] = r.json()
    assert image["content_type"] == "image/jpeg" and image["stored_name"].endswith(".jpg")
    assert (folder / image["stored_name"]).read_bytes() == JPEG


async def test_the_client_name_is_kept_without_its_path(http: httpx.AsyncClient) -> None:
    body = form(part("files", PNG, "../../etc/passwd.png"), part("files", PNG, "x" * 300 + ".png"))
    r = await post_form(http, body)
    assert r.status_code == 200, r.text
    assert [image["original_name"] for image in r.json()] == ["passwd.png", "x" * 255]


async def test_a_text_file_named_png_is_refused(http: httpx.AsyncClient, folder: Path) -> None:
    r = await http.post(f"/upload/{PROPERTY_ID}", files=[("files", ("notes.png", b"just some text", "image/png"))])
    assert r.status_code == 415, r.text
    assert r.json() == {"detail": "File 'notes.png' is not a JPEG, PNG or WebP image"}
    assert listing(folder) == []


async def test_one_bad_file_among_good_ones_stores_nothing(http: httpx.AsyncClient, folder: Path) -> None:
    body = form(part("files", PNG, "a.png"), part("files", JPEG, "b.jpg"), part("files", b"GIF89a....", "c.webp"))
    r = await post_form(http, body)
    assert r.status_code == 415, r.text
    assert listing(folder) == []


async def test_a_file_one_byte_over_the_cap_is_refused(http: httpx.AsyncClient, folder: Path) -> None:
    body = form(part("files", WEBP, "small.webp"), part("files", PNG, "big.png"))
    r = await post_form(http, body, f"?max_bytes={len(PNG) - 1}")
    assert r.status_code == 413, r.text
    assert r.json() == {"detail": f"Image 'big.png' is larger than {len(PNG) - 1} bytes"}
    assert listing(folder) == []


async def test_a_file_exactly_at_the_cap_is_accepted(http: httpx.AsyncClient, folder: Path) -> None:
    r = await post_form(http, form(part("files", PNG, "exact.png")), f"?max_bytes={len(PNG)}")
    assert r.status_code == 200, r.text
    assert [image["size"] for image in r.json()] == [len(PNG)]
    assert len(listing(folder)) == 1


async def test_more_files_than_allowed_are_refused(http: httpx.AsyncClient, folder: Path) -> None:
    r = await post_form(http, form(*[part("files", PNG, f"{n}.png") for n in range(3)]), "?max_files=2")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["msg"] == "At most 2 images at a time"
    assert listing(folder) == []
    r = await post_form(http, form(*[part("files", PNG, f"{n}.png") for n in range(2)]), "?max_files=2")
    assert r.status_code == 200, r.text
    assert len(listing(folder)) == 2


async def test_no_files_is_invalid(http: httpx.AsyncClient, folder: Path) -> None:
    # Only a text field; a browser's empty file input; a form with no parts; no body at all.
    for body in [form(part("caption", b"Sunny")), form(part("files", b"", "")), form(), b""]:
        r = await post_form(http, body)
        assert r.status_code == 422, r.text
        assert r.json() == NO_FILES
    assert listing(folder) == []


async def test_small_fields_and_empty_file_inputs_are_ignored(http: httpx.AsyncClient, folder: Path) -> None:
    body = form(part("caption", b"Sunny"), part("files", b"", ""), part("files", WEBP, "w.webp"))
    r = await post_form(http, body)
    assert r.status_code == 200, r.text
    assert [image["original_name"] for image in r.json()] == ["w.webp"]
    assert len(listing(folder)) == 1


async def test_other_parts_are_checked(http: httpx.AsyncClient, folder: Path) -> None:
    r = await post_form(http, form(part("files", PNG, "a.png"), part("document", PNG, "d.png")))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "document"]
    r = await post_form(http, form(part("files", b"not a file")))
    assert r.status_code == 422, r.text
    r = await post_form(http, form(part("files", PNG, "a.png"), part("caption", b"x" * (8 * 1024 + 1))))
    assert r.status_code == 413, r.text
    assert r.json() == {"detail": "Form field 'caption' is larger than 8192 bytes"}
    r = await post_form(http, form(*[part("files", b"", "")] * 30, part("files", PNG, "a.png")))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["msg"] == "Too many form fields (at most 30)"
    assert listing(folder) == []


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b'{"files": []}', 422),
        ("application/x-www-form-urlencoded", b"files=a.png", 422),
        ("", PNG, 422),
        ("multipart/form-data", form(part("files", PNG, "a.png")), 400),
        (MULTIPART, b"this is not multipart at all", 400),
        (MULTIPART, form(part("files", PNG, "a.png"))[:-8], 400),
        (MULTIPART, b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data\r\n\r\nx\r\n", 400),
    ],
    ids=["json", "urlencoded", "no-type", "no-boundary", "garbage", "truncated", "no-field-name"],
)
async def test_bodies_that_are_not_valid_multipart_are_refused(
    http: httpx.AsyncClient, folder: Path, content_type: str, body: bytes, status: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = await http.post(f"/upload/{PROPERTY_ID}", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert listing(folder) == []


def chunked(pieces: list[bytes], counter: list[int]) -> AsyncIterator[bytes]:
    """The body in 64 KiB chunks, as a server hands it over, counting what the app pulled."""

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            for start in range(0, len(piece), 64 * 1024):
                chunk = piece[start : start + 64 * 1024]
                counter[0] += len(chunk)
                yield chunk

    return body()


async def test_ten_megabytes_and_one_byte_is_refused_while_streaming(http: httpx.AsyncClient, folder: Path) -> None:
    big = PNG + bytes(MAX_IMAGE_BYTES + 1 - len(PNG))
    pieces = [part("files", big, "huge.png"), part("files", big, "never-read.png"), form()]
    pulled = [0]
    r = await http.post(f"/upload/{PROPERTY_ID}", content=chunked(pieces, pulled), headers={"content-type": MULTIPART})
    assert r.status_code == 413, r.text
    assert r.json() == {"detail": "Image 'huge.png' is larger than 10 MB"}
    assert pulled[0] <= len(pieces[0]) + 64 * 1024  # reading stopped at the first file
    assert listing(folder) == []


async def test_a_declared_length_beyond_every_cap_is_refused_unread(http: httpx.AsyncClient, folder: Path) -> None:
    limit = body_limit(10, MAX_IMAGE_BYTES)
    pulled = [0]
    headers = {"content-type": MULTIPART, "content-length": str(limit + 1)}
    r = await http.post(f"/upload/{PROPERTY_ID}", content=chunked([b"x" * 100], pulled), headers=headers)
    assert r.status_code == 413, r.text
    assert r.json() == {"detail": f"Upload larger than {limit} bytes"}
    assert pulled == [0]
    assert listing(folder) == []


async def test_a_client_hanging_up_leaves_nothing(root: Path, folder: Path) -> None:
    # httpx cannot hang up mid-body, so this one speaks ASGI: one chunk, then the disconnect.
    body = form(part("files", PNG, "a.png"), part("files", JPEG, "b.jpg"))
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:-20], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/upload/{PROPERTY_ID}",
        "raw_path": f"/upload/{PROPERTY_ID}".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", MULTIPART.encode())],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }
    await make_app(root)(scope, receive, send)
    assert sent[0]["status"] == 400
    assert listing(folder) == []


async def test_removing_received_images_leaves_nothing(http: httpx.AsyncClient, folder: Path) -> None:
    r = await post_form(http, form(part("files", PNG, "a.png"), part("files", WEBP, "b.webp")), "?undo=1")
    assert r.status_code == 200, r.text
    assert listing(folder) == []


async def test_stored_images_are_served_with_safe_headers(http: httpx.AsyncClient) -> None:
    r = await http.post(f"/upload/{PROPERTY_ID}", files=[("files", ("a.png", PNG)), ("files", ("b.webp", WEBP))])
    assert r.status_code == 200, r.text
    for image, content in zip(r.json(), [PNG, WEBP], strict=True):
        served = await http.get(f"/uploads/properties/{PROPERTY_ID}/{image['stored_name']}")
        assert served.status_code == 200
        assert served.content == content
        assert served.headers["content-type"] == image["content_type"]
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = await http.get(served.url, headers={"if-none-match": served.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_missing_hidden_and_outside_paths_are_not_found(
    http: httpx.AsyncClient, root: Path, folder: Path, tmp_path: Path
) -> None:
    base = f"/uploads/properties/{PROPERTY_ID}"
    assert (await http.get(f"{base}/{'0' * 32}.png")).status_code == 404  # before the folder exists
    folder.mkdir(parents=True)
    (folder / f".{'1' * 32}.png.part").write_bytes(PNG)  # an upload in progress
    (tmp_path / "secret.txt").write_text("the database password")
    (root.parent / "verification.pdf").write_text("someone's id card")
    paths = [
        f"{base}/{'0' * 32}.png",
        f"{base}/.{'1' * 32}.png.part",
        base,
        "/uploads/properties/",
        f"{base}/..%2f..%2f..%2fsecret.txt",
        "/uploads/properties/..%2f..%2fsecret.txt",
        "/uploads/properties/%2e%2e/verification.pdf",
        "/uploads/properties/..%5c..%5csecret.txt",
        "/uploads/properties/%2fetc%2fpasswd",
    ]
    for path in paths:
        r = await http.get(path)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert b"password" not in r.content and b"id card" not in r.content
