"""Small helpers shared by mmeff's models and the hooks that drive them."""
from mmeff.errors import ConfigError


def patch_count(size, patch_size):
    """Patches of an input ``size`` (an int, square, or ``(h, w)``); each
    side must be a multiple of ``patch_size``."""
    h, w = (size, size) if isinstance(size, int) else size
    if h % patch_size or w % patch_size:
        raise ConfigError(f'input size {h}x{w} is not a multiple of '
                          f'patch_size={patch_size}')
    return (h // patch_size) * (w // patch_size)
