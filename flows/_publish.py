"""The publish_video flow: the small deployment an automation starts when a video is stored.

An example to copy: prefect.yaml's ``publish-video`` deployment is triggered by
``sora.video.stored`` and handed the stored URL from the event. Replace its body
with what publishing means to you (copy to a CDN, post to a channel, ...).
"""

from __future__ import annotations

from prefect import flow

from prefect_sora.tasks._common import run_logger


@flow(name="sora-publish-video", log_prints=False)
def publish_video(url: str, video_id: str = "") -> dict[str, str]:
    """Publish a stored video; here it only logs and returns where it is.

    Args:
        url: The stored video's URL (the ``sora.video.stored`` event's ``payload.url``).
        video_id: The video's full id (the event resource's ``sora.video.id`` label).

    Returns:
        The URL and the id, as received.

    Example:
        ```yaml
        # prefect.yaml
        deployments:
          - name: publish-video
            entrypoint: prefect_sora.flows._publish:publish_video
            triggers:
              - type: event
                match: {prefect.resource.id: "sora.video.*"}
                expect: [sora.video.stored]
                parameters:
                  url: "{{ event.payload.url }}"
                  video_id: "{{ event.resource['sora.video.id'] }}"
        ```
    """
    run_logger(__name__).info("Publishing video %s from %s", video_id or "(unnamed)", url)
    return {"url": url, "video_id": video_id}
