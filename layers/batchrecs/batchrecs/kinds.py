"""The words a job's settings are made of: the kinds of records, the job modes, the backends, and the members of
Personalize's JSON settings."""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """What each input record names, and so which recipes can serve it. The last two are batch segment jobs'
    queries (Item-Affinity, Item-Attribute-Affinity): each line asks for the users most likely to want an item, or
    items with given attributes."""

    USERS = "users"
    ITEMS = "items"
    RANKING = "ranking"
    ITEM_AFFINITY = "item-affinity"
    ITEM_ATTRIBUTES = "item-attributes"

    @property
    def is_segment(self) -> bool:
        """True for the kinds a batch segment job reads (CreateBatchSegmentJob), not a batch inference job."""
        return self in (JobKind.ITEM_AFFINITY, JobKind.ITEM_ATTRIBUTES)


class JobMode(StrEnum):
    BATCH_INFERENCE = "BATCH_INFERENCE"
    THEME_GENERATION = "THEME_GENERATION"


class BackendChoice(StrEnum):
    """Who runs a job: ``auto`` picks the self-hosted scorer whenever it can honour every setting."""

    AUTO = "auto"
    PERSONALIZE = "personalize"
    SELF_HOSTED = "self-hosted"


class RankingInfluenceType(StrEnum):
    POPULARITY = "POPULARITY"
    FRESHNESS = "FRESHNESS"


class ItemExplorationKey(StrEnum):
    """The two hyperparameters Personalize accepts in itemExplorationConfig (User-Personalization only)."""

    EXPLORATION_WEIGHT = "explorationWeight"
    EXPLORATION_ITEM_AGE_CUT_OFF = "explorationItemAgeCutOff"
