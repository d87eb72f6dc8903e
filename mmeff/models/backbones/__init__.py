from .emae_vit import EMAEViT
from .var_res_mae_vit import VarResMAEViT

__all__ = ['EMAEViT', 'VarResMAEViT']
