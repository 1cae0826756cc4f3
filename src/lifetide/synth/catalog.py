"""The product catalog: drawn once per seed from the assortment, independent of customers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lifetide.synth import money
from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.assortment import (
    ADJECTIVES,
    BRANDS,
    CATEGORIES,
    CATEGORY_SHARES,
    SUBCATEGORIES,
    TIERS,
)
from lifetide.synth.identifiers import scramble
from lifetide.synth.timeline import Timeline
from lifetide.warehouse import schema
from lifetide.warehouse.arrow import arrow_schema

SHOP_URL = "https://shop.example.com"
IMAGE_URL = "https://shop.example.com/images/products"


@dataclass(frozen=True)
class Catalog:
    """Products as parallel arrays (index = product number) plus their display strings."""

    product_id: list[str]
    sku: list[str]
    name: list[str]
    url: list[str]
    category: IntArray
    subcategory: IntArray
    brand: IntArray
    tier: IntArray
    price_cents: IntArray
    replenish_days: IntArray  # 0 where not replenishable
    launched_days: FloatArray  # days since the history start (negative: before it)
    popularity: FloatArray
    clearance_ok: BoolArray
    # `"product_id":...,"price":..` for event properties, without braces.
    fragment: list[str]

    @property
    def size(self) -> int:
        """Number of products."""
        return len(self.product_id)

    @property
    def replenishable(self) -> BoolArray:
        """Products bought again when used up."""
        return self.replenish_days > 0

    def table(self, timeline: Timeline) -> pa.Table:
        """The products table, in the warehouse's schema."""
        brand_names = [b[0] for b in BRANDS]
        return pa.Table.from_arrays(
            [
                pa.array(self.product_id),
                pa.array(self.sku),
                pa.array(self.name),
                pa.array([CATEGORIES[c] for c in self.category]),
                pa.array([SUBCATEGORIES[s].name for s in self.subcategory]),
                pa.array([brand_names[b] for b in self.brand]),
                money.decimals(self.price_cents),
                pa.array([TIERS[t] for t in self.tier]),
                pa.array(self.replenishable),
                pa.array(
                    np.where(self.replenishable, self.replenish_days, 0).astype(np.int32),
                    mask=~self.replenishable,
                ),
                timeline.timestamps(self.launched_days),
                pa.array([f"{IMAGE_URL}/{p.lower()}.jpg" for p in self.product_id]),
                pa.array(self.url),
            ],
            schema=arrow_schema(schema.PRODUCTS),
        )


def _price_cents(rng: np.random.Generator, low: float, high: float, tier: int) -> int:
    dollars = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    if tier == 0:
        # Drugstore pricing: 7.99, 12.49.
        return max(199, round(dollars * 2) * 50 - 1)
    return max(300, round(dollars) * 100)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def build_catalog(size: int, rng: np.random.Generator) -> Catalog:
    """Draw `size` products: category by share, a brand selling it, a subcategory, a price."""
    category = rng.choice(len(CATEGORIES), size=size, p=np.array(CATEGORY_SHARES))
    brand = np.empty(size, dtype=np.int64)
    subcategory = np.empty(size, dtype=np.int64)
    brand_size = rng.lognormal(0.0, 0.5, len(BRANDS))
    for c, name in enumerate(CATEGORIES):
        members = np.flatnonzero(category == c)
        sellers = [i for i, b in enumerate(BRANDS) if name in b[2]]
        # A brand's main category carries twice the weight of its others.
        weights = np.array([brand_size[i] * (2 if BRANDS[i][2][0] == name else 1) for i in sellers])
        brand[members] = rng.choice(sellers, size=len(members), p=weights / weights.sum())
        subs = [i for i, s in enumerate(SUBCATEGORIES) if s.category == name]
        sub_w = np.array([SUBCATEGORIES[i].weight for i in subs], dtype=np.float64)
        subcategory[members] = rng.choice(subs, size=len(members), p=sub_w / sub_w.sum())
    tier = np.array([TIERS.index(BRANDS[b][1]) for b in brand], dtype=np.int64)

    price = np.empty(size, dtype=np.int64)
    days = np.zeros(size, dtype=np.int64)
    names: list[str] = []
    for i in range(size):
        sub = SUBCATEGORIES[subcategory[i]]
        low, high = (sub.budget, sub.mid, sub.prestige)[tier[i]]
        price[i] = _price_cents(rng, low, high, int(tier[i]))
        if sub.replenish_days is not None:
            days[i] = round(sub.replenish_days * rng.uniform(0.85, 1.15))
        adjective = ADJECTIVES[rng.integers(len(ADJECTIVES))]
        noun = sub.nouns[rng.integers(len(sub.nouns))]
        names.append(f"{BRANDS[brand[i]][0]} {adjective} {noun}")

    numbers = scramble(np.arange(size, dtype=np.int64), 6, salt=104_729)
    product_id = [f"P{n:06d}" for n in numbers]
    sku = [
        f"{re.sub(r'[^A-Z]', '', BRANDS[b][0].upper())[:3]}-{n:06d}"
        for b, n in zip(brand, scramble(numbers, 6, salt=7), strict=True)
    ]
    url = [
        f"{SHOP_URL}/products/{_slug(n)}-{p.lower()}"
        for n, p in zip(names, product_id, strict=True)
    ]
    fragment = [
        f'"product_id":"{p}","sku":"{s}","category":"{CATEGORIES[c]}","name":"{n}",'
        f'"brand":"{BRANDS[b][0]}","price":{cents // 100}.{cents % 100:02d},"currency":"USD"'
        for p, s, c, n, b, cents in zip(product_id, sku, category, names, brand, price, strict=True)
    ]
    return Catalog(
        product_id=product_id,
        sku=sku,
        name=names,
        url=url,
        category=category.astype(np.int64),
        subcategory=subcategory,
        brand=brand,
        tier=tier,
        price_cents=price,
        replenish_days=days,
        launched_days=-rng.uniform(60, 3000, size),
        popularity=rng.lognormal(0.0, 0.9, size),
        clearance_ok=rng.random(size) < 0.12,
        fragment=fragment,
    )
