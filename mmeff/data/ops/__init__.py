from .low_frequency_crop import low_frequency_crop, resize_crop

__all__ = ['low_frequency_crop', 'resize_crop']
