"""Operations on a deployed batchrecs stack, or on the one `batchrecs serve` serves: its resources found by the
stack's name in CloudFormation, its wiring read from the template CloudFormation deployed. Needs boto3 and the
batchrecs package, never moto, the SAM CLI or this checkout's template.yaml."""
