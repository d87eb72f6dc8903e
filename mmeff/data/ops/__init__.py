from .boxes import random_resized_crop_box, random_resized_crop_boxes
from .low_frequency_crop import low_frequency_crop, resize_crop

__all__ = [
    'low_frequency_crop', 'random_resized_crop_box',
    'random_resized_crop_boxes', 'resize_crop'
]
