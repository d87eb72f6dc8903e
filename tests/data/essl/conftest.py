import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

PHOTOS = ('astronaut', 'coffee', 'chelsea')


def cut_photos(root, per_class, size=(120, 90), seed=0, fmt='jpg'):
    """Class folders of small crops cut from scikit-image's real photos."""
    import cv2
    import skimage.data
    rng = np.random.default_rng(seed)
    expected = []
    for label, name in enumerate(PHOTOS):
        src = getattr(skimage.data, name)()
        os.makedirs(osp.join(root, name), exist_ok=True)
        h, w = src.shape[:2]
        for i in range(per_class):
            bw, bh = int(w * rng.uniform(0.4, 0.9)), int(h * rng.uniform(0.4,
                                                                         0.9))
            x, y = rng.integers(0, w - bw), rng.integers(0, h - bh)
            img = cv2.resize(src[y:y + bh, x:x + bw], size,
                             interpolation=cv2.INTER_AREA)
            path = osp.join(root, name, f'{i:03d}.{fmt}')
            Image.fromarray(img).save(path, quality=95)
            expected.append((path, label))
    return expected


@pytest.fixture(scope='session')
def photo_folder(tmp_path_factory):
    """3 classes x 8 JPEGs of 120x90 cut from real photographs."""
    root = str(tmp_path_factory.mktemp('photos'))
    cut_photos(root, per_class=8)
    return root


@pytest.fixture(scope='session')
def photo_beton(photo_folder, tmp_path_factory):
    """The photo folder written as JPEG records (quality 90)."""
    from mmeff.data.essl import write_essl
    out = str(tmp_path_factory.mktemp('essl') / 'photos.beton')
    write_essl(photo_folder, out, write_mode='jpg', jpeg_quality=90,
               num_workers=2, progress=False)
    return out
