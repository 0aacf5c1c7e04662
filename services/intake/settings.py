"""Settings only the intake service reads (HUB_*, names unchanged): its rule files and the workers of
the bulk import.

A subclass of the kit's shared Settings, so the service's process validates both at start.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hub.config import ServiceSettings


class IntakeSettings(ServiceSettings):
    intake_rules_dir: Path | None = Field(
        default=None,
        description="Directory with intake rule files (grading.yaml, classifier.yaml); unset: the packaged ones",
    )
    intake_import_workers: int = Field(
        default=1, ge=0, le=8, description="Worker processes preparing bulk-import batches (0: a thread)"
    )
    intake_import_max_body_bytes: int = Field(
        default=32 << 20,
        ge=1 << 20,
        description="Largest body of the bulk import (/internal/v1/cases:import, up to 2000 cases)",
    )
    intake_reveals_per_hour: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description="Reveals of personal data one person may make in an hour (more: 429, audited)",
    )
    intake_reveal_purpose_min_length: int = Field(
        default=4, ge=1, le=100, description="The shortest stated purpose of a reveal, in characters"
    )
