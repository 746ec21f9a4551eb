"""moto's CPU to receive and delete a batch of a FIFO lane, by queue depth: stock moto against the
local cloud's receive and delete (localcloud/motoserver.py), measured in the same run.

    python bench/e2e/fifo_depth.py --depths 0,100,1000,3000 --batches 10

In process (moto's mock, boto3 included in the CPU time), ten message groups as ten tickers; each
depth gets a fresh queue. Stock first, then the patched receive and delete on fresh queues.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from localcloud import motoserver, motospeed  # noqa: E402


def batch_ms(sqs: Any, name: str, depth: int, batches: int) -> float:
    """CPU milliseconds per receive (10) + delete of what it received, at `depth` messages queued."""
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    url = sqs.create_queue(QueueName=f"{name}-{depth}.fifo", Attributes=attributes)["QueueUrl"]
    for n in range(depth + 10 * batches):
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x" * 300,
            MessageGroupId=f"T{n % 10}",
            MessageDeduplicationId=uuid.uuid4().hex,
        )
    started = time.process_time()
    for _ in range(batches):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])[
            "Messages"
        ]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return (time.process_time() - started) / batches * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--depths", default="0,100,1000,3000")
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    motospeed.lazy_queue_attributes()  # as the local cloud's moto, in both columns
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        stock = {d: batch_ms(sqs, "stock", d, args.batches) for d in depths}
        motoserver.patch()
        ours = {d: batch_ms(sqs, "ours", d, args.batches) for d in depths}
    print("| depth | stock moto ms | local cloud ms | stock / local cloud |")
    print("|---:|---:|---:|---:|")
    for d in depths:
        print(f"| {d} | {stock[d]:.1f} | {ours[d]:.1f} | {stock[d] / ours[d]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
