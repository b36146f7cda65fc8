"""Rows for demo chats and what follows from them: messages, contacts, notifications; and shortlists."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from demo import between, demo_id, texts
from demo.accounts import Row

# The contract's free tier: at most five distinct properties contacted.
FREE_CONTACT_LIMIT = 5
# Owners may open a chat with a visible renter (the reverse marketplace); most chats start with the renter.
OWNER_INITIATED_SHARE = 0.15
SHORTLIST_NOTES = (None, "Close to office", "Ask about parking", "Visit on the weekend", "Good price for the area")


@dataclass
class ChatPlan:
    renter: Row
    owner: Row
    listing: Row
    renter_first: bool


@dataclass
class ChatRows:
    chat: Row
    messages: list[Row]
    contact: Row
    notification: Row


def plan_chats(
    rng: random.Random, renters: list[Row], owners: list[Row], listings: list[Row], count: int
) -> list[ChatPlan]:
    """Up to `count` distinct (property, renter) pairs within the free tier's limit; counts contacts on the rows."""
    owner_by_id = {owner["id"]: owner for owner in owners}
    pairs: set[tuple[str, str]] = set()
    used: Counter[str] = Counter()
    plans: list[ChatPlan] = []
    # Random draws, not an enumeration of every pair: bounded so that asking for more
    # chats than the limits allow ends with fewer chats instead of looping.
    for _ in range(count * 50 if renters and listings else 0):
        if len(plans) == count:
            break
        renter, listing = rng.choice(renters), rng.choice(listings)
        limited = renter["subscription_tier"] != "premium" and used[renter["id"]] >= FREE_CONTACT_LIMIT
        if limited or (listing["id"], renter["id"]) in pairs or listing["owner_id"] == renter["id"]:
            continue
        pairs.add((listing["id"], renter["id"]))
        used[renter["id"]] += 1
        owner_first = renter["profile_visibility"] and rng.random() < OWNER_INITIATED_SHARE
        plans.append(ChatPlan(renter, owner_by_id[listing["owner_id"]], listing, not owner_first))
    for plan in plans:
        plan.renter["contacts_used"] += 1
        plan.listing["total_contacts"] += 1
    return plans


def chat_rows(rng: random.Random, plan: ChatPlan, count: int, now: datetime) -> ChatRows:
    renter, owner, listing = plan.renter, plan.owner, plan.listing
    chat_id = demo_id(rng)
    times = message_times(rng, max(renter["created_at"], listing["created_at"]), now, count)
    bodies = texts.conversation(rng, count, plan.renter_first, conversation_facts(renter, owner, listing))
    messages = []
    for seq, (at, body) in enumerate(zip(times, bodies, strict=True), start=1):
        from_renter = (seq % 2 == 1) == plan.renter_first
        sender = renter if from_renter else owner
        messages.append(message_row(rng, chat_id, seq, sender, "renter" if from_renter else "owner", body, at))
    last_from_renter = messages[-1]["sender_type"] == "renter"
    archive = rng.random()  # about 8% of chats archived, by one side or the other
    chat = {
        "id": chat_id,
        "property_id": listing["id"],
        "renter_id": renter["id"],
        "owner_id": owner["id"],
        "initiated_by": "renter" if plan.renter_first else "owner",
        "status": "active",
        "last_seq": count,
        "renter_read_seq": read_up_to(rng, count, last_from_renter),
        "owner_read_seq": read_up_to(rng, count, not last_from_renter),
        "renter_archived_seq": count if archive < 0.04 else None,
        "owner_archived_seq": count if 0.04 <= archive < 0.08 else None,
        "created_at": times[0],
        "last_message_at": times[-1],
    }
    contact = {"user_id": renter["id"], "property_id": listing["id"], "created_at": times[0]}
    return ChatRows(chat, messages, contact, notification_row(rng, plan, chat_id, times[0]))


def message_times(rng: random.Random, earliest: datetime, now: datetime, count: int) -> list[datetime]:
    start = between(rng, earliest, now, 0.0, 0.7)
    gaps = [timedelta(minutes=rng.uniform(2, 600)) for _ in range(count - 1)]
    room = (now - start) * 0.95
    total = sum(gaps, timedelta())
    if total > room:  # long chats get quicker replies rather than messages from the future
        gaps = [gap * (room / total) for gap in gaps]
    times = [start]
    for gap in gaps:
        times.append(times[-1] + gap)
    return times


def read_up_to(rng: random.Random, last_seq: int, sent_last: bool) -> int:
    # Whoever wrote last has read everything; the other has either caught up or not yet
    # seen the latest message (everything before it was read before replying).
    return last_seq if sent_last or rng.random() < 0.6 else last_seq - 1


def message_row(
    rng: random.Random, chat_id: str, seq: int, sender: Row, sender_type: str, body: str, at: datetime
) -> Row:
    return {
        "id": demo_id(rng),
        "chat_id": chat_id,
        "seq": seq,
        "sender_id": sender["id"],
        "sender_type": sender_type,
        "body": body,
        "attachments": None,
        "client_id": None,
        "created_at": at,
    }


def conversation_facts(renter: Row, owner: Row, listing: Row) -> dict[str, object]:
    employment = renter["employment_info"] or {}
    return {
        "renter": renter["full_name"].split()[0],
        "owner": owner["full_name"].split()[0],
        "bhk": listing["bhk_type"],
        "locality": listing["locality"],
        "city": listing["city"],
        "rent": texts.rupees(int(listing["rent"])),
        "deposit": texts.rupees(int(listing["security_deposit"])),
        "maintenance": texts.rupees(int(listing["maintenance_charges"])),
        "available": datetime.fromisoformat(listing["details"]["available_from"]).strftime("%d %B").lstrip("0"),
        "employer": employment.get("company") or "my office",
    }


def notification_row(rng: random.Random, plan: ChatPlan, chat_id: str, at: datetime) -> Row:
    """`new_chat` for whoever did not start the chat."""
    title = plan.listing["title"]
    if plan.renter_first:
        user, heading = plan.owner, "New enquiry for your property"
        text = f"{plan.renter['full_name']} asked about {title}"
    else:
        user, heading = plan.renter, "An owner wants to talk to you"
        text = f"{plan.owner['full_name']} suggested {title}"
    return {
        "id": demo_id(rng),
        "user_id": user["id"],
        "type": "new_chat",
        "title": heading,
        "message": text,
        "action_url": f"/chats/{chat_id}",
        "is_read": rng.random() < 0.5,
        "created_at": at,
    }


def make_shortlists(rng: random.Random, renters: list[Row], listings: list[Row], now: datetime) -> list[Row]:
    """0 to 4 saved properties per renter; counts `shortlisted_count` on the listing rows."""
    rows = []
    for renter in renters:
        for listing in rng.sample(listings, min(len(listings), rng.randint(0, 4))):
            if listing["owner_id"] == renter["id"]:
                continue
            listing["shortlisted_count"] += 1
            rows.append(
                {
                    "id": demo_id(rng),
                    "user_id": renter["id"],
                    "property_id": listing["id"],
                    "notes": rng.choice(SHORTLIST_NOTES),
                    "created_at": between(rng, max(renter["created_at"], listing["created_at"]), now),
                }
            )
    return rows
