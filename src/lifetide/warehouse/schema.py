"""The warehouse tables: columns, types, natural keys and references, in one place.

Everything that reads or writes the warehouse (the importer, the synthetic retailer, the
docs test) takes its column names and types from here, so the contract cannot drift.
All timestamps are UTC without a zone; money is DECIMAL(18, 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MONEY = "decimal(18, 2)"


@dataclass(frozen=True)
class Column:
    """One warehouse column: name, Ibis type string, nullability and its meaning."""

    name: str
    dtype: str
    nullable: bool = True
    doc: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reference:
    """A column whose non-null values must exist as keys of another table."""

    column: str
    table: str
    target: str


@dataclass(frozen=True)
class Table:
    """A warehouse table with its natural key and the references an import checks."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    # Append-only tables (events) never update a stored row: a re-sent key is a duplicate.
    append_only: bool = False
    depends_on: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the columns, in table order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called `name`."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


PRICE_TIERS = ("budget", "mid", "prestige")
CHANNELS = ("online", "store")
ORDER_STATUSES = ("completed", "partially_returned", "returned", "cancelled")
EVENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")
# Kinds of `profile_keys` rows: record ids (orders.customer_id, events.user_id) and devices.
RECORD_KINDS = ("user_id", "crm_id")
DEVICE_KIND = "anonymous_id"
CUSTOMER_SOURCES = ("ecommerce", "pos", "crm", "loyalty", "api")

PRODUCTS = Table(
    name="products",
    doc="The catalog: one row per sellable product.",
    key=("product_id",),
    columns=(
        Column("product_id", "string", False, "The retailer's product identifier."),
        Column("sku", "string", True, "Stock-keeping unit."),
        Column("name", "string", False, "Product name as shown to customers."),
        Column("category", "string", False, "Top-level category, e.g. skincare, makeup."),
        Column("subcategory", "string", True, "Finer category, e.g. cleanser, serum."),
        Column("brand", "string", False, "Brand name."),
        Column("price", MONEY, False, "Current list price in the shop's currency."),
        Column("price_tier", "string", False, "Price tier within its category.", PRICE_TIERS),
        Column("replenishable", "boolean", False, "Bought again when used up (cleanser, shampoo)."),
        Column(
            "replenish_days",
            "int32",
            True,
            "Typical days between repurchases of a replenishable product; null otherwise.",
        ),
        Column("launched_at", "timestamp", True, "When the product went on sale (UTC)."),
        Column("image_url", "string", True, "Product image address."),
        Column("url", "string", True, "Product page address."),
    ),
)

CUSTOMERS = Table(
    name="customers",
    doc=(
        "Customer records as the source systems hold them (e-commerce accounts, store loyalty "
        "cards, CRM exports): one row per source record, duplicates of one person included. "
        "Identity resolution turns these into profiles in the operational database."
    ),
    key=("customer_id",),
    columns=(
        Column("customer_id", "string", False, "The record's identifier in its source system."),
        Column("source", "string", False, "The system the record comes from.", CUSTOMER_SOURCES),
        Column("email", "string", True, "E-mail address as entered (not normalized)."),
        Column("phone", "string", True, "Phone number as entered (any format)."),
        Column("first_name", "string", True, "Given name."),
        Column("last_name", "string", True, "Family name."),
        Column("birth_date", "date", True, "Date of birth."),
        Column("address_line1", "string", True, "Street address."),
        Column("city", "string", True, "City."),
        Column("region", "string", True, "State, province or region code."),
        Column("postal_code", "string", True, "Postal code."),
        Column("country", "string", True, "ISO 3166-1 alpha-2 country code."),
        Column("time_zone", "string", True, "IANA time zone, e.g. America/New_York."),
        Column("loyalty_id", "string", True, "Loyalty-programme card number."),
        Column(
            "accepts_email_marketing",
            "boolean",
            False,
            "Whether the person has agreed to marketing e-mail.",
        ),
        Column("accepts_sms_marketing", "boolean", False, "Whether the person has agreed to SMS."),
        Column("created_at", "timestamp", False, "When the record was created (UTC)."),
        Column("updated_at", "timestamp", True, "When the record last changed (UTC)."),
    ),
)

ORDERS = Table(
    name="orders",
    doc="Orders placed online or in a store.",
    key=("order_id",),
    depends_on=("customers",),
    references=(Reference("customer_id", "customers", "customer_id"),),
    columns=(
        Column("order_id", "string", False, "The retailer's order identifier."),
        Column("customer_id", "string", True, "Customer record; null for a guest purchase."),
        Column("ordered_at", "timestamp", False, "When the order was placed (UTC)."),
        Column("channel", "string", False, "Where it was placed.", CHANNELS),
        Column("store_id", "string", True, "Store identifier for store orders."),
        Column("status", "string", False, "Order status.", ORDER_STATUSES),
        Column("promo_code", "string", True, "Promo code applied to the order, if any."),
        Column("currency", "string", False, "ISO 4217 currency code."),
        Column("subtotal", MONEY, False, "Sum of line list prices times quantities."),
        Column("discount", MONEY, False, "Total discount on the order (0 if none)."),
        Column("shipping", MONEY, False, "Shipping charged (0 in store)."),
        Column("tax", MONEY, False, "Tax charged."),
        Column("total", MONEY, False, "Amount paid: subtotal - discount + shipping + tax."),
        Column("cart_id", "string", True, "The online cart the order came from."),
    ),
)

ORDER_ITEMS = Table(
    name="order_items",
    doc="Order lines: one row per product in an order.",
    key=("order_id", "line_number"),
    depends_on=("orders", "products"),
    references=(
        Reference("order_id", "orders", "order_id"),
        Reference("product_id", "products", "product_id"),
    ),
    columns=(
        Column("order_id", "string", False, "The order the line belongs to."),
        Column("line_number", "int32", False, "Line position within the order, from 1."),
        Column("product_id", "string", False, "The product bought."),
        Column("category", "string", False, "The product's category at the time of sale."),
        Column("brand", "string", False, "The product's brand at the time of sale."),
        Column("unit_price", MONEY, False, "List price of one unit at the time of sale."),
        Column("quantity", "int32", False, "Units bought (at least 1)."),
        Column("discount", MONEY, False, "Discount on the whole line (0 if none)."),
        Column("clearance", "boolean", False, "Sold at a clearance markdown."),
        Column("returned", "boolean", False, "The line was returned."),
        Column("returned_at", "timestamp", True, "When it was returned (UTC)."),
    ),
)

EVENTS = Table(
    name="events",
    doc=(
        "Behavioural events in the shape of Segment's Tracking API. The e-commerce properties "
        "that segments and models use are pulled out of `properties` into typed columns."
    ),
    key=("message_id",),
    append_only=True,
    columns=(
        Column("message_id", "string", False, "Unique per message; re-sends are dropped."),
        Column("type", "string", False, "Segment call type.", EVENT_TYPES),
        Column("event", "string", True, "Track event name (`Product Viewed`) or page name."),
        Column("timestamp", "timestamp", False, "When it happened (UTC, clock-corrected)."),
        Column("received_at", "timestamp", True, "When Lifetide received it (UTC)."),
        Column("user_id", "string", True, "The signed-in customer's identifier."),
        Column("anonymous_id", "string", True, "Device or browser identifier."),
        Column("product_id", "string", True, "properties.product_id"),
        Column("category", "string", True, "properties.category"),
        Column("brand", "string", True, "properties.brand"),
        Column("price", MONEY, True, "properties.price"),
        Column("quantity", "int32", True, "properties.quantity"),
        Column("cart_id", "string", True, "properties.cart_id"),
        Column("order_id", "string", True, "properties.order_id"),
        Column("revenue", MONEY, True, "properties.revenue (or total) of an order event."),
        Column("campaign_id", "string", True, "properties.campaign_id of e-mail events."),
        Column("properties", "json", True, "All track or page properties as JSON."),
        Column("traits", "json", True, "Identify traits as JSON."),
        Column("context", "json", True, "Segment context (page, user agent, ...) as JSON."),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (PRODUCTS, CUSTOMERS, ORDERS, ORDER_ITEMS, EVENTS)}

# Tables in an order in which each one's references are already loaded.
IMPORT_ORDER: tuple[str, ...] = ("products", "customers", "orders", "order_items", "events")


def table(name: str) -> Table:
    """The warehouse table called `name`, or a ValueError listing the known ones."""
    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(IMPORT_ORDER)
        raise ValueError(f"unknown table {name!r}; the tables are: {known}") from None
