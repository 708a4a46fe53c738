"""What both sides of a benchmark share; plain Python, so it runs in either venv (ours and the peer's)."""
import os
import platform
import resource
import time
from typing import Callable, Dict, List, Sequence


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GiB RAM, {platform.system()} {platform.release()}"


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def training_result(seconds: float, steps: int, sequences: int, real_tokens: int, computed_tokens: int,
                    attention_positions: int, losses: List[float]) -> Dict:
    """One training configuration's measurement, in the form both sides print. `computed_tokens` counts the
    padding the model computes on too; `attention_positions` is the sum over batches of batch x length^2."""
    return {"seconds": seconds, "steps": steps, "sequences_per_s": sequences / seconds,
            "real_tokens_per_s": real_tokens / seconds, "computed_tokens_per_s": computed_tokens / seconds,
            "attention_positions_per_s": attention_positions / seconds,
            "padding_fraction": 1 - real_tokens / computed_tokens, "peak_rss_mb": peak_rss_mb(),
            "first_loss": losses[0], "last_loss": losses[-1]}
