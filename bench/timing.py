"""What both sides of a benchmark share; plain Python, so it runs in either venv (ours and the peer's)."""
import os
import platform
import re
import resource
import threading
import time
from typing import Callable, Dict, List, Sequence, Tuple


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GiB RAM, {platform.system()} {platform.release()}"


def cpu_kind() -> str:
    """'Intel Xeon' or 'AMD EPYC': the CPU's maker and family, whose figures a speed goal must meet each."""
    model = machine().split(",", 1)[0]
    return " ".join(re.sub(r"\((R|TM)\)", "", model).split()[:2])


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: Sequence[float], q: float) -> float:
    """numpy's default (linear) percentile, in plain Python."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_classifier(classify: Callable[[Sequence[str]], object], texts: Dict[str, List], warmup: int) -> Dict:
    """Batch-1 latency of each single text (ms) after `warmup` calls, then the batches back to back."""
    for text in texts["single"][:warmup]:
        classify([text])
    latencies = []
    for text in texts["single"]:
        start = time.perf_counter()
        classify([text])
        latencies.append((time.perf_counter() - start) * 1000)
    classify(texts["batches"][0])
    start = time.perf_counter()
    for batch in texts["batches"]:
        classify(batch)
    return {"latencies_ms": latencies, "batch_texts": sum(map(len, texts["batches"])),
            "batch_seconds": time.perf_counter() - start}


def time_concurrent(classify: Callable[[Sequence[str]], object], texts: List[str], clients: int,
                    seconds: float) -> Dict:
    """`clients` threads, each sending one text at a time back to back for `seconds`, as that many users of a
    server would; the latency of every request (ms) and the requests completed."""
    deadline = time.perf_counter() + seconds
    latencies: List[List[float]] = [[] for _ in range(clients)]
    errors: List[BaseException] = []

    def client(i: int) -> None:
        n = i
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                classify([texts[n % len(texts)]])
                latencies[i].append((time.perf_counter() - start) * 1000)
                n += clients
        except BaseException as e:  # noqa: BLE001  (re-raised below, in the caller's thread)
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    every = [latency for client_latencies in latencies for latency in client_latencies]
    return {"latencies_ms": every, "requests": len(every), "seconds": time.perf_counter() - start}


def training_result(start: float, step_ends: List[float], counts: List[Tuple[int, int, int]], batch_size: int,
                    losses: List[float], window: int) -> Dict:
    """One training configuration's measurement, in the form both sides print.

    `counts` has, per timed step, its real tokens, the positions computed (padding included) and its
    attention positions (batch x length^2). The figures are those of the fastest `window` consecutive steps,
    as timeit keeps the fastest repeat: other tenants of the host only ever slow a step down, for minutes
    at a time on these machines. The whole run's real tokens/s is reported beside them.
    """
    ends = [start] + step_ends
    best = None
    for i in range(len(step_ends) - window + 1):
        seconds = ends[i + window] - ends[i]
        real, computed, positions = (sum(c[k] for c in counts[i:i + window]) for k in range(3))
        if best is None or real / seconds > best["real_tokens_per_s"]:
            best = {"sequences_per_s": window * batch_size / seconds, "real_tokens_per_s": real / seconds,
                    "computed_tokens_per_s": computed / seconds, "attention_positions_per_s": positions / seconds}
    real, computed = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return {**best, "steps": len(step_ends), "window": window,
            "whole_run_real_tokens_per_s": real / (step_ends[-1] - start), "padding_fraction": 1 - real / computed,
            "peak_rss_mb": peak_rss_mb(), "first_loss": losses[0], "last_loss": losses[-1]}
