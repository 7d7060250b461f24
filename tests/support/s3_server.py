"""A local S3 server (moto) for the S3 archive tests.

Usage: s3_server.py BUCKET. Creates the bucket, prints "s3 listening on http://127.0.0.1:PORT" (the
port is picked by the system), then serves until its standard input closes.
"""
import sys

import boto3
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
url = f"http://{host}:{port}"
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
s3.create_bucket(Bucket=sys.argv[1])
print(f"s3 listening on {url}", flush=True)
sys.stdin.read()
server.stop()
