"""A live anchor room on real processes through Redis faults and a crashed instance: every
accepted question ends answered or skipped, no answer twice, speech and vision come back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.scenario import FAULTS, Fault, run

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_the_room_rides_out(fault: Fault, tmp_path: Path) -> None:
    outcome = await run(fault, tmp_path)
    assert outcome.accepted > 0
    assert outcome.lost == 0, outcome
    assert outcome.answered + outcome.skipped == outcome.accepted, outcome
    assert outcome.twice == 0, outcome
    assert outcome.recovered_s is not None, outcome
    assert outcome.anchor_s is not None and outcome.anchor_s < 5, outcome
    assert outcome.vision_s is not None, outcome
