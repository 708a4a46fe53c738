"""The README and docs/ name only what exists: make targets of the Makefile, flags of the project's commands
(or of the named outside tools), files of the repository, and the sections their links point at."""
import argparse
import glob
import os
import re
from typing import Iterator, List, Set

from pipeline import configs

ROOT = configs.PROJECT_DIR
DOCS = ["README.md", "RELIABILITY.md", *sorted(os.path.relpath(p, ROOT) for p in glob.glob(f"{ROOT}/docs/*.md"))]
# Flags the docs show for other programs than the project's, by program.
OUTSIDE_FLAGS = {
    "tfx CLI": {"--engine", "--pipeline_path", "--pipeline_name", "--project", "--region"},
    "TF Serving": {"--tensorflow_intra_op_parallelism", "--tensorflow_inter_op_parallelism", "--enable_batching",
                   "--allow_version_labels_for_unavailable_models", "--max_num_load_retries", "--mixed_precision",
                   "--batching_parameters_file", "--model_config_file", "--monitoring_config_file"},
    "Beam and Dataflow": {"--runner", "--direct_running_mode", "--direct_num_workers", "--temp_location",
                          "--max_num_workers", "--setup_file", "--experiments", "--sdk_container_image",
                          "--machine_type"},
    "gcloud": {"--repository-format", "--location", "--role", "--member"},
    "saved_model_cli": {"--dir", "--tag_set", "--signature_def", "--input_exprs"},
    "uv pip compile": {"--python-version", "--python-platform", "--generate-hashes"},
    "systemctl": {"--now"},
}
TARGET = re.compile(r"\bmake ([a-z][a-z-]*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9_-]*[a-z0-9])")
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A repository path in code: a top-level entry of the repository, then more of a path.
PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.*-]*)*$")


def make_targets() -> Set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", open(os.path.join(ROOT, "Makefile")).read(), re.M))


def project_flags() -> Set[str]:
    """beam_runner.py's flags (every knob of pipeline/configs.py) and every other command's add_argument."""
    parser = argparse.ArgumentParser(add_help=False)
    configs.add_arguments(parser)
    flags = set(parser._option_string_actions) | {"--verbose", "--help"}
    for path in glob.glob(f"{ROOT}/**/*.py", recursive=True):
        if "/.venv" not in path:
            flags.update(re.findall(r"add_argument\(\s*\"(--[a-z0-9-]+)\"", open(path, encoding="utf-8").read()))
    return flags


def anchors(markdown: str) -> Set[str]:
    """GitHub's ids of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    ids = set()
    for heading in re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), re.M):
        ids.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return ids


def _repository_paths(code: str) -> Iterator[str]:
    for token in code.split():
        token = token.strip("'\",;:()")
        top = token.split("/")[0]
        if "/" in token and PATH.match(token) and os.path.exists(os.path.join(ROOT, top)) and top != "outputs":
            yield token


def problems(markdown: str, page: str, targets: Set[str], flags: Set[str]) -> List[str]:
    """What `page` (a path relative to the repository) names that does not exist, one line each."""
    found = []
    known_flags = flags.union(*OUTSIDE_FLAGS.values())
    code = CODE.findall(markdown)
    for target in TARGET.findall(" ".join(code)):
        if target not in targets:
            found.append(f"{page}: make {target}: no such target in the Makefile")
    for flag in FLAG.findall(markdown):
        if flag not in known_flags:
            found.append(f"{page}: {flag}: no command of the project (nor a tool in OUTSIDE_FLAGS) takes it")
    for span in code:
        for path in _repository_paths(span.strip("`")):
            if not glob.glob(os.path.join(ROOT, path.replace("<version>", "*"))):
                found.append(f"{page}: `{path}`: no such file in the repository")
    for link in LINK.findall(markdown):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        linked = os.path.normpath(os.path.join(os.path.dirname(page), target)) if target else page
        if not os.path.exists(os.path.join(ROOT, linked)):
            found.append(f"{page}: link {link}: no such file")
        elif anchor and linked.endswith(".md") and anchor not in anchors(open(os.path.join(ROOT, linked)).read()):
            found.append(f"{page}: link {link}: no such section in {linked}")
    return found


def test_the_readme_and_docs_name_only_targets_flags_files_and_sections_that_exist():
    targets, flags = make_targets(), project_flags()
    found = [line for page in DOCS for line in problems(open(os.path.join(ROOT, page)).read(), page, targets, flags)]
    assert not found, "\n".join(found)


def test_the_check_finds_a_wrong_target_flag_path_and_section():
    page = ("Run `make rnu`, then `python beam_runner.py --epoch 3` (see `pipeline/config.py` and "
            "[training](docs/training.md#no-such-section)); `make run ARGS=\"--epochs 3\"` is right.")
    found = problems(page, "README.md", make_targets(), project_flags())
    assert found == ["README.md: make rnu: no such target in the Makefile",
                     "README.md: --epoch: no command of the project (nor a tool in OUTSIDE_FLAGS) takes it",
                     "README.md: `pipeline/config.py`: no such file in the repository",
                     "README.md: link docs/training.md#no-such-section: no such section in docs/training.md"]
