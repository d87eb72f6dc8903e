from .emae import EMAE

__all__ = ['EMAE']
