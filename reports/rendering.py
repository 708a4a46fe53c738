"""The Jinja environment of the report and the model card: their templates and number formats."""
import json
import os

import jinja2

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def metric(value: float) -> str:
    """Counts as integers, rates to four places."""
    return f"{value:.0f}" if abs(value) >= 2 and float(value).is_integer() else f"{value:.4f}"


def length_figure(value: float, kind: str) -> str:
    """A column of the report's word-piece table (tasks/base.InputShape.length_columns): "percent", or a
    format spec."""
    return f"{100 * value:.2f}%" if kind == "percent" else format(value, kind)


def environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["json"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)
    env.filters["metric"] = metric
    env.filters["length_figure"] = length_figure
    return env
