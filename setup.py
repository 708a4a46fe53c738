"""Packages the project's own code so that Beam workers and pipeline containers can import it.

The pinned, hash-checked dependency set is requirements/lock.txt (installed by `make install`); the ranges
here are what the code needs, for installs that bring their own environment (Dataflow's --setup_file).
"""
import setuptools

setuptools.setup(
    name="bert-tfx-pipeline",
    version="0.1.0",
    description="TFX pipeline that fine-tunes a BERT-family checkpoint for text classification and pushes it "
                "to TensorFlow Serving",
    license="Apache-2.0",
    python_requires=">=3.10,<3.11",
    packages=setuptools.find_packages(
        include=["contracts", "tasks", "preprocessing", "model", "serving", "reports", "components", "pipeline"]),
    package_data={"reports": ["templates/*"]},
    entry_points={"console_scripts": ["predict=serving.predict:main"]},
    install_requires=[
        "tfx==1.16.0",
        "tensorflow-text==2.16.1",
        "transformers==4.46.3",
        "dill",
    ],
)
