# The pipeline image: on Vertex AI Pipelines every component runs in it, the Vertex AI Trainer's workers too,
# and Dataflow's workers start from it (--sdk_container_image), so all of them run the same pinned stack.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/bert-text-classifier:TAG . && docker push ...
# Base: TFX's own image of the pinned version (its entry points run the components); on top of it, this
# project's full resolved dependency set, hash-checked, as `make install` installs it locally.
FROM tensorflow/tfx:1.16.0

# The lock is resolved for Python 3.10: fail the build, not the first run, if the base image moved on.
RUN python -c "import sys; assert sys.version_info[:2] == (3, 10), 'the lock needs Python 3.10, not ' + sys.version"

WORKDIR /pipeline
COPY requirements/ requirements/
RUN python -m pip install --no-cache-dir uv==0.13.9 && \
    uv pip install --python "$(command -v python)" --no-deps --require-hashes --compile-bytecode \
        -r requirements/lock.txt -r requirements/embedded-defaults.txt

# The project itself, at /pipeline (pipeline/configs.py: IMAGE_PROJECT_DIR): the components import it by
# module path, Dataflow's --setup_file is /pipeline/setup.py, the default schema is read from here.
COPY setup.py ./
COPY contracts/ contracts/
COPY tasks/ tasks/
COPY pipeline/ pipeline/
COPY components/ components/
COPY model/ model/
COPY preprocessing/ preprocessing/
COPY serving/ serving/
COPY reports/ reports/
COPY serving_config/ serving_config/
COPY schema/ schema/
RUN uv pip install --python "$(command -v python)" --no-deps -e .

ENV PYTHONPATH=/pipeline TF_USE_LEGACY_KERAS=1 HF_HUB_OFFLINE=1
