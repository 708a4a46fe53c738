"""The kernels a tf.profiler session ran, per call: what each op became after grappler (fused or not) and the
threads' time in it. `make profile` prints it for the batch-1 serving session; it reads any session directory:

  python bench/kernel_table.py outputs/tensorboard/plugins/profile/serving_batch1 --calls 20
"""
import argparse
import collections
import glob
from typing import List

from tensorflow.tsl.profiler.protobuf import xplane_pb2


def kernel_table(session_dir: str, calls: int, rows: int = 25) -> List[str]:
    """Markdown rows: kernel (op type as run), kernels per call, threads' ms per call; the longest first."""
    counts, picoseconds = collections.Counter(), collections.Counter()
    for path in glob.glob(f"{session_dir}/**/*.xplane.pb", recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            names = {key: meta.name for key, meta in plane.event_metadata.items()}
            for line in plane.lines:
                for event in line.events:
                    name = names.get(event.metadata_id, "")
                    kernel = name.rsplit(":", 1)[-1]
                    # An op's event is "<node name>:<kernel>"; the runtime's own ("ExecutorState::Process",
                    # "EagerLocalExecute: __inference_...") are not kernels.
                    if ":" in name and "::" not in name and not kernel.startswith((" ", "__inference")):
                        counts[kernel] += 1
                        picoseconds[kernel] += event.duration_ps
    lines = ["| kernel | per call | threads' ms per call |", "|---|---|---|"]
    lines += [f"| {kernel} | {counts[kernel] / calls:.1f} | {ps / calls / 1e9:.3f} |"
              for kernel, ps in picoseconds.most_common(rows)]
    lines.append(f"| all {len(counts)} kernels | {sum(counts.values()) / calls:.1f} | "
                 f"{sum(picoseconds.values()) / calls / 1e9:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("session_dir")
    parser.add_argument("--calls", type=int, required=True, help="calls the session profiled")
    args = parser.parse_args()
    print("\n".join(kernel_table(args.session_dir, args.calls)))


if __name__ == "__main__":
    main()
