"""Small helpers shared by mmeff's hooks and tools."""
from mmengine.model import is_model_wrapper


def unwrap_model(model):
    """The model inside MMEngine's DDP / FSDP wrappers (or ``model``)."""
    return model.module if is_model_wrapper(model) else model
