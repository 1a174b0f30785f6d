"""Which solution version each of a drop's jobs runs, and what its recipe reads and takes: a solution named is
resolved to a version (``batchrecs.solutions``), each version's recipe looked up (``batchrecs.recipes``), the kind
of records decided, and the settings the recipe does not take refused (the drop's) or left out (the stack's)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from batchrecs.errors import DropRejected, SettingsError, UnusableSolutionVersion
from batchrecs.kinds import JobKind, JobMode
from batchrecs.observability import logger
from batchrecs.ports import ObjectHead, SubmitPorts
from batchrecs.recipes import Recipe, Setting
from batchrecs.settings import JobSettings
from batchrecs.solutions import is_solution_arn, latest_alias, newest_version, no_version
from batchrecs.stack_settings import StackSettings
from batchrecs.submit.model import DropVersion

Recipes = dict[str, Recipe | None]
"""Solution version ARN → its recipe (None: DescribeSolutionVersion could not say)."""


@dataclass(frozen=True)
class Settled:
    """What a drop's jobs run on, decided once per drop."""

    each: list[JobSettings]
    """One job's settings per solution version (the stack's defaults under the drop's metadata, each naming the
    version it runs), without the stack defaults its recipe does not take."""
    kind: JobKind | None
    """The records they read (None: the data decides)."""
    recipes: Recipes
    solutions: dict[str, str]
    """Solution version ARN → the solution the drop named, for a version resolved from a solution."""
    left_out: dict[str, list[str]]
    """Solution version ARN → the stack defaults its recipe does not take, left out of its job."""


def drop_settings(
    head: ObjectHead, version: DropVersion, ports: SubmitPorts, stack: StackSettings, *, one_version: bool = False
) -> Settled:
    """The drop's jobs' settings, versions, kind and recipes; with ``one_version``, a drop that compares versions is
    refused. A bad setting, a solution with no version to run, or a setting its recipe does not take rejects the
    drop."""
    try:
        each = JobSettings.merge_each(
            stack.job_defaults, head.metadata, max_num_results=stack.max_num_results, home=stack.home
        )
        if one_version and len(each) > 1:
            raise SettingsError([("solution-version-arn", "a folder drop runs one solution version; compare on files")])
        given = frozenset(key.lower() for key in head.metadata)
        each, solutions = resolve_solutions(each, ports, given)
        kind, recipes = drop_kind(each, ports, given)
        fits = [fitted(settings, recipes[settings.solution_version_arn]) for settings in each]
        left_out = {settings.solution_version_arn: out for settings, out in fits if out}
        return Settled([settings for settings, _ in fits], kind, recipes, solutions, left_out)
    except SettingsError as error:
        raise DropRejected(error.problems, version_id=version.version_id) from None


def resolve_solutions(
    each: list[JobSettings], ports: SubmitPorts, given: frozenset[str] = frozenset()
) -> tuple[list[JobSettings], dict[str, str]]:
    """Each job's settings naming the version it runs: a solution named is resolved to its newest ACTIVE version
    that ``solution-version-policy`` allows (ListSolutionVersions), once for the whole drop; and version ARN → the
    solution named. A solution with no such version, or two names of one version, is refused."""
    resolved: list[JobSettings] = []
    solutions: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for settings in each:
        arn, policy = settings.solution_version_arn, settings.solution_version_policy
        if latest_alias(arn):
            problems.append(("solution-version-arn", str(latest_alias(arn))))
            continue
        if not is_solution_arn(arn):
            if "solution-version-policy" in given:  # the drop asked for a choice that names no solution to choose in
                problems.append(("solution-version-policy", f"applies to a solution; {arn} is a version"))
            resolved.append(settings)
            continue
        try:
            versions = ports.personalize.solution_versions(arn)
        except UnusableSolutionVersion as error:
            problems.append(("solution-version-arn", str(error)))
            continue
        chosen = newest_version(versions, policy)
        if chosen is None:
            problems.append(("solution-version-arn", no_version(arn, versions, policy)))
            continue
        solutions[chosen.arn] = arn
        resolved.append(settings.model_copy(update={"solution_version_arn": chosen.arn}))
    runs = [(settings.solution_version_arn, settings.scorer_model) for settings in resolved]
    twice = sorted({arn for arn, model in runs if runs.count((arn, model)) > 1})
    if twice:
        problems.append(("solution-version-arn", f"names {', '.join(twice)} twice (once through its solution)"))
    if problems:
        raise SettingsError(problems)
    if solutions:
        logger.info("solutions resolved", extra={"versions": solutions})
    return resolved, solutions


def drop_kind(
    each: list[JobSettings], ports: SubmitPorts, given: frozenset[str] = frozenset()
) -> tuple[JobKind | None, Recipes]:
    """The record kind: forced by metadata, else the recipe's; theme jobs read items from a Similar-Items recipe.
    Solution versions compared on one drop must read the same kind of records."""
    kinds: dict[str, JobKind | None] = {}
    recipes: Recipes = {}
    problems: list[tuple[str, str]] = []
    for settings in each:  # every version's problem, not only the first one's
        try:
            arn = settings.solution_version_arn
            kinds[arn], recipes[arn] = kind_of(settings, ports, given)
        except SettingsError as error:
            problems.extend(error.problems)
    if problems:
        raise SettingsError(problems)
    if len(set(kinds.values())) > 1:
        read = ", ".join(f"{arn} reads {kind or 'any'} records" for arn, kind in kinds.items())
        raise SettingsError([("solution-version-arn", f"compared solution versions must read one kind: {read}")])
    return next(iter(kinds.values())), recipes


def kind_of(
    settings: JobSettings, ports: SubmitPorts, given: frozenset[str] = frozenset()
) -> tuple[JobKind | None, Recipe | None]:
    """The kind of records one solution version's job reads, and its recipe. A setting the drop gives (``given``:
    its metadata keys) that the recipe does not take is refused, naming the recipe; so is one a segment recipe's job
    type does not take, whoever gave it."""
    try:
        recipe = ports.personalize.recipe(settings.solution_version_arn)
    except UnusableSolutionVersion as error:
        raise SettingsError([("solution-version-arn", str(error))]) from None
    kind = settings.kind or (recipe.kind if recipe else None)
    problems = recipe_problems(settings, recipe, given) if recipe else []
    if recipe is not None and recipe.known and settings.kind and recipe.kind and settings.kind is not recipe.kind:
        problems.append(("kind", f"recipe {recipe.name} reads {recipe.kind} records, not {settings.kind}"))
    if kind is not None and kind.is_segment:
        problems = segment_problems(settings, kind, problems)
    themes = settings.job_mode is JobMode.THEME_GENERATION and not (recipe and recipe.refused(Setting.THEMES))
    if themes and not problems:
        if kind not in (None, JobKind.ITEMS):
            problems.append(
                (
                    "batch-inference-job-mode",
                    f"THEME_GENERATION needs a Similar-Items solution version; this one's recipe reads {kind} records",
                )
            )
        kind = JobKind.ITEMS
    if problems:
        raise SettingsError(problems)
    return kind, recipe


def segment_problems(settings: JobSettings, kind: JobKind, problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``problems``, with the inference-only settings a segment job takes none of said as such, whoever gave them."""
    inference_only = {
        "batch-inference-job-mode": settings.job_mode is not JobMode.BATCH_INFERENCE,
        "item-exploration-config": bool(settings.item_exploration_config),
        "ranking-influence": bool(settings.ranking_influence),
        "exclude-seen": settings.exclude_seen,
    }
    refused = {key for key, on in inference_only.items() if on}
    return [problem for problem in problems if problem[0] not in refused] + [
        (key, f"applies to batch inference jobs only; this solution version's recipe makes {kind} segments")
        for key in sorted(refused)
    ]


def recipe_problems(settings: JobSettings, recipe: Recipe, given: frozenset[str]) -> list[tuple[str, str]]:
    """The recipe-specific settings the drop gives that ``recipe`` does not take, each with whose they are."""
    return [
        (setting.value, f"recipe {recipe.name} does not take it: {setting.owner}")
        for setting, on in _recipe_settings(settings).items()
        if on and setting.value in given and recipe.refused(setting)
    ]


def fitted(settings: JobSettings, recipe: Recipe | None) -> tuple[JobSettings, list[str]]:
    """``settings`` without the stack's defaults its recipe does not take (a stack-wide ItemExplorationConfig is
    User-Personalization's, not a Similar-Items job's), and the metadata keys of those left out, which the job's
    events name (``settingsLeftOut``); the drop's own were refused before (``recipe_problems``)."""
    if recipe is None:
        return settings, []
    unset: dict[Setting, dict[str, object]] = {
        Setting.ITEM_EXPLORATION: {"item_exploration_config": None},
        Setting.RANKING_INFLUENCE: {"ranking_influence": None},
        Setting.THEMES: {"job_mode": JobMode.BATCH_INFERENCE, "theme_item_name": None},
    }
    update: dict[str, object] = {}
    left_out = []
    for setting, on in _recipe_settings(settings).items():
        if on and recipe.refused(setting):
            update |= unset[setting]
            left_out.append(setting.value)
    if not update:
        return settings, []
    logger.info("stack defaults its recipe does not take left out", extra={"recipe": recipe.name, "unset": left_out})
    try:  # validated again, as a whole: a field left out may have made another one meaningless
        return JobSettings.model_validate(settings.model_dump() | update), left_out
    except ValidationError as error:
        raise SettingsError([("settings", f"without {', '.join(left_out)}: {error.errors()[0]['msg']}")]) from None


def _recipe_settings(settings: JobSettings) -> dict[Setting, bool]:
    return {
        Setting.ITEM_EXPLORATION: bool(settings.item_exploration_config),
        Setting.RANKING_INFLUENCE: bool(settings.ranking_influence),
        Setting.THEMES: settings.job_mode is JobMode.THEME_GENERATION,
    }
