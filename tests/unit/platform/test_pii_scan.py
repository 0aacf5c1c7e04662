from pathlib import Path

from tests.kit.pii_scan import scan_artifacts, scan_text


def test_scan_finds_phones_ids_and_names() -> None:
    text = "\n".join(
        [
            "sent to 13812341234",
            "reporter +8613912345678",
            "id 11010519491231002X",
            "王女士 called",
            "trace 0af7651916cd43dd8448eb211c80319c span b7ad6b7169203331 case ZZ-20261122-000001",
        ]
    )
    kinds = [f.kind for f in scan_text(Path("x.log"), text)]
    assert kinds == ["mobile", "mobile", "resident_id", "name"]


def test_scan_reads_logs_and_span_files(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "intake.log").write_text("ok line\nleak 13700001111\n")
    (tmp_path / "spans.jsonl").write_text('{"attributes": {"hub.case_no": "ZZ-20261122-000001"}}\n')
    findings = scan_artifacts(tmp_path)
    assert [(f.path.name, f.line_no) for f in findings] == [("intake.log", 2)]
