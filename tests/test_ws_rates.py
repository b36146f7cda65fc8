"""Frames in bursts: typing frames limited to 5 a second, read frames merged (a client marking each message
it shows, as after a sync of a long backlog)."""

from __future__ import annotations

import json

import pytest

from realtime.limits import FLOOD_REFUSALS, MERGED_READS_PER_SECOND
from tests.live import (
    Server,
    call,
    chat_between,
    closed_with,
    drain_hello,
    frames_until,
    next_frame,
    open_socket,
    post_messages,
    renter_and_owner,
    send_frame,
)

pytestmark = pytest.mark.timeout(60)


async def test_a_burst_of_reads_is_merged_never_refused_and_marks_up_to_the_highest(
    server: Server, database_url: str
) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)  # the renter's first message, unread
    await post_messages(server, renter, chat_id, range(2, 6))
    async with renter_and_owner(server, server, renter, owner) as (renter_ws, owner_ws):
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


async def test_a_flood_of_read_frames_is_refused_past_hundreds_a_second_and_closed(
    server: Server, database_url: str
) -> None:
    """Merged or not, each frame is parsed: a client sending reads without end is a flood like any other."""
    owner, renter, chat_id = await chat_between(server, database_url)
    async with await open_socket(server, owner["token"]) as owner_ws:
        await drain_hello(owner_ws)
        padded = json.dumps({"type": "read", "chat_id": chat_id, "up_to_seq": 1}) + " " * 60_000
        for _ in range(MERGED_READS_PER_SECOND + FLOOD_REFUSALS + 50):
            await owner_ws.send(padded)
        assert await closed_with(owner_ws) == 1008


async def test_typing_reaches_only_the_counterpart_and_at_most_five_a_second(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with (
        await open_socket(server, renter["token"]) as renter_ws,
        await open_socket(server, renter["token"]) as other_tab,
        await open_socket(server, owner["token"]) as owner_ws,
    ):
        await drain_hello(renter_ws, other_tab, owner_ws)
        for _ in range(6):
            await renter_ws.send(json.dumps({"type": "typing", "chat_id": chat_id}))
        await renter_ws.send(send_frame(chat_id, "After typing", "after-typing"))  # published after the typing
        mine = await frames_until(renter_ws, "ack")
        assert [f["code"] for f in mine if f["type"] == "error"] == ["rate_limited"]
        if "message" not in [f["type"] for f in mine]:  # its echo may come before or after the ack
            mine += await frames_until(renter_ws, "message")
        heard = await frames_until(owner_ws, "message")
        assert [f for f in heard if f["type"] == "typing"] == [
            {"type": "typing", "chat_id": chat_id, "user_id": renter["user_id"]}
        ] * 5
        for frames in (mine, await frames_until(other_tab, "message")):
            assert "typing" not in [f["type"] for f in frames]
