"""Audio helpers, the playlist rotation, fillers and the speech queue."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

from assistant.events import ScheduleItem
from avatar.anchor.fillers import Fillers
from avatar.anchor.playlist import Playlist
from avatar.anchor.queue import SpeechQueue, Utterance
from avatar.audio import Crossfader, PcmChunk, to_float, to_pcm16


def test_pcm_round_trip_and_duration() -> None:
    audio = np.sin(np.linspace(0, 100, 2400, dtype=np.float32)) * 0.5
    chunk = PcmChunk(to_pcm16(audio), 24_000)
    assert chunk.duration == 0.1
    assert np.max(np.abs(to_float(chunk.data) - audio)) < 1e-3


def test_crossfade_joins_without_losing_audio() -> None:
    fader = Crossfader(1000, 10)  # 10 samples of overlap
    a, b = np.ones(100, dtype=np.float32), np.ones(50, dtype=np.float32) * 0.5
    out = np.concatenate([fader.push(a), fader.push(b), fader.flush()])
    assert out.size == 140
    assert np.all(np.diff(out[85:105]) <= 1e-6)  # a smooth ramp down, no click
    assert out[0] == 1.0 and out[-1] == 0.5


def test_playlist_weights_and_no_back_to_back() -> None:
    pl = Playlist(["A", "B", "C"])
    pl.set_items([ScheduleItem(sku="A", weight=3), ScheduleItem(sku="B"), ScheduleItem(sku="C")])
    picks = [pl.next() for _ in range(500)]
    counts = Counter(picks)
    assert counts["A"] > counts["B"] * 1.5
    assert all(x != y for x, y in itertools.pairwise(picks))


def test_playlist_pinned_every_other_turn_and_unknown_skus_skipped() -> None:
    pl = Playlist(["A", "B", "C"])
    pl.set_items(
        [ScheduleItem(sku="B", pinned=True), ScheduleItem(sku="A"), ScheduleItem(sku="ZZZ")]
    )
    picks = [pl.next() for _ in range(10)]
    assert picks.count("B") == 5
    assert "ZZZ" not in picks and "C" not in picks
    resumed = Playlist(["A", "B", "C"], pl.dump())
    assert resumed.next() == Playlist(["A", "B", "C"], pl.dump()).next()
    assert Playlist([]).next() is None


def test_fillers_never_repeat_back_to_back() -> None:
    fillers = Fillers(["l1", "l2", "l3"], size=3)
    fillers.remember("s1", "A", ["a", "b"])
    fillers.remember("s2", "B", ["c"])
    sources: list[str] = []
    last_script, last_filler = "s1", True
    for _ in range(40):
        pick = fillers.next(last_script, last_filler, lambda _: False)
        if pick.kind == "script":
            if not sources or sources[-1] != pick.source:
                assert pick.source != last_script
            last_script, last_filler = pick.source, False
        else:
            last_filler = True
        sources.append(pick.source)
    lines = [s for s in sources if s.startswith("filler")]
    assert all(x != y for x, y in itertools.pairwise(sources) if x.startswith("f"))
    assert len(set(lines)) == 3


def test_queue_priority_and_bound() -> None:
    q = SpeechQueue(max_pending=10)
    for i in range(12):
        q.push(Utterance(kind="script", source="s", index=i, text=str(i)))
    q.push(Utterance(kind="answer", source="a", index=0, text="ans"))
    q.push(Utterance(kind="host", source="h", index=0, text="host"))
    assert len(q) == 10
    first, second = q.pop(), q.pop()
    assert first is not None and first.kind == "host"
    assert second is not None and second.kind == "answer"
    nxt = q.pop()
    assert nxt is not None and nxt.index == 4  # the oldest script lines were dropped
