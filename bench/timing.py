"""The timing loop both sides of the serving benchmark run (plain Python: it runs in either venv)."""
import time
from typing import Callable, Dict, List, Sequence


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
