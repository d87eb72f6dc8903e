"""Low-frequency cropping: exact on band-limited images, = ideal low-pass."""
import math

import pytest
import torch

from mmeff.data.ops import low_frequency_crop, resize_crop


def band_limited(size, freqs):
    grid = torch.arange(size, dtype=torch.float64)
    y, x = torch.meshgrid(grid, grid, indexing='ij')
    img = torch.full((size, size), 0.25, dtype=torch.float64)
    for fy, fx, amp in freqs:
        img = img + amp * torch.cos(2 * math.pi * (fy * y + fx * x) / size + 0.3)
    return img


FREQS = [(3, 2, 1.0), (-5, 7, 0.5), (0, 1, 0.2)]  # all below 16/2 = 8


def test_band_limited_image_is_reproduced_exactly_on_the_coarse_grid():
    img = band_limited(32, FREQS)
    out = low_frequency_crop(img[None, None], 16)[0, 0]
    grid = torch.arange(16, dtype=torch.float64) * 2
    y, x = torch.meshgrid(grid, grid, indexing='ij')
    expected = torch.full((16, 16), 0.25, dtype=torch.float64)
    for fy, fx, amp in FREQS:
        phase = 2 * math.pi * (fy * y + fx * x) / 32 + 0.3
        expected = expected + amp * torch.cos(phase)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)


def ideal_lowpass_then_subsample(img, band):
    size = img.shape[-1]
    spectrum = torch.fft.fft2(img)
    f = torch.fft.fftfreq(size) * size
    keep = (f.abs() < band / 2).double()
    nyquist = (f.abs() == band / 2).double() * 0.5  # split, as the crop does
    mask1d = keep + nyquist
    filtered = torch.fft.ifft2(spectrum * mask1d[:, None] * mask1d[None, :]).real
    step = size // band
    return filtered[..., ::step, ::step]


@pytest.mark.parametrize('band', [8, 16, 12])
def test_equals_ideal_lowpass_plus_downsampling(band):
    torch.manual_seed(0)
    img = torch.randn(2, 3, 48, 48, dtype=torch.float64)
    out = low_frequency_crop(img, band)
    torch.testing.assert_close(out, ideal_lowpass_then_subsample(img, band),
                               rtol=0, atol=1e-10)


def test_preserves_mean_dtype_and_full_size_identity():
    img = torch.rand(4, 3, 32, 32)
    out = low_frequency_crop(img, 16)
    assert out.dtype == img.dtype and out.shape == (4, 3, 16, 16)
    torch.testing.assert_close(out.mean((2, 3)), img.mean((2, 3)), atol=1e-6, rtol=0)
    assert low_frequency_crop(img, 32) is img


def test_bandwidth_larger_than_input_is_refused():
    with pytest.raises(ValueError, match='exceeds the input size'):
        low_frequency_crop(torch.rand(1, 3, 16, 16), 32)


def test_resize_mode_matches_shape():
    assert resize_crop(torch.rand(2, 3, 32, 32), 24).shape == (2, 3, 24, 24)


@pytest.mark.parametrize('size,band', [(224, 96), (32, 24), (50, 17)])
def test_lanczos_resize_equals_pils_lanczos(size, band):
    """The released "resize" mode: torchvision/PIL Lanczos (float image)."""
    import numpy as np
    from PIL import Image

    from mmeff.data.ops.low_frequency_crop import lanczos_resize
    image = np.random.default_rng(0).random((size, size)).astype(np.float32)
    expected = np.asarray(Image.fromarray(image * 255, 'F').resize(
        (band, band), Image.LANCZOS)) / 255
    got = lanczos_resize(torch.from_numpy(image)[None, None], band)[0, 0]
    assert np.abs(got.numpy() - expected).max() < 1e-6
