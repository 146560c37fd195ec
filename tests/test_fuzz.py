"""An API fuzzer (schemathesis) against the live server finds nothing.

0 server errors, and 0 answers that break the OpenAPI document: every status
code documented, bodies matching their schemas, the documented content types
and headers; requests the document calls invalid refused, valid ones accepted
(tests/schemathesis.toml lists the few operations that may refuse one for a
documented reason the schema cannot express). A short, seeded run here;
``make fuzz`` runs a longer one with every phase.
"""

from __future__ import annotations

import re

import pytest

from .fuzzing import fuzz

EXAMPLES = 5
SEED = 20261130


@pytest.mark.slow
def test_a_fuzzer_finds_no_server_error_and_no_answer_off_the_document(tmp_path):
    result = fuzz(
        tmp_path,
        max_examples=EXAMPLES,
        seed=SEED,
        timeout=600,
        phases="examples,fuzzing",
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-8000:]
    tested = re.search(r"Tested: (\d+)", report)
    assert tested is not None, report[-3000:]
    assert int(tested.group(1)) >= 30  # every operation of the document was fuzzed
    # None could not be sent (an undocumented media type), and each was sent with a
    # credential it accepts (a device's where only a device may call).
    assert "Errored:" not in report, report[-3000:]
    assert "Authentication failed" not in report, report[-3000:]
