"""The peers of bench/serving_latency.py; runs in the peer's venv (`make peer`).

Same checkpoint, texts, truncation and thread count as our side; the tokenizer is transformers'
BertTokenizerFast (Rust) and each batch is padded to its own longest text, the usual way to serve it.
--runtime picks what runs the model:
- torch: the transformers model + softmax in PyTorch, eager;
- onnxruntime: the same model and softmax exported by torch.onnx.export, run by ONNX Runtime with all its
  graph optimizations (what Hugging Face Optimum's export gives a latency-minded user);
- onnxruntime-int8: that graph after ONNX Runtime's dynamic quantization (int8 weights, activations
  quantized per call).
Prints one JSON object: batch-1 latencies (ms), the batch throughput run and, with --load-seconds, the
concurrent-load run: --clients threads calling the model one text at a time (a threaded server; torch and ONNX
Runtime release the GIL inside their ops).
"""
import argparse
import json
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

import timing  # noqa: E402  (bench/, beside this script)

RUNTIMES = ("torch", "onnxruntime", "onnxruntime-int8")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _Probabilities(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
        return torch.softmax(logits, dim=-1)


def torch_runner(model, threads: int):
    torch.set_num_threads(threads)
    probabilities = _Probabilities(model).eval()

    def run(encoded):
        with torch.inference_mode():
            return probabilities(**{k: torch.from_numpy(encoded[k]) for k in INPUTS}).numpy()
    return run, f"torch {torch.__version__}"


def onnx_runner(model, threads: int, int8: bool, work_dir: str):
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = os.path.join(work_dir, "model.onnx")
    example = {k: torch.ones(1, 8, dtype=torch.int64) for k in INPUTS}
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    torch.onnx.export(_Probabilities(model).eval(), tuple(example.values()), path, input_names=list(INPUTS),
                      output_names=["probabilities"], dynamic_axes={**axes, "probabilities": {0: "batch"}},
                      opset_version=17, dynamo=False)
    if int8:
        quantized = os.path.join(work_dir, "model-int8.onnx")
        quantize_dynamic(path, quantized, weight_type=QuantType.QInt8)
        path = quantized
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def run(encoded):
        return session.run(None, {k: encoded[k] for k in INPUTS})[0]
    return run, f"onnxruntime {onnxruntime.__version__}{' int8 (dynamic quantization)' if int8 else ''}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--texts", required=True, help="JSON file: {'single': [...], 'batches': [[...], ...]}")
    parser.add_argument("--max-seq-length", type=int, required=True)
    parser.add_argument("--num-classes", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runtime", choices=RUNTIMES, default="torch")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=0, help="> 0: also the concurrent-load run")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)  # the classifier head is new: the same one for every runtime
    texts = json.load(open(args.texts))
    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.checkpoint, num_labels=args.num_classes, local_files_only=True).eval()
    with tempfile.TemporaryDirectory() as work_dir:
        if args.runtime == "torch":
            run, versions = torch_runner(model, args.threads)
        else:
            run, versions = onnx_runner(model, args.threads, args.runtime == "onnxruntime-int8", work_dir)

        def classify(batch):
            encoded = tokenizer(batch, padding=True, truncation=True, max_length=args.max_seq_length,
                                return_tensors="np")
            probabilities = run(encoded)
            return probabilities, np.argmax(probabilities, axis=-1)

        result = timing.time_classifier(classify, texts, args.warmup)
        if args.load_seconds:
            timing.time_concurrent(classify, texts["single"], args.clients, 1.0)  # warm-up
            result["load"] = timing.time_concurrent(classify, texts["single"], args.clients, args.load_seconds)
    print(json.dumps({**result, "versions": versions}))


if __name__ == "__main__":
    main()
