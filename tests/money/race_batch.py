"""One of the racing processes: at START (epoch seconds), a batch of COUNT $0.40 videos under spend limit LIMIT.

Prints one JSON line: each item's status. Run as ``python race_batch.py BASE_URL LIMIT OUT KEY START COUNT``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from prefect_sora._errors import BatchIncomplete
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.flows import batch_text_to_video


def main() -> None:
    base_url, limit, out, key, start, count = sys.argv[1:]
    credentials = SoraCredentials(api_key="sk-race", base_url=base_url, spend_limit_name=limit)
    requests = [VideoRequest(prompt=f"{key}: a paper boat, take {i}") for i in range(int(count))]
    time.sleep(max(0.0, float(start) - time.time()))  # both processes reserve at the same moment
    try:
        batch = asyncio.run(
            batch_text_to_video(
                requests, out=out, credentials=credentials, idempotency_key=key, concurrency=len(requests)
            )
        )
    except BatchIncomplete as exc:
        batch = exc.result
    print(json.dumps([item.status for item in batch.items]))


if __name__ == "__main__":
    main()
