"""A burst of drops behind Personalize's quota of 5, on the stack's default parameters: how many end in
QUEUE_TIMEOUT, the longest execution against Step Functions' 8-day limit, and how fair the order is.

Run: .venv/bin/python bench/queueing.py   (pure simulation, about 40 s; figures in docs/reliability.md)
"""

from batchrecs_local.queueing import report

if __name__ == "__main__":
    print(report())
