"""The released SRe2L settings, by data set, with where each comes from.

All numbers are those of the authors' code, VILA-Lab/SRe2L (directory
``SRe2L/``); a recover argument left as ``None`` takes its value from the
preset of the run (:func:`recover_preset`).

Recover (step 2):

- ``'imagenet'``: ``SRe2L/recover/recover.sh`` (batch 100, lr 0.25, 4,000
  iterations, r_bn 0.01) with the defaults of
  ``SRe2L/recover/data_synthesis.py`` (first-BN multiplier 10, jitter 32):
  every step a ``RandomResizedCrop(224)`` (scale 0.08-1), a horizontal
  flip, then ``torch.roll`` by ``random.randint(0, 32)`` pixels in each
  direction.
- ``'cifar'``: ``SRe2L/*small_dataset/recover_cifar.sh`` (batch 100, lr
  0.25, 1,000 iterations, r_bn 0.01) with the defaults of
  ``recover_cifar.py`` (first-BN multiplier 10, jitter 4): no crop and no
  flip ("we discard the Multi-crop Optimization and optimize the whole
  image", ``README_CIFAR.md``), only a roll by ``random.randint(0, 4)``.
- ``'tiny'``: ``SRe2L/*small_dataset/recover_tiny.sh`` (batch 100, lr 0.1,
  4,000 iterations, r_bn 1) with ``recover_tiny.py`` (first-BN multiplier
  10, jitter 4): ``RandomResizedCrop(64)`` + flip, then a roll by
  ``random.randint(-4, 4)``.

All three use Adam with betas (0.5, 0.9), eps 1e-8, and a cosine learning
rate without warm-up. Without a preset, recover picks ``'cifar'`` for
images of at most 32 px, ``'tiny'`` up to 64 px and ``'imagenet'`` above.

Relabel and student (step 3), ImageNet-1K: ``SRe2L/relabel/relabel.sh``
and ``SRe2L/relabel/utils_fkd.py`` store per epoch a
``RandomResizedCrop`` (scale 0.08-1, bilinear) + flip per image and, per
batch of 1,024, CutMix with ``lam ~ Beta(1, 1)`` applied to every batch
(one permutation, one box); ``SRe2L/validate/train_FKD.py`` /
``train_FKD.sh`` train the student with ``KLDivLoss(batchmean)`` at
``T = 20`` and no ``T^2`` factor (the line multiplying by it is commented
out), AdamW lr 1e-3, weight decay 0.01, cosine.
"""

# Recover settings of each released script (see the module docstring).
RECOVER_PRESETS = {
    'imagenet': dict(iterations=4000, lr=0.25, batch_size=100, r_bn=0.01,
                     first_bn_multiplier=10., crop_scale=(0.08, 1.),
                     flip=True, shift=(0, 32)),
    'cifar': dict(iterations=1000, lr=0.25, batch_size=100, r_bn=0.01,
                  first_bn_multiplier=10., crop_scale=None, flip=False,
                  shift=(0, 4)),
    'tiny': dict(iterations=4000, lr=0.1, batch_size=100, r_bn=1.,
                 first_bn_multiplier=10., crop_scale=(0.08, 1.), flip=True,
                 shift=(-4, 4)),
}
# Adam of every released recover script.
RECOVER_BETAS = (0.5, 0.9)

# Relabel / student of the ImageNet-1K scripts (see the module docstring).
RELABEL_CROP_SCALE = (0.08, 1.)
CUTMIX_ALPHA = 1.
CUTMIX_BATCH_SIZE = 1024
STUDENT_TEMPERATURE = 20.


def default_preset(image_size):
    """The released recipe for images of ``image_size`` pixels."""
    if image_size <= 32:
        return 'cifar'
    return 'tiny' if image_size <= 64 else 'imagenet'


def recover_preset(name, image_size):
    """Name and settings of preset ``name`` (``None``: by image size)."""
    if name is None:
        name = default_preset(image_size)
    if name not in RECOVER_PRESETS:
        from .errors import CondenseError
        raise CondenseError(f'unknown recover preset {name!r}; choose one of '
                            f'{", ".join(sorted(RECOVER_PRESETS))}')
    return name, dict(RECOVER_PRESETS[name])
