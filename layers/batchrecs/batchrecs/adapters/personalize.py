"""CreateBatchInferenceJob and the recipe lookup that decides a job's kind and backend (``batchrecs.recipes``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from batchrecs.errors import CapacityExceeded, JobRefused, RecipeCannotBatch, UnusableSolutionVersion
from batchrecs.execution import CreateJobRequest, CreateSegmentJobRequest
from batchrecs.ports import CreatedJob
from batchrecs.recipes import Recipe, recipe_of
from batchrecs.solutions import VersionSummary

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient

NEVER = datetime.min.replace(tzinfo=UTC)
"""A version's creation time when ListSolutionVersions leaves it out (the field is optional)."""

PERMANENT_CREATE_ERRORS = frozenset(
    {
        "InvalidInputException",
        "ResourceNotFoundException",
        "ResourceInUseException",
        "TooManyTagsException",
        "AccessDeniedException",
        "ValidationException",
    }
)


class PersonalizeJobs:
    def __init__(self, personalize: PersonalizeClient, creator: PersonalizeClient | None = None) -> None:
        self.personalize = personalize
        self.creator = creator or personalize
        """The client for CreateBatchInferenceJob: give it one attempt, since quota and throttling are queued."""
        self._recipes: dict[str, Recipe] = {}

    def create(self, request: CreateJobRequest | CreateSegmentJobRequest) -> CreatedJob:
        """Create the job (a batch inference job, or a batch segment job for a segment request), or adopt the one an
        earlier delivery created under the same deterministic name."""
        segment = not isinstance(request, CreateJobRequest)  # a CreateJobRequest is a segment request and more
        try:
            if segment:
                arn = self.creator.create_batch_segment_job(**request.to_api())["batchSegmentJobArn"]
            else:
                arn = self.creator.create_batch_inference_job(**request.to_api())["batchInferenceJobArn"]
            adopted = False
        except ClientError as error:
            if error.response["Error"]["Code"] in ("LimitExceededException", "ThrottlingException"):
                raise CapacityExceeded(error.response["Error"].get("Message", "quota reached")) from error
            code = error.response["Error"]["Code"]
            if code in PERMANENT_CREATE_ERRORS:
                raise JobRefused(code, error.response["Error"].get("Message", "")) from error
            if code != "ResourceAlreadyExistsException":
                raise
            arn = self.job_arn(request.solution_version_arn, request.job_name, segment=segment)
            adopted = True
        if segment:
            status = self.personalize.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"].get(
                "status"
            )
        else:
            status = self.personalize.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"].get(
                "status"
            )
        return CreatedJob(arn=arn, status=status or "UNKNOWN", adopted=adopted)

    @staticmethod
    def job_arn(solution_version_arn: str, job_name: str, *, segment: bool = False) -> str:
        """A job's ARN, in the partition, region and account of its solution version."""
        partition, service, region, account = solution_version_arn.split(":")[1:5]
        kind = "batch-segment-job" if segment else "batch-inference-job"
        return f"arn:{partition}:{service}:{region}:{account}:{kind}/{job_name}"

    def recipe(self, solution_version_arn: str) -> Recipe | None:
        """The solution version's recipe (its row in ``batchrecs.recipes``; ``Recipe.unknown`` for one with none).

        Returns None where SubmitFunction may not describe the version (AccessDenied): the caller then takes the kind
        from the data and leaves the job to Personalize. A throttle or a service error is raised (the drop is
        retried). Raises UnusableSolutionVersion for a version that does not exist or is not ACTIVE, and
        RecipeCannotBatch for recipes with no batch jobs. A solution version never changes its recipe, so answers
        are cached for the life of the container.
        """
        if solution_version_arn in self._recipes:
            return self._recipes[solution_version_arn]
        try:
            version = self.personalize.describe_solution_version(solutionVersionArn=solution_version_arn)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ResourceNotFoundException":
                raise UnusableSolutionVersion(
                    f"solution version {solution_version_arn} does not exist (or is not visible) in this account "
                    "and region"
                ) from error
            if code == "AccessDeniedException":
                return None  # not cached: the permission may be granted; meanwhile the job is Personalize's
            raise  # a throttle or a service error, after botocore's retries: the drop is retried, not misrouted
        status = version["solutionVersion"].get("status", "ACTIVE")
        if status != "ACTIVE":  # not cached: a version in training becomes ACTIVE
            raise UnusableSolutionVersion(
                f"solution version {solution_version_arn} is {status}, not ACTIVE: a batch job needs an ACTIVE "
                "version (or name the solution, to run its newest ACTIVE one)"
            )
        recipe = recipe_of(version["solutionVersion"].get("recipeArn", ""))
        if recipe.known and recipe.kind is None:
            raise RecipeCannotBatch(f"recipe {recipe.name} cannot run batch inference jobs ({recipe.why_personalize})")
        self._recipes[solution_version_arn] = recipe
        return recipe

    def solution_versions(self, solution_arn: str) -> list[VersionSummary]:
        """Every version of a solution (ListSolutionVersions, all pages). A solution that does not exist is unusable."""
        try:
            pages = self.personalize.get_paginator("list_solution_versions").paginate(solutionArn=solution_arn)
            return [
                VersionSummary(
                    arn=item["solutionVersionArn"],
                    status=item.get("status", ""),
                    training_mode=item.get("trainingMode"),
                    created=item.get("creationDateTime", NEVER),  # optional in the API: then the oldest
                )
                for page in pages
                for item in page.get("solutionVersions", [])
            ]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                raise UnusableSolutionVersion(
                    f"solution {solution_arn} does not exist (or is not visible) in this account and region"
                ) from error
            raise


def offline_metrics(personalize: PersonalizeClient, solution_version_arn: str) -> dict[str, float] | None:
    """Personalize's offline metrics of a solution version (GetSolutionMetrics: coverage, MRR@25, nDCG and precision
    at 5, 10 and 25), or None where it has none to give (a version gone, or not visible): a report says so, and
    measures the rest. A throttle or service error is raised, after botocore's retries."""
    try:
        metrics = personalize.get_solution_metrics(solutionVersionArn=solution_version_arn).get("metrics", {})
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ResourceNotFoundException", "InvalidInputException"):
            return None
        raise
    return {name: float(value) for name, value in metrics.items()}
