"""EfficientTrain++'s low-frequency cropping, on the batch tensor."""
import torch
import torch.nn.functional as F


def low_frequency_crop(images: torch.Tensor, bandwidth: int) -> torch.Tensor:
    """Keep the centred ``B x B`` block of the 2-D spectrum (exact).

    EfficientTrain++ (Wang et al., TPAMI 2024, arXiv:2405.08768) feeds early
    training only the lowest frequencies: ``FFT -> centre crop B x B ->
    scale by (B/H)(B/W) -> inverse FFT`` gives a B x B image with the same
    mean whose spectrum is exactly the input's low band. For even B the
    Nyquist row/column of the output is split symmetrically between the two
    input frequencies that fold onto it, so a real input stays real and a
    band-limited image is reproduced exactly.

    Args:
        images (Tensor): ``[..., H, W]`` real images.
        bandwidth (int): output side B, ``B <= min(H, W)``.
    """
    height, width = images.shape[-2:]
    if bandwidth > min(height, width):
        raise ValueError(f'bandwidth={bandwidth} exceeds the input size '
                         f'{height}x{width}')
    if bandwidth == height == width:
        return images
    work = images if images.dtype == torch.float64 else images.float()
    spectrum = torch.fft.fft2(work, norm='forward')
    rows = _band_matrix(height, bandwidth, spectrum)
    cols = _band_matrix(width, bandwidth, spectrum)
    # out_spectrum[k, l] = sum_ij rows[k, i] * spectrum[i, j] * cols[l, j]
    cropped = torch.einsum('ki,...ij,lj->...kl', rows, spectrum, cols)
    return torch.fft.ifft2(cropped, norm='forward').real.to(images.dtype)


def _band_matrix(size: int, band: int, like: torch.Tensor) -> torch.Tensor:
    """Selects frequencies |f| < band/2 of ``size``; splits the Nyquist one.

    Row k of the result picks the input frequency that maps to output
    frequency k. For even ``band`` the output Nyquist bin receives half of
    the +band/2 and half of the -band/2 input bins, which keeps the crop the
    exact adjoint of zero-padding a real signal's spectrum.
    """
    matrix = torch.zeros(band, size, dtype=like.dtype, device=like.device)
    half = band // 2
    for k in range(band):
        freq = k if k < (band + 1) // 2 else k - band
        if band % 2 == 0 and k == half:  # output Nyquist bin
            matrix[k, half % size] += 0.5
            matrix[k, (-half) % size] += 0.5
        else:
            matrix[k, freq % size] = 1.0
    return matrix


def resize_crop(images: torch.Tensor, bandwidth: int) -> torch.Tensor:
    """mmeff's cheap resize mode: anti-aliased bicubic downsampling to B."""
    if images.shape[-1] == bandwidth and images.shape[-2] == bandwidth:
        return images
    return F.interpolate(images.float(), size=(bandwidth, bandwidth),
                         mode='bicubic', antialias=True,
                         align_corners=False).to(images.dtype)


def lanczos_resize(images: torch.Tensor, bandwidth: int) -> torch.Tensor:
    """The released code's resize mode: Lanczos-3 downsampling to B x B.

    LeapLabTHU/EfficientTrain (datasets_buffer.py) resizes each augmented
    image with torchvision's ``Resize(B, LANCZOS)``, i.e. PIL's separable
    resampling. The same weights (PIL's support and normalisation) applied
    as two matrices give PIL's float-image result on a whole batch.
    """
    if images.shape[-1] == bandwidth and images.shape[-2] == bandwidth:
        return images
    work = images if images.dtype == torch.float64 else images.float()
    rows = _lanczos_matrix(images.shape[-2], bandwidth, work)
    cols = _lanczos_matrix(images.shape[-1], bandwidth, work)
    out = torch.einsum('ki,...ij,lj->...kl', rows, work, cols)
    return out.to(images.dtype)


def _lanczos_matrix(size: int, out: int, like: torch.Tensor) -> torch.Tensor:
    """``[out, size]`` Lanczos-3 weights as PIL's ``precompute_coeffs``."""
    scale = size / out
    support = 3.0 * max(scale, 1.0)
    centres = (torch.arange(out, dtype=torch.float64) + 0.5) * scale
    taps = torch.arange(size, dtype=torch.float64)
    lo = (centres - support + 0.5).trunc().clamp(min=0)
    hi = (centres + support + 0.5).trunc().clamp(max=size)
    x = (taps[None] - centres[:, None] + 0.5) / max(scale, 1.0)
    weights = torch.sinc(x) * torch.sinc(x / 3) * (x.abs() < 3)
    weights = weights * ((taps[None] >= lo[:, None]) &
                         (taps[None] < hi[:, None]))
    weights = weights / weights.sum(1, keepdim=True)
    return weights.to(device=like.device, dtype=like.dtype)
