"""batchrecs: Amazon Personalize batch recommendations from a file dropped in S3."""

__version__ = "0.1.0"
