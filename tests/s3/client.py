"""An S3 client for the tests' server (moto's), with the tests' credentials."""

import boto3


def s3(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
