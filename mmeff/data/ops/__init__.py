from .low_frequency_crop import low_frequency_crop, resize_crop

# boxes.py (numba) is imported where it is used, so that importing mmeff
# does not need numba.
__all__ = ['low_frequency_crop', 'resize_crop']
