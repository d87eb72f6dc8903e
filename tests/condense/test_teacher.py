"""The teacher record: recover and relabel read a teacher's facts once."""
import os.path as osp

import pytest
import torch

from mmeff.condense import CondenseError, Teacher, build_teacher
from tests.condense.conftest import TEACHER_CFG


def test_the_record_holds_what_recover_and_relabel_read(teacher_ckpt):
    teacher = build_teacher(TEACHER_CFG, teacher_ckpt)
    assert isinstance(teacher, Teacher)
    assert not teacher.model.training
    assert teacher.config == osp.abspath(TEACHER_CFG)
    assert teacher.checkpoint == osp.abspath(teacher_ckpt)
    assert teacher.num_classes == 10
    torch.testing.assert_close(teacher.mean, torch.full((1, 3, 1, 1), 72.94))
    torch.testing.assert_close(teacher.std, torch.full((1, 3, 1, 1), 90.02))
    # LoadImageFromFile gives BGR and the preprocessor flips it to RGB.
    assert teacher.channel_order == 'RGB'
    assert teacher.require_train_crop_size() == 16
    # The config leaves data_root to --cfg-options: only the prefix is known.
    assert teacher.train_folder == 'train'


def test_what_the_config_does_not_tell_is_asked_for_by_name(teacher_ckpt):
    teacher = build_teacher(TEACHER_CFG, teacher_ckpt)
    blank = Teacher(**dict(vars(teacher), train_folder=None,
                           train_crop_size=None))
    with pytest.raises(CondenseError, match='pass classes_from'):
        blank.require_train_folder()
    with pytest.raises(CondenseError, match='pass image_size'):
        blank.require_train_crop_size()


def test_pipeline_types_are_resolved_through_the_registry():
    """A scoped name or a subclass is the transform it names, not a string
    that happens to match."""
    from mmeff.condense.teacher import _train_crop_size
    assert _train_crop_size([
        dict(type='mmpretrain.LoadImageFromFile'),
        dict(type='mmpretrain.RandomResizedCrop', scale=24),
        dict(type='PackInputs')]) == 24
    # EfficientNet's crop subclasses RandomResizedCrop.
    assert _train_crop_size([dict(type='EfficientNetRandomCrop',
                                  scale=20)]) == 20
    assert _train_crop_size([dict(type='RandomFlip', prob=0.5)]) is None
