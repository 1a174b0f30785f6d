"""CreateBatchInferenceJob and the recipe lookup that decides a job's kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from batchrecs.errors import CapacityExceeded, JobRefused, RecipeCannotBatch, UnusableSolutionVersion
from batchrecs.execution import CreateJobRequest, CreateSegmentJobRequest
from batchrecs.kinds import JobKind
from batchrecs.ports import CreatedJob

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient

RECIPE_KINDS: dict[str, JobKind | None] = {
    "aws-user-personalization": JobKind.USERS,
    "aws-user-personalization-v2": JobKind.USERS,
    "aws-popularity-count": JobKind.USERS,
    "aws-hrnn": JobKind.USERS,
    "aws-hrnn-metadata": JobKind.USERS,
    "aws-hrnn-coldstart": JobKind.USERS,
    "aws-personalized-ranking": JobKind.RANKING,
    "aws-personalized-ranking-v2": JobKind.RANKING,
    "aws-sims": JobKind.ITEMS,
    "aws-similar-items": JobKind.ITEMS,
    "aws-item-affinity": JobKind.ITEM_AFFINITY,
    "aws-item-attribute-affinity": JobKind.ITEM_ATTRIBUTES,
    "aws-trending-now": None,
    "aws-next-best-action": None,
}
"""Recipe name → record kind. None marks recipes that cannot run as batch inference jobs."""


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
        self._kinds: dict[str, JobKind | None] = {}

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

    def recipe_kind(self, solution_version_arn: str) -> JobKind | None:
        """The kind the solution version's recipe reads, as Personalize itself interprets the file.

        Returns None where the recipe is unknown to batchrecs or cannot be described; the caller then takes the
        kind from the data. Raises RecipeCannotBatch for recipes with no batch inference. A solution version never
        changes its recipe, so answers are cached for the life of the container.
        """
        if solution_version_arn in self._kinds:
            return self._kinds[solution_version_arn]
        try:
            version = self.personalize.describe_solution_version(solutionVersionArn=solution_version_arn)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                raise UnusableSolutionVersion(
                    f"solution version {solution_version_arn} does not exist (or is not visible) in this account "
                    "and region"
                ) from error
            return None  # not cached: a throttle or a missing permission may pass
        recipe = version["solutionVersion"].get("recipeArn", "").rsplit("/", 1)[-1]
        if recipe in RECIPE_KINDS and RECIPE_KINDS[recipe] is None:
            raise RecipeCannotBatch(f"recipe {recipe} cannot run batch inference jobs")
        self._kinds[solution_version_arn] = RECIPE_KINDS.get(recipe)
        return self._kinds[solution_version_arn]
