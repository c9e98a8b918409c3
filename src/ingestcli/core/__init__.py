"""The domain the CLI and the Lambdas share: the CSV contract, the validator, the S3 key
layout, the uploads ledger, reports and statuses. It ships in the Lambda zip, so it imports
only the standard library, boto3/botocore and python-dateutil, and nothing else of ours."""
