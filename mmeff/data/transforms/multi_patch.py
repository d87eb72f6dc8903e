"""EMP-SSL's many fixed-scale patches of one image.

Tong, Chen, Ma, LeCun (2023), "EMP-SSL", Sec. 3 and the released code
(tsb0601/EMP-SSL, ``dataset/aug.py``, ``dataset/aug4img.py``): every
image yields n patches, each a RandomResizedCrop covering a fixed 25% of the
image area, resized to the network input size, then horizontal flip (p=0.5),
colour jitter 0.4/0.4/0.4/0.2 (p=0.8), grayscale (p=0.2), Gaussian blur
(sigma ~ U(0.1, 2), p=0.1) and solarisation (threshold 128, p=0.1).
"""
from mmpretrain.datasets.transforms import MultiView
from mmpretrain.registry import TRANSFORMS

# Grayscale weights (ITU-R 601) in the channel order of the image array.
_GRAY_WEIGHTS = dict(bgr=(0.114, 0.587, 0.299), rgb=(0.299, 0.587, 0.114))


@TRANSFORMS.register_module()
class MultiPatch(MultiView):
    """``num_patches`` independently augmented fixed-scale patches.

    A :class:`mmpretrain.datasets.transforms.MultiView` whose single view
    pipeline is EMP-SSL's patch augmentation, built from MMPretrain / mmcv
    transforms; ``PackInputs`` then packs the list of patches and
    ``SelfSupDataPreprocessor`` turns it into ``num_patches`` batches.

    Args:
        num_patches (int): patches per image (n). Defaults to 20: the
            released README's one-epoch commands use ``--num_patches 20``
            (tsb0601/EMP-SSL; ``main.py``'s own default is 100) and its
            table reports rows for 20 and 200 patches, the range of the
            paper's patch ablation. The CIFAR-10/100, Tiny-ImageNet and
            ImageNet-100 configs use 20; the bundled Fashion-MNIST config
            uses 16. Evaluation draws more (``bof_cfg.test_patches``: 128 as
            the released ``evaluate.py``, 32 on Fashion-MNIST).
        patch_size (int): output side of every patch. The released code uses
            the image size (32 on CIFAR, 224 on ImageNet). Defaults to 32.
        scale (float): fraction of the image area each patch covers (fixed:
            RandomResizedCrop with ``crop_ratio_range=(scale, scale)``).
            Defaults to 0.25 (paper).
        aspect_ratio_range (tuple): Defaults to (1, 1), square patches as in
            the released CIFAR code (its ImageNet code keeps torchvision's
            (3/4, 4/3)).
        interpolation (str): patch resize interpolation. Defaults to
            'bilinear' (released CIFAR code; 'bicubic' on ImageNet).
        flip_prob, jitter_prob, gray_prob, blur_prob, solarize_prob (float):
            Defaults 0.5, 0.8, 0.2, 0.1, 0.1 (paper).
        jitter (tuple): brightness, contrast, saturation, hue. Defaults to
            (0.4, 0.4, 0.4, 0.2) (paper).
        blur_sigma (tuple): Gaussian blur sigma range. Defaults to (0.1, 2.0).
        solarize_thr (float): Defaults to 128 (PIL's default, released code).
        channel_order (str): 'bgr' (``LoadImageFromFile``) or 'rgb' (MMPretrain's
            CIFAR datasets); picks the grayscale weights. Defaults to 'bgr'.
    """

    def __init__(self, num_patches=20, patch_size=32, scale=0.25,
                 aspect_ratio_range=(1., 1.), interpolation='bilinear',
                 flip_prob=0.5, jitter=(0.4, 0.4, 0.4, 0.2), jitter_prob=0.8,
                 gray_prob=0.2, blur_prob=0.1, blur_sigma=(0.1, 2.0),
                 solarize_prob=0.1, solarize_thr=128, channel_order='bgr'):
        if not isinstance(num_patches, int) or num_patches < 1:
            raise ValueError('MultiPatch: num_patches must be a positive int, '
                             f'got {num_patches!r}')
        if not 0 < scale <= 1:
            raise ValueError(f'MultiPatch: scale must be in (0, 1], got {scale}')
        if channel_order not in _GRAY_WEIGHTS:
            raise ValueError("MultiPatch: channel_order must be 'bgr' or "
                             f"'rgb', got {channel_order!r}")
        for name, prob in (('flip_prob', flip_prob), ('jitter_prob', jitter_prob),
                           ('gray_prob', gray_prob), ('blur_prob', blur_prob),
                           ('solarize_prob', solarize_prob)):
            if not 0 <= prob <= 1:
                raise ValueError(f'MultiPatch: {name} must be in [0, 1], '
                                 f'got {prob}')
        brightness, contrast, saturation, hue = jitter
        view = [
            dict(type='RandomResizedCrop', scale=patch_size,
                 crop_ratio_range=(scale, scale),
                 aspect_ratio_range=tuple(aspect_ratio_range),
                 interpolation=interpolation, backend='pillow'),
            dict(type='RandomFlip', prob=flip_prob),
            dict(type='RandomApply', prob=jitter_prob, transforms=[
                dict(type='HueSafeColorJitter', brightness=brightness,
                     contrast=contrast, saturation=saturation, hue=hue)]),
            dict(type='RandomGrayscale', prob=gray_prob, keep_channels=True,
                 channel_weights=_GRAY_WEIGHTS[channel_order]),
            # magnitude_std='inf' draws the radius uniformly from the range.
            dict(type='GaussianBlur', magnitude_range=tuple(blur_sigma),
                 magnitude_std='inf', prob=blur_prob),
            dict(type='Solarize', thr=solarize_thr, prob=solarize_prob),
        ]
        super().__init__(transforms=[view], num_views=num_patches)
        self.num_patches = num_patches
        self.patch_size = patch_size
        self.scale = scale

    def __repr__(self):
        return (f'{self.__class__.__name__}(num_patches={self.num_patches}, '
                f'patch_size={self.patch_size}, scale={self.scale}, '
                f'view={self.pipelines[0]})')
