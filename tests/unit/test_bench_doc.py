"""The benchmarks page keeps the rows of the sections a run did not include."""

from __future__ import annotations

from pathlib import Path

from bench import doc
from bench.report import Row


def _row(section: str, case: str, ours: str) -> Row:
    return Row(section, case, ours, "1 %", 1.0, "", "")


def test_a_partial_run_keeps_the_other_sections_rows(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    first = {
        "cpu": [_row("CPU", "1 client", "10 %"), _row("client FPS", "1 client", "30")],
        "join": [_row("join", "after idle", "44 ms")],
        "memory": [_row("memory", "RSS 4 clients", "75 MB")],
    }
    doc.write_doc(page, first, ["--only", "cpu", "join", "memory"], "day 1", "0 / 0")
    doc.write_doc(page, {"memory": [_row("memory", "RSS 4 clients", "73 MB")]}, [], "day 2", "")
    text = page.read_text()
    table = [line for line in text.split("## Results", 1)[1].splitlines() if line.startswith("| ")]
    cases = [line.split(" | ")[1:3] for line in table[1:]]
    assert cases == [
        ["1 client", "10 %"],
        ["1 client", "30"],
        ["after idle", "44 ms"],
        ["RSS 4 clients", "73 MB"],
    ]
    assert "on day 2. The cpu, join rows are from an earlier run.\n" in text
