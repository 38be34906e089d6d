"""A real S3 API server for semc's tests: moto's, on 127.0.0.1 at a free port.

Prints the endpoint on its first line, creates the buckets named on the command line, and
serves until its standard input closes (the test that started it ended).
"""

import sys

from client import s3 as client
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
server.start()
host, port = server.get_host_and_port()
endpoint = f"http://{host}:{port}"
s3 = client(endpoint)
for bucket in sys.argv[1:]:
    s3.create_bucket(Bucket=bucket)
print(f"endpoint {endpoint}", flush=True)
sys.stdin.read()
server.stop()
