"""Inside the GPU image: is TensorFlow a CUDA build, and do its CUDA libraries load?

    podman run --rm IMAGE python -m container.gpu_check

Run by `make image TARGET=gpu` after the build. No GPU is needed: it loads
the CUDA runtime, cuBLAS, cuFFT, cuSPARSE, cuSOLVER and cuDNN from the
pip-installed NVIDIA wheels (what TensorFlow opens when it finds a GPU) and
prints the CUDA and cuDNN versions TensorFlow was built against. Only the
driver (libcuda, from the node) is expected to be missing on a machine
without a GPU. Exit 1 when any check fails.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys

# Library (glob under site-packages/nvidia) -> what it is.
CUDA_LIBRARIES = {
    "cuda_runtime/lib/libcudart.so.*": "CUDA runtime",
    "cublas/lib/libcublas.so.*": "cuBLAS",
    "cufft/lib/libcufft.so.*": "cuFFT",
    "cusparse/lib/libcusparse.so.*": "cuSPARSE",
    "cusolver/lib/libcusolver.so.*": "cuSOLVER",
    "cudnn/lib/libcudnn.so.*": "cuDNN",
}


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import nvidia
    import tensorflow as tf
    from tensorflow.python.platform import build_info

    failures = []
    info = build_info.build_info
    print(
        f"tensorflow {tf.__version__}: built with CUDA {tf.test.is_built_with_cuda()}, "
        f"CUDA {info.get('cuda_version')}, cuDNN {info.get('cudnn_version')}"
    )
    if not tf.test.is_built_with_cuda():
        failures.append("TensorFlow is not a CUDA build")
    roots = list(nvidia.__path__)
    for pattern, name in CUDA_LIBRARIES.items():
        found = sorted(path for root in roots for path in glob.glob(os.path.join(root, pattern)))
        if not found:
            failures.append(f"{name}: no {pattern} under {roots}")
            continue
        try:
            ctypes.CDLL(found[0], mode=ctypes.RTLD_GLOBAL)
            print(f"loaded {name}: {found[0]}")
        except OSError as err:
            failures.append(f"{name}: {found[0]} does not load ({err})")
    print(f"GPUs visible: {len(tf.config.list_physical_devices('GPU'))} (none expected without a GPU and its driver)")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
