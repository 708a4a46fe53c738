"""The model card written next to each pushed model: model_card.md and model_card.html in its version directory.

The Pusher writes it into the staged version, so a version never appears without its card. Its numbers come
from the same artifacts as the run report's (reports/run_facts.py).
"""
import datetime
import json
import os
from typing import Any, Dict, Optional

import markdown

from reports import rendering, run_facts

CARD_FILES = ("model_card.md", "model_card.html")
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 900px; padding: 0 1em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: 3px 8px; }}
pre {{ background: #f7f7f7; padding: .6em; overflow-x: auto; }}</style>
</head><body>
{body}
</body></html>
"""


def _checkpoint_description(checkpoint_dir: str) -> Dict[str, str]:
    config_path = os.path.join(checkpoint_dir, "config.json")
    config = json.load(open(config_path)) if os.path.exists(config_path) else {}
    return {"checkpoint_name": checkpoint_dir,
            "architecture": f"{config.get('model_type', 'bert')}, {config.get('num_hidden_layers', '?')} layers, "
                            f"hidden size {config.get('hidden_size', '?')}"}


def card_facts(model_dir: str, evaluation_uri: str, statistics_split_uris: Dict[str, str], examples_uri: str,
               model_name: str, version: str, intended_use: str, label_column: str,
               decision: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """decision: the BlessingGate's (components/blessing_gate.py), shown beside the metrics."""
    import tensorflow_data_validation as tfdv

    from model import export

    hyperparameters = export.read_hyperparameters(model_dir)
    metrics = {**run_facts.evaluation_metrics(evaluation_uri, hyperparameters["class_names"]), "decision": decision}
    labels = {split: run_facts.label_counts(
        tfdv.load_stats_binary(os.path.join(uri, "FeatureStats.pb")).datasets[0], label_column)
        for split, uri in statistics_split_uris.items()}
    return {
        "model_name": model_name, "version": version, "class_names": hyperparameters["class_names"],
        "intended_use": intended_use, "examples_uri": examples_uri, "labels": labels,
        "label_names": sorted({label for counts in labels.values() for label in counts}),
        "pushed": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hyperparameters": hyperparameters,
        "hyperparameters_json": json.dumps(hyperparameters, indent=2, sort_keys=True),
        "metrics": metrics,
        "task": run_facts.task_sentences(hyperparameters, int(metrics["overall"].get("example_count", 0))),
        **_checkpoint_description(hyperparameters["checkpoint_dir"]),
    }


def render_markdown(facts: Dict[str, Any]) -> str:
    template = rendering.environment(autoescape=False).get_template("model_card.md")
    return template.render(c=facts, hp=facts["hyperparameters"], m=facts["metrics"])


def write(directory: str, facts: Dict[str, Any]) -> None:
    text = render_markdown(facts)
    html = _PAGE.format(title=f"Model card: {facts['model_name']} {facts['version']}",
                        body=markdown.markdown(text, extensions=["tables", "fenced_code"]))
    for name, content in zip(CARD_FILES, (text, html)):
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(content)
