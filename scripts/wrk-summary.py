"""One wrk run's summary for the benchmark scripts: `req/s p50 p99 errors[ socket:...]`.

Usage: python3 scripts/wrk-summary.py WRK_OUTPUT [DECIMALS of the ms figures, default 2]
(wrk run with --latency; errors are its non-2xx/3xx responses, socket errors appended).
"""
import re
import sys

t = open(sys.argv[1]).read()
places = int(sys.argv[2]) if len(sys.argv) > 2 else 2
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))


def ms(p):
    v, u = re.search(p + r"%\s+([\d.]+)(us|ms|s)", t).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]


err = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
line = f"{rps:.0f} {ms('50'):.{places}f} {ms('99'):.{places}f} {int(err.group(1)) if err else 0}"
if sock:
    line += " socket:" + sock.group(1).replace(" ", "")
print(line)
