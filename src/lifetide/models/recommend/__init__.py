"""Recommendations: ALS, item-to-item co-occurrence and popularity, with their evaluation."""

from lifetide.models.recommend.als import ImplicitALS
from lifetide.models.recommend.cooccurrence import ItemCooccurrence
from lifetide.models.recommend.interactions import Interactions, PairSummary
from lifetide.models.recommend.metrics import RankingMetrics, evaluate
from lifetide.models.recommend.popularity import Popularity
from lifetide.models.recommend.recommender import Recommender, Source
from lifetide.models.recommend.split import new_purchases, time_split

__all__ = [
    "ImplicitALS",
    "Interactions",
    "ItemCooccurrence",
    "PairSummary",
    "Popularity",
    "RankingMetrics",
    "Recommender",
    "Source",
    "evaluate",
    "new_purchases",
    "time_split",
]
