"""Entities: batched populations of users, corpora, recommenders and metrics."""
from simlab.recsim.entities.ecosystem import (ClusteredUsers, ProviderAwareRecommender, UtilityMetrics,
                                              ViableCorpus)

__all__ = ["ClusteredUsers", "ProviderAwareRecommender", "UtilityMetrics", "ViableCorpus"]
