"""Recent shopping activity: the cart and product-view events of the last days, by owner."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from lifetide.ops.models.base import Base, Id


class ShopperActivity(Base):
    """One `Product Added`, `Product Removed` or `Product Viewed` event, kept for a while.

    A copy of the warehouse's events of these kinds within the retention
    (`activity_retention_days`), so that a message's cart lines and recently viewed products
    are looked up by owner (user id, else device) behind an index, not found by scanning
    every event. Rows are keyed by the event's message id, like the events themselves.
    """

    __tablename__ = "shopper_activity"
    __table_args__ = (
        # The device lookup is only for events no one was signed in for (see context_reads).
        Index(
            "ix_shopper_activity_anonymous_id",
            "anonymous_id",
            sqlite_where=text("user_id IS NULL"),
            postgresql_where=text("user_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[str] = mapped_column(String, unique=True)
    user_id: Mapped[str | None] = mapped_column(String, index=True)
    anonymous_id: Mapped[str | None] = mapped_column(String)
    event: Mapped[str] = mapped_column(String(32))
    product_id: Mapped[str] = mapped_column(String)
    cart_id: Mapped[str | None] = mapped_column(String)
    quantity: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String)
    brand: Mapped[str | None] = mapped_column(String)
    price: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    # Not indexed: see migration 0009.
    at: Mapped[dt.datetime]
