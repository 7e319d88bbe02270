"""Reusable Prefect flows of prefect-sora, composed from the atomic tasks.

``text_to_video``, ``batch_text_to_video``, ``image_to_video`` and
``remix_video``, and ``publish_video``, the example an automation starts
when a video is stored, and ``sora_watcher``, which has runs suspended by
``wait="suspend"`` resumed when their jobs end; each takes typed parameters (a form in the Prefect UI),
checks the cost against an optional budget before anything is submitted, and
resumes rather than pays again when rerun with the same ``idempotency_key``.
"""

from prefect_sora.flows._batch import batch_text_to_video
from prefect_sora.flows._image_to_video import image_to_video
from prefect_sora.flows._publish import publish_video
from prefect_sora.flows._remix import remix_video
from prefect_sora.flows._results import BatchResult, VideoResult
from prefect_sora.flows._text_to_video import text_to_video
from prefect_sora.flows._watcher import sora_watcher

__all__ = [
    "BatchResult",
    "VideoResult",
    "batch_text_to_video",
    "image_to_video",
    "publish_video",
    "remix_video",
    "sora_watcher",
    "text_to_video",
]
