"""What a beauty retailer sells: categories, subcategories with price ranges, and brands.

Pure data; catalog.py turns it into products.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("skincare", "makeup", "fragrance", "hair", "bath & body", "tools")
# Share of the catalog in each category, and of an average shopper's purchases.
CATEGORY_SHARES = (0.30, 0.30, 0.12, 0.14, 0.09, 0.05)
TIERS = ("budget", "mid", "prestige")

Range = tuple[float, float]


@dataclass(frozen=True)
class Subcategory:
    """A kind of product: its category, weight in it, repurchase rhythm, prices per tier."""

    category: str
    name: str
    weight: float
    replenish_days: int | None
    budget: Range
    mid: Range
    prestige: Range
    nouns: tuple[str, ...]


def _s(
    category: str,
    name: str,
    weight: float,
    days: int | None,
    prices: tuple[Range, Range, Range],
    *nouns: str,
) -> Subcategory:
    return Subcategory(category, name, weight, days, prices[0], prices[1], prices[2], nouns)


SK, MU, FR, HA, BB, TO = CATEGORIES
SUBCATEGORIES: tuple[Subcategory, ...] = (
    _s(
        SK,
        "cleanser",
        3,
        45,
        ((6, 14), (18, 34), (38, 75)),
        "Cleanser",
        "Cleansing Balm",
        "Gel Cleanser",
    ),
    _s(SK, "toner", 2, 60, ((6, 14), (18, 36), (40, 85)), "Toner", "Essence", "Exfoliating Toner"),
    _s(
        SK,
        "serum",
        4,
        60,
        ((9, 22), (28, 60), (68, 195)),
        "Serum",
        "Vitamin C Serum",
        "Retinol Serum",
        "Peptide Serum",
    ),
    _s(
        SK,
        "moisturizer",
        4,
        60,
        ((8, 20), (24, 52), (58, 210)),
        "Moisturizer",
        "Water Cream",
        "Night Cream",
        "Gel Cream",
    ),
    _s(SK, "eye cream", 2, 75, ((8, 18), (25, 50), (55, 150)), "Eye Cream", "Eye Balm"),
    _s(
        SK,
        "sunscreen",
        2,
        45,
        ((8, 16), (20, 38), (40, 70)),
        "Sunscreen SPF 30",
        "Sunscreen SPF 50",
    ),
    _s(
        SK,
        "face mask",
        2,
        None,
        ((3, 8), (12, 40), (45, 90)),
        "Sheet Mask",
        "Clay Mask",
        "Sleeping Mask",
    ),
    _s(SK, "exfoliator", 1, 60, ((7, 15), (20, 45), (50, 90)), "Exfoliator", "Peel Pads"),
    _s(MU, "foundation", 3, 75, ((8, 16), (28, 45), (48, 75)), "Foundation", "Skin Tint"),
    _s(MU, "concealer", 2, 90, ((6, 12), (20, 32), (34, 45)), "Concealer"),
    _s(MU, "mascara", 3, 90, ((6, 12), (20, 28), (29, 36)), "Mascara", "Lengthening Mascara"),
    _s(
        MU,
        "lipstick",
        3,
        None,
        ((5, 12), (18, 28), (32, 55)),
        "Lipstick",
        "Matte Lipstick",
        "Lip Stain",
    ),
    _s(MU, "lip gloss", 2, None, ((4, 10), (16, 24), (28, 40)), "Lip Gloss", "Lip Oil"),
    _s(
        MU,
        "eyeshadow",
        2,
        None,
        ((8, 18), (28, 50), (55, 95)),
        "Eyeshadow Palette",
        "Eyeshadow Stick",
    ),
    _s(MU, "blush", 2, None, ((6, 12), (20, 32), (34, 50)), "Blush", "Bronzer", "Highlighter"),
    _s(MU, "eyeliner", 1, 90, ((4, 10), (18, 26), (27, 34)), "Eyeliner", "Brow Pencil"),
    _s(
        MU,
        "setting powder",
        1,
        90,
        ((7, 14), (24, 40), (42, 60)),
        "Setting Powder",
        "Setting Spray",
    ),
    _s(MU, "primer", 1, 90, ((7, 14), (22, 38), (40, 65)), "Primer"),
    _s(FR, "eau de parfum", 4, None, ((15, 40), (55, 120), (130, 380)), "Eau de Parfum"),
    _s(FR, "eau de toilette", 3, None, ((12, 35), (45, 95), (100, 220)), "Eau de Toilette"),
    _s(FR, "body mist", 2, 60, ((8, 16), (18, 35), (38, 70)), "Body Mist", "Hair Mist"),
    _s(FR, "rollerball", 2, None, ((10, 20), (22, 35), (30, 48)), "Rollerball", "Travel Spray"),
    _s(FR, "candle", 1, None, ((10, 20), (28, 48), (55, 90)), "Candle"),
    _s(HA, "shampoo", 4, 40, ((5, 12), (18, 34), (36, 62)), "Shampoo", "Clarifying Shampoo"),
    _s(HA, "conditioner", 3, 40, ((5, 12), (18, 34), (36, 62)), "Conditioner"),
    _s(HA, "hair mask", 2, 60, ((6, 14), (22, 40), (42, 72)), "Hair Mask", "Bond Repair Treatment"),
    _s(
        HA,
        "styling",
        2,
        60,
        ((6, 14), (20, 34), (34, 55)),
        "Styling Cream",
        "Texture Spray",
        "Hairspray",
    ),
    _s(HA, "hair oil", 1, 90, ((7, 15), (22, 40), (42, 78)), "Hair Oil"),
    _s(HA, "dry shampoo", 1, 30, ((5, 10), (16, 26), (28, 40)), "Dry Shampoo"),
    _s(BB, "body wash", 3, 35, ((4, 10), (14, 26), (30, 55)), "Body Wash", "Shower Oil"),
    _s(BB, "body lotion", 3, 45, ((5, 12), (16, 32), (38, 80)), "Body Lotion", "Body Butter"),
    _s(BB, "hand cream", 2, 45, ((3, 8), (12, 22), (25, 40)), "Hand Cream"),
    _s(BB, "deodorant", 1, 30, ((4, 9), (12, 18), (18, 28)), "Deodorant"),
    _s(BB, "body scrub", 1, 60, ((6, 12), (18, 34), (38, 68)), "Body Scrub"),
    _s(
        TO,
        "brush",
        3,
        None,
        ((5, 14), (18, 36), (38, 80)),
        "Foundation Brush",
        "Powder Brush",
        "Brush Set",
    ),
    _s(TO, "sponge", 2, 90, ((3, 7), (10, 20), (22, 30)), "Blending Sponge"),
    _s(TO, "hair dryer", 1, None, ((25, 45), (60, 150), (180, 450)), "Hair Dryer", "Straightener"),
    _s(TO, "tweezers", 1, None, ((4, 9), (14, 24), (26, 40)), "Tweezers", "Eyelash Curler"),
    _s(
        TO,
        "cotton pads",
        2,
        30,
        ((2.5, 5), (6, 10), (11, 16)),
        "Cotton Pads",
        "Makeup Remover Pads",
    ),
)

ADJECTIVES = (
    "Hydra", "Glow", "Velvet", "Pure", "Radiant", "Silk", "Daily", "Ultra", "Soft", "Bright",
    "Dewy", "Matte", "Calm", "Clear", "Nourish", "Bare", "Bloom", "Luminous", "Fresh",
    "Barrier", "Cloud", "Cashmere", "Midnight", "Golden", "Rose", "Citrus", "Vanilla",
    "Sea Salt", "Green Tea", "Ceramide", "Peptide", "Rich", "Featherweight", "Lasting",
    "Power", "Gentle", "Juicy", "Sheer", "Satin", "Butter",
)  # fmt: skip

# Fictional brands: name, price tier, the categories they sell (first = main one).
BRANDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Maison Verte", "prestige", (SK, BB)),
    ("Lumiere Atelier", "prestige", (SK, MU)),
    ("Orchid & Oak", "prestige", (FR, BB)),
    ("Noir Bloom", "prestige", (FR,)),
    ("Celestine Paris", "prestige", (FR, MU)),
    ("Dr. Halden", "prestige", (SK,)),
    ("Aurelia Skin", "prestige", (SK,)),
    ("Velour Beaute", "prestige", (MU,)),
    ("Kaiya Tokyo", "prestige", (SK, MU)),
    ("Sable Studio", "prestige", (MU, TO)),
    ("Ondine", "prestige", (HA, BB)),
    ("Atelier Cheveux", "prestige", (HA,)),
    ("Ambre Noire", "prestige", (FR,)),
    ("Silvan Labs", "prestige", (SK, HA)),
    ("Gilded Fox", "prestige", (MU,)),
    ("Windsor & Vale", "prestige", (FR, BB)),
    ("Halo Pro Tools", "prestige", (TO,)),
    ("Iris Marchetti", "prestige", (MU, FR)),
    ("Clarisse", "prestige", (SK,)),
    ("Northern Sage", "prestige", (BB, SK)),
    ("Drunken Peony", "prestige", (SK, MU)),
    ("Saltwater Muse", "prestige", (HA, FR)),
    ("Glossworks", "mid", (MU,)),
    ("Petal Theory", "mid", (SK, MU)),
    ("Honest Fern", "mid", (SK, BB)),
    ("Cloud Nine Beauty", "mid", (MU,)),
    ("Sunday Ritual", "mid", (SK, BB)),
    ("Brightside", "mid", (SK,)),
    ("Moss & Mineral", "mid", (SK, HA)),
    ("Coral Coast", "mid", (BB, FR)),
    ("Fable Fragrance", "mid", (FR,)),
    ("Tint Society", "mid", (MU,)),
    ("Curl Collective", "mid", (HA,)),
    ("Root & Ritual", "mid", (HA, BB)),
    ("Good Molecule Co", "mid", (SK,)),
    ("Lash Lab", "mid", (MU,)),
    ("Bamboo Tools", "mid", (TO,)),
    ("Studio Brush Co", "mid", (TO, MU)),
    ("Peachy Keen", "mid", (MU, BB)),
    ("Verdant", "mid", (SK, HA)),
    ("Minted", "mid", (BB,)),
    ("Seoul Garden", "mid", (SK, MU)),
    ("Tidal Scents", "mid", (FR, BB)),
    ("Kind Canvas", "mid", (SK, MU)),
    ("Mane Street", "mid", (HA,)),
    ("Blush Bureau", "mid", (MU,)),
    ("Fig & Fennel", "mid", (BB, FR)),
    ("Clean Slate", "mid", (SK, HA)),
    ("Daily Dose", "budget", (SK,)),
    ("Pretty Penny", "budget", (MU,)),
    ("Glow Getter", "budget", (SK, MU)),
    ("Simply Suds", "budget", (BB, HA)),
    ("Hue Crew", "budget", (MU,)),
    ("Basic Botanics", "budget", (SK, BB)),
    ("Lather Lane", "budget", (HA, BB)),
    ("Pocket Perfume", "budget", (FR,)),
    ("Swipe Right", "budget", (MU, TO)),
    ("Tool Time", "budget", (TO,)),
    ("Fresh Faced", "budget", (SK,)),
    ("Candy Coat", "budget", (MU,)),
    ("Splash Co", "budget", (BB, FR)),
    ("Rinse & Repeat", "budget", (HA,)),
    ("Dew Drop", "budget", (SK, MU)),
    ("Mellow Mist", "budget", (FR, BB)),
    ("Essentials Lab", "budget", (SK, HA)),
    ("Pinkie Promise", "budget", (MU,)),
    ("Bubble Bath Co", "budget", (BB,)),
    ("Snip & Style", "budget", (TO, HA)),
    ("Sweet Pea", "budget", (BB, FR)),
    ("Kitten Lash", "budget", (MU,)),
    ("Ocean Tonic", "budget", (HA, SK)),
    ("Sunny Day", "budget", (SK, BB)),
)
