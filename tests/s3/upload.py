"""Copies a local folder to S3 (moto in the tests): upload.py ENDPOINT DIR BUCKET PREFIX."""

import os
import sys

import boto3

endpoint, local, bucket, prefix = sys.argv[1:5]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    region_name="us-east-1",
)
for folder, _, files in os.walk(local, followlinks=True):
    for name in files:
        path = os.path.join(folder, name)
        key = prefix.rstrip("/") + "/" + os.path.relpath(path, local)
        s3.upload_file(path, bucket, key)
