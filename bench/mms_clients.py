"""Five SCADA clients at full rate from their own process, so that their GIL never delays the measuring one.

`clients` open61850 associations (one thread each) read and write a schedule that never runs, each as
fast as it is answered, for `seconds`; prints the number of requests answered.
Usage: `python -m bench.mms_clients PORT CLIENTS SECONDS`.
"""

from __future__ import annotations

import sys
import threading
import time

from open61850.data import FloatData

from tests.integration.gateway import LD, connect, read, write


def client_load(port: int, until: float, counts: list[int]) -> None:
    """One client's requests until the monotonic time `until`; appends how many were answered."""
    client = connect(port)
    try:
        n = 0
        while time.monotonic() < until:
            item = f"ActPow_FSCH{2 + n % 8:02d}$SP$ValASG001$setMag$f"
            if n % 2:
                write(client, LD, item, FloatData(float(n % 100)))
            else:
                read(client, item)
            n += 1
        counts.append(n)
    finally:
        client.close()


def main() -> None:
    port, clients, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    until = time.monotonic() + seconds
    counts: list[int] = []
    threads = [threading.Thread(target=client_load, args=(port, until, counts)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(sum(counts))


if __name__ == "__main__":
    main()
