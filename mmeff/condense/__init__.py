"""SRe2L dataset condensation: squeeze, recover, relabel.

Yin, Xing, Shen, "Squeeze, Recover and Relabel: Dataset Condensation at
ImageNet Scale From A New Perspective", NeurIPS 2023. Squeeze is an ordinary
MMPretrain training run of a BatchNorm teacher (``configs/sre2l``);
:func:`recover` synthesises the condensed images, :func:`relabel` stores the
teacher's soft labels per student epoch, and the registered
``RelabelledDataset`` / ``ReplayCrop`` / ``RelabelEpochHook`` /
``RelabelSampler`` / ``SoftLabelKLLoss`` train the student in a normal MMEngine run.
"""
from .bn_matching import BNStatsMatcher, batchnorm_layers
from .errors import CondenseError, NoBatchNormError
from .losses import SoftLabelKLLoss
from .mixing import draw_cutmix
from .recover import recover, recover_batch
from .relabel import bytes_per_epoch, draw_crops, relabel
from .soft_labels import RelabelEpochHook, RelabelledDataset, RelabelSampler, ReplayCrop
from .teacher import Teacher, build_teacher, load_teacher

__all__ = ['BNStatsMatcher', 'NoBatchNormError', 'batchnorm_layers',
           'SoftLabelKLLoss', 'recover', 'recover_batch', 'bytes_per_epoch',
           'draw_crops', 'draw_cutmix', 'relabel', 'RelabelEpochHook',
           'RelabelledDataset', 'RelabelSampler', 'ReplayCrop', 'CondenseError',
           'Teacher', 'build_teacher', 'load_teacher']
