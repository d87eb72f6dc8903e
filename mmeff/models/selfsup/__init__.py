from .emae import EMAE
from .empssl import EMPSSL

__all__ = ['EMAE', 'EMPSSL']
