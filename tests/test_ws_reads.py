"""`read` frames in bursts: a client marking each message it shows, as after a sync of a long backlog."""

from __future__ import annotations

import json

import pytest

from tests.live import Server, call, chat_between, frames_until, next_frame, open_socket

pytestmark = pytest.mark.timeout(60)


async def test_a_burst_of_reads_is_merged_never_refused_and_marks_up_to_the_highest(
    server: Server, database_url: str
) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)  # the renter's first message, unread
    for n in range(2, 6):
        sent = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json={"message": f"m{n}"})
        assert sent.status_code == 201, sent.text
    async with (
        await open_socket(server, owner["token"]) as owner_ws,
        await open_socket(server, renter["token"]) as renter_ws,
    ):
        await next_frame(owner_ws, "hello")
        await next_frame(renter_ws, "hello")
        for seq in range(1, 101):  # past the limit of 30 other frames a second, and of 40 refusals
            await owner_ws.send(json.dumps({"type": "read", "chat_id": chat_id, "up_to_seq": seq}))
        await owner_ws.send(json.dumps({"type": "ping"}))
        answered = await frames_until(owner_ws, "pong")
        assert [f for f in answered if f["type"] == "error"] == []
        while (await next_frame(renter_ws, "read"))["up_to_seq"] != 5:  # a seq past the end counts as the end
            pass
        totals = await call(server, "GET", "/api/chats/unread-count", owner["token"])
        assert totals.json() == {"unread_count": 0}
        await owner_ws.send(json.dumps({"type": "ping"}))
        assert await frames_until(owner_ws, "pong")  # still open
