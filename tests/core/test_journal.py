"""The journal: an item's stages move by its entry's methods, records survive a reload, old records still load."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from prefect_sora._durable.journal import Journal, JournalEntry
from prefect_sora._errors import InvalidParameter
from prefect_sora._models import StoredVideo


def test_an_entry_moves_through_its_stages_and_keeps_every_failed_job() -> None:
    entry = JournalEntry(index=3, fingerprint="f")

    assert entry.to_submitting(100.0).stage == "submitting" and entry.submitting_since == 100.0
    assert entry.to_submitted("video_a").stage == "submitted" and entry.video_id == "video_a"
    entry.to_failed("video_a", code="moderation_blocked", message="blocked")
    assert (entry.stage, entry.video_id, entry.failed_ids) == ("failed", None, ["video_a"])
    assert (entry.failure_code, entry.failure) == ("moderation_blocked", "blocked")
    assert entry.to_new().stage == "new" and entry.video_id is None
    entry.to_submitted("video_b")
    stored = StoredVideo(
        video_id="video_b", variant="video", url="file:///v/b.mp4", bytes=10, sha256="0" * 64, content_type="video/mp4"
    )
    assert entry.to_stored(stored).stage == "stored" and entry.stored == stored
    assert entry.failed_ids == ["video_a"], "a resubmitted item still remembers the failed job"


def test_a_failed_job_without_an_id_of_its_own_is_recorded_by_the_entrys_id() -> None:
    entry = JournalEntry(index=0, fingerprint="f").to_submitted("video_a")

    entry.to_failed(None, code=None, message="failed")

    assert entry.failed_ids == ["video_a"]


def test_a_saved_entry_loads_back_and_a_different_request_under_the_key_is_refused(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "journal"), "key-1")
    asyncio.run(journal.save(JournalEntry(index=0, fingerprint="f").to_submitted("video_a")))

    again = asyncio.run(Journal(str(tmp_path / "journal"), "key-1").load(0, "f"))

    assert (again.stage, again.video_id) == ("submitted", "video_a")
    assert asyncio.run(journal.known_ids()) == frozenset({"video_a"})
    with pytest.raises(InvalidParameter, match="different request at item 0"):
        asyncio.run(journal.load(0, "another"))


def test_a_record_written_before_stage_was_named_stage_still_resumes(tmp_path: Path) -> None:
    # 0.1 wrote the stage as "state"; a rerun after an upgrade must still wait on the job, not create again.
    folder = tmp_path / "journal" / "key-1"
    folder.mkdir(parents=True)
    (folder / "000000.json").write_text(
        json.dumps({"index": 0, "fingerprint": "f", "state": "submitted", "video_id": "video_a"})
    )

    entry = asyncio.run(Journal(str(tmp_path / "journal"), "key-1").load(0, "f"))

    assert (entry.stage, entry.video_id) == ("submitted", "video_a")
    assert "stage" in entry.model_dump_json() and '"state"' not in entry.model_dump_json()
