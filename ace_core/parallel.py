"""Worker-process setup for the process pools of heavy steps.

Kept free of numpy imports: the initializer must set thread limits before a worker imports numpy, or
every worker's BLAS would start one thread per core and the pool would oversubscribe the machine.
"""

import os

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_worker_threads() -> None:
    """ProcessPoolExecutor initializer: one BLAS/OpenMP thread per worker process."""
    for name in THREAD_ENV:
        os.environ[name] = "1"
