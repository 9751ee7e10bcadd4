"""Start-up cost of the MMS server: model build and IedServer creation for 1..100 logical devices.

The reference model's logical device is copied N times (inst Control1..N). Prints numbers, asserts nothing.
Run from the repository root: `.venv/bin/python bench/mms_build.py [N ...]`.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relevent.scl.model import SclDocument
from relevent.scl.parse import load
from relevent.wan.mms.builder import build_model
from relevent.wan.mms.lib import lib
from relevent.wan.mms.reports import add_report_blocks
from tests.conftest import REFERENCE_MODELS


def copies(doc: SclDocument, count: int) -> SclDocument:
    ied = doc.ieds[0]
    template = ied.ldevices[0]
    lds = tuple(
        dataclasses.replace(template, inst=f"{template.inst}{i}", name=f"{ied.name}{template.inst}{i}")
        for i in range(1, count + 1)
    )
    return dataclasses.replace(doc, ieds=(dataclasses.replace(ied, ldevices=lds),))


def main(counts: list[int]) -> None:
    doc = load(REFERENCE_MODELS["der_scheduler"])
    print(f"cores: {os.cpu_count()}; {sum(1 for _ in doc.logical_nodes())} LNs per LD")
    print(f"{'LDs':>5}{'build s':>10}{'reports s':>11}{'server s':>10}{'total s':>9}{'RSS MB':>8}")
    for count in counts:
        big = copies(doc, count)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        model = build_model(big)
        built = time.perf_counter()
        add_report_blocks(model, "auto")
        reported = time.perf_counter()
        server = lib.IedServer_create(model.ptr)
        created = time.perf_counter()
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
        lib.IedServer_destroy(server)
        model.destroy()
        print(f"{count:>5}{built - start:>10.3f}{reported - built:>11.3f}{created - reported:>10.3f}"
              f"{created - start:>9.3f}{grown:>8.0f}")


if __name__ == "__main__":
    main([int(n) for n in sys.argv[1:]] or [1, 10, 50, 100])
