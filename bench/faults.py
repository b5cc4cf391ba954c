"""Faults survived: seconds to recover and accepted lines lost, per fault, on real processes."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.common import write_result
from tests.faults.scenario import FAULTS, run
from tests.faults.stalled import stalled_sockets


async def main(args: argparse.Namespace) -> None:
    rows: list[dict[str, Any]] = []
    for fault in FAULTS:
        if args.only and args.only not in fault.name:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            outcome = await run(fault, Path(tmp))
        print(f"{fault.name}: {outcome.model_dump_json()}")
        rows.append(outcome.model_dump())
    if not args.only or args.only in "stalled":
        with tempfile.TemporaryDirectory() as tmp:
            stalled = await stalled_sockets(Path(tmp), stuck=args.stuck)
        print(f"stalled sockets: {stalled.model_dump_json()}")
        rows.append(
            {
                "fault": f"{stalled.stuck} sockets that never read",
                "recovered_s": stalled.evicted_s,  # the last of them closed (1013)
                "lost": stalled.lost,  # lines the reading viewer missed
                "evicted": stalled.evicted,
                "in_order": stalled.in_order,
            }
        )
    print(f"{'fault':<40} {'recovered_s':>11} {'lost':>5}")
    for row in rows:
        print(f"{row['fault']:<40} {row['recovered_s']!s:>11} {row['lost']:>5}")
    write_result("faults", {"rows": rows})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="run the faults whose name has this text")
    parser.add_argument("--stuck", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
