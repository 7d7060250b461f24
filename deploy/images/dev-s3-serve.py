"""Serves moto's S3 on 0.0.0.0:5000 after creating the buckets named on the command line, until stopped."""
import signal
import sys

import boto3
from moto.server import ThreadedMotoServer

# Blocked before the server's threads start, so only the wait below receives them (as PID 1 in a
# container the default actions would be ignored).
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
server = ThreadedMotoServer(ip_address="0.0.0.0", port=5000, verbose=False)
server.start()
s3 = boto3.client(
    "s3",
    endpoint_url="http://127.0.0.1:5000",
    region_name="us-east-1",
    aws_access_key_id="any",
    aws_secret_access_key="any",
)
for bucket in sys.argv[1:]:
    s3.create_bucket(Bucket=bucket)
print(f"s3 listening on :5000 with buckets {' '.join(sys.argv[1:])}", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
server.stop()
