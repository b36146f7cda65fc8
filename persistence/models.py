"""The tables. `schema.sql` is the same schema as MySQL DDL; a test keeps them equal.

Ids are UUID strings, times are UTC (`UTCDateTime`), money is rupees in
`Numeric(12, 2)`. Fields that searches filter or sort on are real columns, not
keys inside a JSON document, so both backends can index them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from persistence.columns import Caseless, Money, created_column, id_column, user_fk
from persistence.types import Json, UTCDateTime, time_ordered_id, utcnow


class Base(DeclarativeBase):
    # Named constraints, so schema.sql, SQLite and error messages agree on names.
    metadata = MetaData(
        naming_convention={
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_type_visibility", "user_type", "profile_visibility"),
        Index("ix_users_created_at", "created_at"),
    )

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(String(255), unique=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(60))
    user_type: Mapped[str] = mapped_column(String(10))
    full_name: Mapped[str] = mapped_column(String(120))
    profile_photo_url: Mapped[str | None] = mapped_column(String(500))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(20))
    subscription_tier: Mapped[str] = mapped_column(String(10), default="free")
    subscription_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subscription_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contacts_used: Mapped[int] = mapped_column(Integer, default=0)
    is_verified_renter: Mapped[bool] = mapped_column(Boolean, default=False)
    is_verified_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    renter_verification_status: Mapped[str] = mapped_column(String(20), default="not_submitted")
    owner_verification_status: Mapped[str] = mapped_column(String(20), default="not_submitted")
    renter_preferences: Mapped[dict[str, Any] | None] = mapped_column(Json)
    employment_info: Mapped[dict[str, Any] | None] = mapped_column(Json)
    profile_visibility: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Property(Base):
    __tablename__ = "properties"
    __table_args__ = (
        Index("ix_properties_owner", "owner_id", "status"),
        # Search indexes that end in the default sort's keys (every index carries the
        # primary key too) let a filtered search count and order its matches inside
        # the index and read whole rows only for the page it returns (search.py).
        # city_filters holds every list filter, so any search within a city is one;
        # city_order, city_rent and city_bhk_order hand a city's listings over already
        # sorted, the last testing a price band inside the index.
        Index("ix_properties_city_order", "status", "city", "is_verified", "created_at"),
        Index("ix_properties_city_rent", "status", "city", "rent"),
        Index("ix_properties_city_bhk_order", "status", "city", "bhk_type", "is_verified", "created_at", "id", "rent"),
        Index(
            "ix_properties_city_filters",
            *("status", "city", "bhk_type", "rent", "property_type", "furnishing", "is_verified", "created_at"),
        ),
        Index("ix_properties_city_locality", "status", "city", "locality", "is_verified", "created_at"),
        Index("ix_properties_default_order", "status", "is_verified", "created_at"),
        Index("ix_properties_recent", "status", "created_at"),
        Index("ix_properties_rent", "status", "rent"),
        Index("ix_properties_geo", "status", "latitude", "longitude", "is_verified", "created_at"),
        Index("ix_properties_locality", "status", "locality", "is_verified", "created_at"),
    )

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = user_fk()
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    property_type: Mapped[str] = mapped_column(String(20))
    bhk_type: Mapped[str] = mapped_column(String(5))
    rent: Mapped[Decimal] = mapped_column(Money)
    security_deposit: Mapped[Decimal] = mapped_column(Money, default=0)
    maintenance_charges: Mapped[Decimal] = mapped_column(Money, default=0)
    address: Mapped[str] = mapped_column(String(500), default="")
    city: Mapped[str] = mapped_column(Caseless(100))
    state: Mapped[str] = mapped_column(String(100), default="")
    pincode: Mapped[str] = mapped_column(String(10), default="")
    locality: Mapped[str] = mapped_column(Caseless(150), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    landmarks: Mapped[list[str] | None] = mapped_column(Json)
    details: Mapped[dict[str, Any] | None] = mapped_column(Json)
    furnishing: Mapped[str | None] = mapped_column(String(30))
    images: Mapped[list[str] | None] = mapped_column(Json)
    video_url: Mapped[str | None] = mapped_column(String(500))
    virtual_tour_url: Mapped[str | None] = mapped_column(String(500))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verification_tier: Mapped[str | None] = mapped_column(String(20))
    verification_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verification_fee_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    lifestyle_data: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # Counters are columns so `SET n = n + 1` is atomic; a JSON blob would lose updates.
    total_views: Mapped[int] = mapped_column(Integer, default=0)
    premium_views: Mapped[int] = mapped_column(Integer, default=0)
    total_contacts: Mapped[int] = mapped_column(Integer, default=0)
    shortlisted_count: Mapped[int] = mapped_column(Integer, default=0)
    last_viewed: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PropertyWord(Base):
    """One word of an active listing's title, description or locality: the index behind `q` (words.py).

    Keyed so that one word's listings come in the default sort's order, and a
    listing's own words can be probed by (property_id, word).
    """

    __tablename__ = "property_words"
    __table_args__ = (
        Index("ix_property_words_property", "property_id", "word"),
        {"sqlite_with_rowid": False},
    )

    # Compared byte by byte on MariaDB, so a prefix is one range of the key (words.py lowercases them).
    word: Mapped[str] = mapped_column(
        String(64).with_variant(String(64, collation="utf8mb4_bin"), "mysql"), primary_key=True
    )
    is_verified: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    property_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("properties.id", ondelete="CASCADE"), primary_key=True
    )


class Chat(Base):
    """One renter, one owner, one property. `last_seq` is the chat's message counter.

    Read state is a seq per participant, so an unread count is
    `last_seq - <my>_read_seq`: arithmetic on the chat row, not a scan of messages.
    """

    __tablename__ = "chats"
    __table_args__ = (
        UniqueConstraint("property_id", "renter_id", name="uq_chats_property_renter"),
        Index("ix_chats_renter", "renter_id", "status", "last_message_at"),
        Index("ix_chats_owner", "owner_id", "status", "last_message_at"),
    )

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = mapped_column(String(36), ForeignKey("properties.id", ondelete="CASCADE"))
    renter_id: Mapped[str] = user_fk()
    owner_id: Mapped[str] = user_fk()
    initiated_by: Mapped[str] = mapped_column(String(10), default="renter")
    status: Mapped[str] = mapped_column(String(10), default="active")
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    renter_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    owner_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Archiving is per participant: the chat's last_seq when they archived it. It counts while it still
    # equals last_seq, so any new message brings the chat back without the send path touching these.
    renter_archived_seq: Mapped[int | None] = mapped_column(Integer)
    owner_archived_seq: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_column()
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("chat_id", "seq", name="uq_messages_chat_seq"),
        # Idempotent sends: a retried client_id finds the first row instead of a second one.
        UniqueConstraint("sender_id", "client_id", name="uq_messages_sender_client"),
    )

    id: Mapped[str] = id_column(time_ordered_id)  # appended to the clustered index, not scattered over it
    chat_id: Mapped[str] = mapped_column(String(36), ForeignKey("chats.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[str] = user_fk()
    sender_type: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[Any] | None] = mapped_column(Json)
    # Compared byte by byte on MariaDB too: "MSG-1" is no retry of "msg-1" (the Python side compares exactly).
    client_id: Mapped[str | None] = mapped_column(String(64).with_variant(String(64, collation="utf8mb4_bin"), "mysql"))
    created_at: Mapped[datetime] = created_column()


class Contact(Base):
    """A renter's first contact with a property: what the free tier's limit counts."""

    __tablename__ = "contacts"

    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    property_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("properties.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = created_column()


class Shortlist(Base):
    __tablename__ = "shortlists"
    __table_args__ = (
        UniqueConstraint("user_id", "property_id", name="uq_shortlists_user_property"),
        Index("ix_shortlists_property", "property_id"),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    property_id: Mapped[str] = mapped_column(String(36), ForeignKey("properties.id", ondelete="CASCADE"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "is_read", "created_at"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    action_url: Mapped[str | None] = mapped_column(String(500))
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_column()


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        Index("ix_transactions_user", "user_id", "created_at"),
        Index("ix_transactions_property", "property_id", "transaction_type", "payment_status"),
        Index("ix_transactions_status", "payment_status", "created_at"),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    transaction_type: Mapped[str] = mapped_column(String(40))
    property_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("properties.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    payment_gateway: Mapped[str] = mapped_column(String(20), default="razorpay")
    payment_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    order_id: Mapped[str] = mapped_column(String(100), unique=True)
    payment_status: Mapped[str] = mapped_column(String(10), default="pending")
    is_mock: Mapped[bool] = mapped_column(Boolean, default=False)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", Json)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_user", "user_id", "created_at"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    purpose: Mapped[str] = mapped_column(String(20))
    property_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("properties.id", ondelete="CASCADE"))
    document_type: Mapped[str | None] = mapped_column(String(40))
    stored_name: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    created_at: Mapped[datetime] = created_column()


class Verification(Base):
    """A renter's or a property's verification request; id is `renter_<user_id>` or `property_<property_id>`."""

    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_status", "status", "submitted_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[str] = user_fk()
    property_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("properties.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    documents: Mapped[dict[str, Any] | None] = mapped_column(Json)
    employment_details: Mapped[dict[str, Any] | None] = mapped_column(Json)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = created_column()
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = user_fk(nullable=True, ondelete="SET NULL")


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_action", "action_type", "created_at"),
        Index("ix_audit_logs_entity", "entity_type", "entity_id"),
        Index("ix_audit_logs_admin", "admin_id", "created_at"),
    )

    id: Mapped[str] = id_column()
    admin_id: Mapped[str | None] = user_fk(nullable=True, ondelete="SET NULL")
    action_type: Mapped[str] = mapped_column(String(50))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(64))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(Json)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(Json)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_column()


class RevokedToken(Base):
    """Logged-out tokens by `jti`, kept until they would have expired anyway."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("ix_revoked_tokens_expires", "expires_at"),)

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = user_fk()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RealtimeTicket(Base):
    """One-time WebSocket credentials; only a hash is stored, and using one deletes it.

    The ticket remembers the token it was issued for, so logging that token out
    (or its expiry) also ends the socket opened with the ticket.
    """

    __tablename__ = "realtime_tickets"
    __table_args__ = (Index("ix_realtime_tickets_user", "user_id", "expires_at"),)

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = user_fk()
    jti: Mapped[str] = mapped_column(String(36))
    token_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed logins per key (`account:<email>` or `address:<ip>`) in a fixed window.

    In the database so every server process shares one count.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(191), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)


# The Core tables of the models whose hot paths use lean Core statements (sends.py, chats.py).
chats_table = cast(Table, Chat.__table__)
messages_table = cast(Table, Message.__table__)
notifications_table = cast(Table, Notification.__table__)
property_words_table = cast(Table, PropertyWord.__table__)
