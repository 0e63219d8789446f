"""Entities: batched populations of users, corpora, recommenders and metrics."""
from recsim.entities.ecosystem import (ClusteredUsers, ProviderAwareRecommender, UtilityMetrics,
                                       ViableCorpus)

__all__ = ["ClusteredUsers", "ProviderAwareRecommender", "UtilityMetrics", "ViableCorpus"]
