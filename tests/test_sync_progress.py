"""Import progress on stderr: plain lines (rows, rows/s, share done, ETA) when not on a terminal."""

import io
import re

from acl_service.sync.progress import Progress


def test_progress_off_a_terminal_prints_plain_lines_with_rate_and_eta() -> None:
    stream = io.StringIO()
    progress = Progress(1_000, stream=stream)
    progress.advance(10, 250)
    progress.phase("applying")
    progress.finish()

    lines = stream.getvalue().splitlines()
    assert lines[0] == "applying ..."
    assert re.fullmatch(r"reading: 10 rows +[\d,]+ rows/s +25\.0% +ETA +\d+ s", lines[1]), lines[1]
    assert "\r" not in stream.getvalue()
