"""Import FFCV without its side effect on torch's thread count."""
import sys

import torch


def import_ffcv():
    """Import FFCV's compiler, undoing its ``torch.set_num_threads(1)``.

    ``ffcv.pipeline.compiler`` sets torch's intra-op threads to 1 when first
    imported; the model would then train on one core in every process that
    touched ESSL storage.
    """
    if 'ffcv.pipeline.compiler' in sys.modules:
        return
    threads = torch.get_num_threads()
    import ffcv.pipeline.compiler  # noqa: F401
    torch.set_num_threads(threads)
