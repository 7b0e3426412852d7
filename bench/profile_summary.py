#!/usr/bin/env python3
"""Summarizes `perf script` output of complyd (bench/profile.sh): each thread's share of the
samples, then for the busiest threads the frames found on most of their stacks (inclusive
shares, of all samples) and the functions most samples end in.

    python3 bench/profile_summary.py perf.script [TOP]
"""

import collections
import sys

# Frames every stack of a thread shares (its start, the runtime, closures): no information.
NOISE = (
    "closure", "call_once", "catch_unwind", "do_call", "thread_start", "clone3", "start_thread",
    "__rust_begin_short_backtrace", "backtrace", "[unknown]", "poll_future", "with_mut",
    "tokio::runtime", "Stage<", "core::future", "{async_block", "{async_fn", "Box<dyn",
    "run_worker", "run_task", "poll<core::convert::Infallible>",
)


def samples(path):
    """(thread name, stack with the leaf first) per sample."""
    thread, stack = None, []
    with open(path, errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line.strip():
                if thread is not None and stack:
                    yield thread, stack
                thread, stack = None, []
            elif line[0] not in " \t":
                thread, stack = line.split()[0], []
            else:
                parts = line.strip().split(None, 1)
                frame = parts[1] if len(parts) > 1 else parts[0]
                stack.append(frame.split("+0x")[0].split(" (")[0][:120])
    if thread is not None and stack:
        yield thread, stack


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    threads = collections.Counter()
    inclusive = collections.defaultdict(collections.Counter)
    leaves = collections.defaultdict(collections.Counter)
    total = 0
    for thread, stack in samples(path):
        total += 1
        threads[thread] += 1
        leaves[thread][stack[0]] += 1
        for frame in set(stack):
            if not any(n in frame for n in NOISE):
                inclusive[thread][frame] += 1
    if not total:
        print("no samples")
        return
    print(f"{total} samples")
    for thread, n in threads.most_common():
        print(f"  {100 * n / total:5.1f}%  {thread}")
    for thread, n in threads.most_common(2):
        if n < total / 10:
            break
        print(f"\n{thread}: frames on most stacks (% of all samples)")
        for frame, k in inclusive[thread].most_common(top):
            print(f"  {100 * k / total:5.1f}%  {frame}")
        print(f"{thread}: where samples end")
        for frame, k in leaves[thread].most_common(top // 2):
            print(f"  {100 * k / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
