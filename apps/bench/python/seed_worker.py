"""Seed worker: connect to the manager, square tasks until a None sentinel."""
import sys
from multiprocessing.managers import BaseManager


class QueueManager(BaseManager):
    pass


QueueManager.register("get_task_queue")
QueueManager.register("get_result_queue")


def main():
    manager = QueueManager(address=(sys.argv[1], int(sys.argv[2])), authkey=b"taskwire-bench")
    manager.connect()
    tasks = manager.get_task_queue()
    results = manager.get_result_queue()
    while True:
        n = tasks.get()
        if n is None:
            break
        results.put(n * n)


if __name__ == "__main__":
    main()
