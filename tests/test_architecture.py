"""The package graph goes one way (docs/architecture.md, "Layout"): each package imports only the packages below
it, so a lower one never needs a higher one's defaults, and the input check before a run loads no TensorFlow."""
import ast
import os
import subprocess
import sys

from pipeline import configs

# Each package and what it may import (besides itself): the order of the data flow, bottom first.
ALLOWED = {
    "contracts": set(),
    "tasks": {"contracts"},
    "preprocessing": {"contracts", "tasks"},
    "model": {"contracts", "tasks", "preprocessing"},
    "serving": {"contracts", "tasks", "preprocessing", "model"},
    "reports": {"contracts", "tasks", "preprocessing", "model", "serving"},
    "components": {"contracts", "tasks", "preprocessing", "model", "serving", "reports"},
    "pipeline": {"contracts", "tasks", "preprocessing", "model", "serving", "reports", "components"},
    "runners": {"pipeline"},  # beam_runner.py, local_runner.py, kubeflow_v2_runner.py
}
RUNNERS = ("beam_runner.py", "local_runner.py", "kubeflow_v2_runner.py")


def project_imports(path):
    """The project packages a file imports, at any depth of the file (function-level imports too)."""
    tree = ast.parse(open(path).read(), path)
    found = set()
    for node in ast.walk(tree):
        modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                   else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
        found |= {module.split(".")[0] for module in modules if module.split(".")[0] in ALLOWED}
    return found


def package_files():
    for package in ALLOWED:
        if package == "runners":
            yield from ((package, os.path.join(configs.PROJECT_DIR, name)) for name in RUNNERS)
            continue
        for name in sorted(os.listdir(os.path.join(configs.PROJECT_DIR, package))):
            if name.endswith(".py"):
                yield package, os.path.join(configs.PROJECT_DIR, package, name)


def test_every_import_goes_down_the_package_graph():
    upward = [f"{os.path.relpath(path, configs.PROJECT_DIR)} imports {other}"
              for package, path in package_files() for other in sorted(project_imports(path))
              if other != package and other not in ALLOWED[package]]
    assert upward == []


def test_every_project_package_is_in_the_graph():
    packages = {name for name in os.listdir(configs.PROJECT_DIR)
                if os.path.isfile(os.path.join(configs.PROJECT_DIR, name, "__init__.py"))}
    assert packages == set(ALLOWED) - {"runners"}


def test_the_runner_and_its_input_check_load_no_tensorflow():
    """What runs before a run starts (flags, the input and checkpoint checks) imports no TensorFlow or TFX,
    so that bad input is refused in a second: they are imported by the components, later."""
    check = ("import sys; from pipeline import cli, inputs; "
             "print(sorted(m for m in ('tensorflow', 'tfx', 'apache_beam') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", check], cwd=configs.PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
