# Container image for the pipeline's components on Kubeflow.
#
#   docker build --target cpu -t REGISTRY/multihead-tfx:TAG .      # every component but the Trainer
#   docker build --target gpu -t REGISTRY/multihead-tfx-gpu:TAG .  # the Trainer (CUDA from wheels)
#   make image                                                     # here, with podman (container/image.py)
#
# BASE_IMAGE: the official Python image by default; `make image` passes a
# Debian 13 base it builds with mmdebstrap where no registry is reachable. Any
# Debian 13 image with python3, python3-venv, python3-dev and g++ (or apt to
# install g++) works. Same lock file and uv as the local runtime
# (tooling/runtime.py), installed hash-checked into a venv: Debian's own
# Python refuses system-wide installs (PEP 668).
ARG BASE_IMAGE=python:3.13-slim-trixie
FROM ${BASE_IMAGE} AS cpu

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

# g++: pyfarmhash (a TFDV dependency) has no wheel for Python 3.13.
RUN command -v g++ >/dev/null \
    || (apt-get update \
        && apt-get install -y --no-install-recommends g++ \
        && rm -rf /var/lib/apt/lists/*)

WORKDIR /pipeline
COPY requirements.lock ./
# --compile-bytecode: each Kubeflow task is a fresh process that never writes bytecode
# (PYTHONDONTWRITEBYTECODE); without it every task compiles TFX's and TensorFlow's
# sources again before its first line (bench/RESULTS.md, "Process start").
# uv trusts SSL_CERT_FILE, the system bundle (a build behind a TLS-intercepting
# proxy mounts the host's bundle over it; see container/image.py).
RUN UV_VERSION="$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)" \
    && python3 -m venv /opt/venv \
    && pip install "uv==${UV_VERSION}" \
    && uv pip install --require-hashes --compile-bytecode -r requirements.lock

COPY setup.py README.md ./
COPY console ./console
COPY contracts ./contracts
COPY pipeline ./pipeline
COPY converters ./converters
COPY orchestration ./orchestration
COPY results ./results
COPY trainer ./trainer
COPY components ./components
COPY schemas ./schemas
COPY configs ./configs
RUN uv pip install --no-deps --compile-bytecode .
# The report's Kubeflow UI artifacts are typed `system.HTML` and `system.Markdown`
# and the gate's verdict `system.Metrics` (the names the KFP UI renders), and
# TFX's entrypoint imports a custom type by that name: a module `system`
# answers it (components/report/component.py, components/gate/component.py).
RUN printf '%s\n' "from components.report.component import ReportHtml as HTML, ReportMarkdown as Markdown" \
        "from components.gate.component import GateMetrics as Metrics" \
    > "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/system.py" \
    && python3 -c "import system; assert system.HTML.TYPE_NAME == 'system.HTML'; assert system.Metrics.TYPE_NAME == 'system.Metrics'"

# The commit the image is built from, named in every training record
# (trainer/code_version.py reads MHP_CODE_VERSION where no git checkout is at
# hand). `make image` passes `git describe`; last, so a new commit rebuilds only this layer.
ARG CODE_VERSION=
ENV MHP_CODE_VERSION=${CODE_VERSION}

FROM cpu AS gpu
# The `#gpu:` lines of the lock pin tensorflow[and-cuda]'s CUDA wheels, with hashes.
RUN sed -n 's/^#gpu: //p' requirements.lock > /tmp/gpu.lock \
    && uv pip install --require-hashes --compile-bytecode -r /tmp/gpu.lock \
    && rm /tmp/gpu.lock
# `python -m container.gpu_check`: a CUDA build whose CUDA libraries load (and, on a GPU node, the GPUs seen).
COPY container/__init__.py container/gpu_check.py ./container/
