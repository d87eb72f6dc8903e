"""Change a running train loader's output size or augmentation strength."""
from mmpretrain.datasets.transforms import (
    CenterCrop,
    RandAugment,
    RandomResizedCrop,
    Resize,
)


def _datasets(dataset):
    yield dataset
    for name in ('dataset', 'datasets'):
        inner = getattr(dataset, name, None)
        for sub in inner if isinstance(inner, (list, tuple)) else [inner]:
            if sub is not None:
                yield from _datasets(sub)


def _transforms(transforms):
    for transform in transforms:
        yield transform
        yield from _transforms(getattr(transform, 'transforms', None) or [])


def pipeline_transforms(loader):
    """Every transform object of a torch DataLoader's dataset pipelines."""
    for dataset in _datasets(loader.dataset):
        pipeline = getattr(dataset, 'pipeline', None)
        if pipeline is not None:
            yield from _transforms(getattr(pipeline, 'transforms', []))


def restart_workers(loader):
    """Make persistent workers pick up the main process's new pipeline.

    A torch DataLoader with ``persistent_workers`` keeps its iterator, and so
    its workers' copies of the dataset, across epochs; dropping the iterator
    makes the next epoch start fresh workers (as MMPretrain's
    SwitchRecipeHook does). torch has no public way to end persistent
    workers early, so this is the one place that touches ``_iterator``.
    MMPretrain's transforms' size fields, set by :func:`set_output_size`,
    are their public constructor arguments.
    """
    if getattr(loader, 'persistent_workers', False) and \
            getattr(loader, '_iterator', None) is not None:
        shutdown = getattr(loader._iterator, '_shutdown_workers', None)
        if shutdown is not None:
            shutdown()
        loader._iterator = None


def set_output_size(loader, size: int) -> None:
    """Set the train loader's output resolution to ``size`` x ``size``.

    Loaders that own their decoding (ESSL) expose ``set_output_size``; on a
    torch DataLoader, MMPretrain's RandomResizedCrop / CenterCrop / Resize
    are changed in place and persistent workers are restarted.
    """
    if hasattr(loader, 'set_output_size'):
        loader.set_output_size(size)
        return
    changed = found = 0
    for transform in pipeline_transforms(loader):
        if isinstance(transform, RandomResizedCrop):
            old, transform.scale = transform.scale, (size, size)
        elif isinstance(transform, CenterCrop):
            old, transform.crop_size = transform.crop_size, (size, size)
        elif isinstance(transform, Resize) and transform.scale is not None:
            old, transform.scale = transform.scale, (size, size)
        else:
            continue
        changed += old != (size, size)
        found += 1
    if not found:
        raise ValueError('the train pipeline has no RandomResizedCrop, '
                         'CenterCrop or Resize whose size a curriculum could '
                         'set')
    if changed:
        restart_workers(loader)


def set_randaugment_magnitude(loader, magnitude) -> int:
    """Set the magnitude of every RandAugment in the train pipeline."""
    if hasattr(loader, 'set_randaugment_magnitude'):
        return loader.set_randaugment_magnitude(magnitude)
    changed = found = 0
    for transform in pipeline_transforms(loader):
        if isinstance(transform, RandAugment):
            found += 1
            changed += transform.magnitude_level != magnitude
            transform.magnitude_level = magnitude
            for op in transform.transforms:
                if hasattr(op, 'magnitude_level'):
                    op.magnitude_level = magnitude
    if changed:
        restart_workers(loader)
    return found
