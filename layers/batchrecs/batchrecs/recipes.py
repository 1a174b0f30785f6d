"""Personalize's recipes, one table: what each reads in a batch job, whether its output has scores, which
recipe-specific settings it takes, and whether the self-hosted scorer answers it (and how), or why not.

Every fact is from Personalize's developer guide or botocore's model, cited in docs/personalize.md with what is
observed and what is inferred. The scorer answers only recipes whose behaviour it models: the User-Personalization
family (EASE/iALS, with scores), Similar-Items and SIMS (related items), Personalized-Ranking (scores), and
Popularity-Count (the same popular list for every user, without scores). Every other recipe runs in Personalize.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from batchrecs.kinds import JobKind


class Answer(StrEnum):
    """How the self-hosted scorer answers a recipe's records."""

    PERSONALIZED = "personalized"
    """A user's items, by the model's scores (EASE or iALS), with the scores."""
    RELATED = "related"
    """An item's related items, without scores."""
    RANKED = "ranked"
    """A user's itemList, re-ranked by the model's scores, with the scores."""
    POPULAR = "popular"
    """The most popular items of the model's interactions, the same list for every user, without scores."""


class Setting(StrEnum):
    """The settings only some recipes take (the rest apply to every batch inference job)."""

    ITEM_EXPLORATION = "item-exploration-config"
    RANKING_INFLUENCE = "ranking-influence"
    THEMES = "batch-inference-job-mode"
    """THEME_GENERATION: Similar-Items only."""

    @property
    def owner(self) -> str:
        """Whose setting it is, as Personalize's documentation says."""
        return {
            Setting.ITEM_EXPLORATION: "item exploration is User-Personalization's (v2 explores by itself)",
            Setting.RANKING_INFLUENCE: "ranking influence (POPULARITY, FRESHNESS) is Semantic-Similarity's",
            Setting.THEMES: "THEME_GENERATION needs a Similar-Items solution version",
        }[self]


@dataclass(frozen=True)
class Recipe:
    name: str
    """The recipe ARN's last part (``aws-user-personalization``)."""
    kind: JobKind | None
    """The records its batch jobs read; None: it has no batch jobs (Trending-Now, Next-Best-Action)."""
    scores: bool
    """Its batch output lines have ``scores``."""
    answer: Answer | None
    """How the scorer answers it; None: only Personalize runs it (``why_personalize`` says why)."""
    why_personalize: str = ""
    settings: frozenset[Setting] = frozenset()
    """The recipe-specific settings it takes."""
    known: bool = True
    """False for a recipe batchrecs has no row for: Personalize decides what it takes."""

    def refused(self, setting: Setting) -> bool:
        """Is ``setting`` one this recipe does not take? An unknown recipe is given the benefit of the doubt."""
        return self.known and setting not in self.settings

    @classmethod
    def unknown(cls, name: str) -> Recipe:
        """A recipe with no row here (a new or domain recipe): its records are taken from the data, it runs in
        Personalize, and Personalize judges its settings."""
        why = f"batchrecs does not know recipe {name}, so the scorer does not model it"
        return cls(name, None, scores=False, answer=None, why_personalize=why, known=False)


SEGMENTS = "batch segment jobs run in Personalize: the scorer has no users-per-item model"
LEGACY = "legacy HRNN recipes are no longer available in Personalize; the scorer does not model them"

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "aws-user-personalization",
            JobKind.USERS,
            scores=True,
            answer=Answer.PERSONALIZED,
            settings=frozenset({Setting.ITEM_EXPLORATION}),
        ),
        Recipe("aws-user-personalization-v2", JobKind.USERS, scores=True, answer=Answer.PERSONALIZED),
        Recipe("aws-popularity-count", JobKind.USERS, scores=False, answer=Answer.POPULAR),
        Recipe("aws-personalized-ranking", JobKind.RANKING, scores=True, answer=Answer.RANKED),
        Recipe("aws-personalized-ranking-v2", JobKind.RANKING, scores=True, answer=Answer.RANKED),
        Recipe(
            "aws-similar-items",
            JobKind.ITEMS,
            scores=False,
            answer=Answer.RELATED,
            settings=frozenset({Setting.THEMES}),
        ),
        Recipe("aws-sims", JobKind.ITEMS, scores=False, answer=Answer.RELATED),
        Recipe(
            "aws-semantic-similarity",
            JobKind.ITEMS,
            scores=False,
            answer=None,
            why_personalize="Semantic-Similarity answers from embeddings of the items' text, which the scorer, "
            "trained on interactions, does not have",
            settings=frozenset({Setting.RANKING_INFLUENCE}),
        ),
        Recipe("aws-item-affinity", JobKind.ITEM_AFFINITY, scores=False, answer=None, why_personalize=SEGMENTS),
        Recipe(
            "aws-item-attribute-affinity", JobKind.ITEM_ATTRIBUTES, scores=False, answer=None, why_personalize=SEGMENTS
        ),
        Recipe("aws-trending-now", None, scores=False, answer=None, why_personalize="it has no batch jobs"),
        Recipe("aws-next-best-action", None, scores=False, answer=None, why_personalize="it has no batch jobs"),
        Recipe("aws-hrnn", JobKind.USERS, scores=True, answer=None, why_personalize=LEGACY),
        Recipe("aws-hrnn-metadata", JobKind.USERS, scores=True, answer=None, why_personalize=LEGACY),
        Recipe("aws-hrnn-coldstart", JobKind.USERS, scores=True, answer=None, why_personalize=LEGACY),
    )
}
"""Recipe name → its row. Scores: User-Personalization and Personalized-Ranking (v1 and v2) give them, and
the legacy HRNN rows are taken to as their type (USER_PERSONALIZATION) does; Semantic-Similarity's are
undocumented, taken as absent like its type's (RELATED_ITEMS). The scorer's output for each answered row has
scores exactly when the row says (tests/unit/test_scorer.py)."""


def recipe_of(recipe_arn: str) -> Recipe:
    """The row of a recipe ARN (``arn:aws:personalize:::recipe/aws-sims``) or name; ``Recipe.unknown`` if none."""
    name = recipe_arn.rsplit("/", 1)[-1]
    return RECIPES.get(name) or Recipe.unknown(name)


def recipe_arn(name: str) -> str:
    return f"arn:aws:personalize:::recipe/{name}"
