"""The seed system: Python's BaseManager serving queue.Queue task/result queues.

The master starts a manager, puts N integer tasks, starts W worker processes (seed_worker.py)
that square them, and reads N results. Prints one JSON line: {"tasks": N, "workers": W, "ms": ...}.
Usage: python3 seed_master.py N W
"""
import json
import os
import queue
import subprocess
import sys
import time
from multiprocessing.managers import BaseManager

task_queue = queue.Queue()
result_queue = queue.Queue()


def get_task_queue():
    return task_queue


def get_result_queue():
    return result_queue


class QueueManager(BaseManager):
    pass


QueueManager.register("get_task_queue", callable=get_task_queue)
QueueManager.register("get_result_queue", callable=get_result_queue)

AUTHKEY = b"taskwire-bench"


def main():
    n = int(sys.argv[1])
    workers = int(sys.argv[2])
    manager = QueueManager(address=("127.0.0.1", 0), authkey=AUTHKEY)
    manager.start()
    host, port = manager.address
    tasks = manager.get_task_queue()
    results = manager.get_result_queue()
    here = os.path.dirname(os.path.abspath(__file__))
    procs = [
        subprocess.Popen([sys.executable, os.path.join(here, "seed_worker.py"), host, str(port)])
        for _ in range(workers)
    ]
    started = time.perf_counter()
    for i in range(n):
        tasks.put(i)
    total = 0
    for _ in range(n):
        total += results.get()
    elapsed = (time.perf_counter() - started) * 1000
    for _ in procs:
        tasks.put(None)
    for proc in procs:
        proc.wait()
    manager.shutdown()
    expected = sum(i * i for i in range(n))
    if total != expected:
        raise SystemExit(f"wrong sum {total} != {expected}")
    print(json.dumps({"tasks": n, "workers": workers, "ms": elapsed}))


if __name__ == "__main__":
    main()
