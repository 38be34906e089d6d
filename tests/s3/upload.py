"""Copies a local folder to S3 (moto in the tests): upload.py ENDPOINT DIR BUCKET PREFIX."""

import os
import sys

from client import s3 as client

endpoint, local, bucket, prefix = sys.argv[1:5]
s3 = client(endpoint)
for folder, _, files in os.walk(local, followlinks=True):
    for name in files:
        path = os.path.join(folder, name)
        key = prefix.rstrip("/") + "/" + os.path.relpath(path, local)
        s3.upload_file(path, bucket, key)
