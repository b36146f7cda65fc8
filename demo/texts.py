"""Words for demo listings and chats: titles, descriptions and a plausible enquiry."""

from __future__ import annotations

import random
from collections.abc import Mapping

TITLE_WORDS = ("Spacious", "Bright", "Well-ventilated", "Sunny", "Cosy", "Newly renovated", "Family-friendly", "Airy")
KIND_WORDS = {"apartment": "apartment", "villa": "villa", "independent_house": "independent house", "pg": "PG room"}
SOCIETY_FIRST = ("Green", "Lake", "Royal", "Silver", "Palm", "Sunrise", "Shanti", "Lotus", "Orchid", "Sai")
SOCIETY_LAST = ("Residency", "Heights", "Enclave", "Apartments", "Towers", "Gardens", "Meadows", "Vihar")

DESCRIPTION_LINES = (
    "Close to {landmark}, with shops, pharmacies and restaurants a short walk away.",
    "Cross-ventilated rooms get sunlight through the day.",
    "The society has 24x7 security and a well-kept garden.",
    "Modular kitchen with a chimney, and wardrobes in every bedroom.",
    "Quiet lane, yet the main road and autos are two minutes away.",
    "Corporation water and a borewell, so there is water all day.",
    "Ideal for working professionals: the IT parks are a short commute.",
    "Vitrified tiles throughout and a freshly painted interior.",
)

RENTER_LINES = (
    "Is the rent of ₹{rent} negotiable?",
    "How much is the maintenance every month?",
    "Is there covered parking for a car?",
    "Are pets allowed? I have a small indie dog.",
    "Can I come for a visit this Saturday around 11?",
    "How is the water supply here?",
    "Is the society okay with working professionals?",
    "How far is the nearest metro station?",
    "Is there power backup for the whole flat?",
    "Could you share a few more photos of the kitchen?",
    "I work at {employer}, so the commute matters. How is the morning traffic?",
    "Sounds good. What documents do you need from me?",
    "Thanks! I will confirm by tomorrow evening.",
)

OWNER_LINES = (
    "Rent is slightly negotiable for a lease of 11 months or more.",
    "Maintenance is ₹{maintenance} a month, paid to the society.",
    "Yes, there is one covered parking slot.",
    "Saturday works. I will share the exact location on the day.",
    "The deposit is ₹{deposit}, refundable when you move out.",
    "Water comes all day, from the corporation line and a borewell.",
    "The metro is about ten minutes away on foot.",
    "Power backup covers the lights and fans in every room.",
    "Sure, I will send more photos this evening.",
    "An ID proof, your employment letter and a signed rental agreement.",
    "Please let me know by the weekend; a couple of others have asked too.",
    "Families and working professionals are both welcome.",
)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def title(rng: random.Random, bhk: str, property_type: str, locality: str) -> str:
    size = "Room" if property_type == "pg" else bhk
    return f"{rng.choice(TITLE_WORDS)} {size} {KIND_WORDS[property_type]} in {locality}"


def description(rng: random.Random, landmark: str, furnishing: str) -> str:
    lines = rng.sample(DESCRIPTION_LINES, 3)
    return " ".join([f"{furnishing.capitalize()} home."] + [line.format(landmark=landmark) for line in lines])


def address(rng: random.Random, property_type: str, locality: str, floor: int) -> str:
    society = f"{rng.choice(SOCIETY_FIRST)} {rng.choice(SOCIETY_LAST)}"
    road = f"{ordinal(rng.randint(1, 18))} Main Road"
    if property_type in ("villa", "independent_house"):
        return f"House No. {rng.randint(1, 450)}, {road}, {locality}"
    return f"Flat {max(floor, 0)}{rng.randint(1, 8):02d}, {society}, {road}, {locality}"


def conversation(rng: random.Random, count: int, renter_first: bool, facts: Mapping[str, object]) -> list[str]:
    """`count` alternating messages, the first from the renter if `renter_first`, else from the owner."""
    if renter_first:
        opening = ["Hi {owner}, is the {bhk} in {locality} still available?", "Yes, it is available from {available}."]
    else:
        opening = [
            "Hi {renter}, I saw you are looking for a home in {city}. My {bhk} in {locality} might suit you.",
            "Thanks for reaching out! What are the rent and deposit?",
            "Rent is ₹{rent} and the deposit is ₹{deposit}. It is available from {available}.",
        ]
    renter_lines, owner_lines = rng.sample(RENTER_LINES, len(RENTER_LINES)), rng.sample(OWNER_LINES, len(OWNER_LINES))
    texts = opening[:count]
    while len(texts) < count:
        renter_turn = (len(texts) % 2 == 0) == renter_first
        pool = renter_lines if renter_turn else owner_lines
        texts.append(pool[len(texts) // 2 % len(pool)])
    return [text.format(**facts) for text in texts]


def rupees(amount: int) -> str:
    """Indian digit grouping: 125000 is 1,25,000."""
    digits = str(amount)
    head, tail = digits[:-3], digits[-3:]
    groups: list[str] = []
    while len(head) > 2:
        head, groups = head[:-2], [head[-2:], *groups]
    return ",".join([head, *groups, tail] if head else [*groups, tail])
