# Container image for the pipeline's components on Kubeflow.
#
#   docker build --target cpu -t REGISTRY/multihead-tfx:TAG .      # every component but the Trainer
#   docker build --target gpu -t REGISTRY/multihead-tfx-gpu:TAG .  # the Trainer (CUDA from wheels)
#
# Same base as the local runtime (Debian 13, Python 3.13) and the same lock file,
# installed hash-checked with the same uv; keep in step with pipeline/runtime.py.
FROM python:3.13-slim-trixie AS cpu

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    TF_CPP_MIN_LOG_LEVEL=2

# g++: pyfarmhash (a TFDV dependency) has no wheel for Python 3.13.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /pipeline
COPY requirements.lock ./
RUN UV_VERSION="$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)" \
    && pip install "uv==${UV_VERSION}" \
    && uv pip install --system --require-hashes -r requirements.lock

COPY setup.py README.md ./
COPY pipeline ./pipeline
COPY trainer ./trainer
COPY components ./components
COPY schemas ./schemas
COPY configs ./configs
RUN uv pip install --system --no-deps .

FROM cpu AS gpu
# The `#gpu:` lines of the lock pin tensorflow[and-cuda]'s CUDA wheels, with hashes.
RUN sed -n 's/^#gpu: //p' requirements.lock > /tmp/gpu.lock \
    && uv pip install --system --require-hashes -r /tmp/gpu.lock \
    && rm /tmp/gpu.lock
