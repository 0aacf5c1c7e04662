"""Settings only the intake service reads (HUB_*, names unchanged): its rule files and the workers of
the bulk import.

A subclass of the kit's shared Settings, so the service's process validates both at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    # Grid workers' reports (issue 18, services/intake/grid_reports.py): photos as attachments.
    intake_attachment_max_bytes: int = Field(
        default=5 << 20, ge=1 << 10, le=64 << 20, description="Largest attachment (a photo), decoded bytes"
    )
    intake_attachment_max_count: int = Field(
        default=6, ge=0, le=20, description="Most attachments per report"
    )
    intake_attachment_types: tuple[str, ...] = Field(
        default=("image/jpeg", "image/png", "image/webp", "image/heic"),
        description="Media types accepted, checked against the content's magic bytes (not the name)",
    )
    intake_attachment_scanner: Literal["none", "eicar"] = Field(
        default="none",
        description="Virus-scan hook for attachments: none (every file clean) or eicar (refuses the EICAR "
        "test signature: a deployment's smoke test and the tests)",
    )
    intake_grid_max_body_bytes: int = Field(
        default=48 << 20,
        ge=1 << 20,
        description="Largest body of a grid report (/internal/v1/grid/reports: photos in base64)",
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
