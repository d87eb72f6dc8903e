"""EMP-SSL's bag-of-features evaluation and its two linear probes.

Tong, Chen, Ma, LeCun (2023), "EMP-SSL", Sec. 4, and the released
evaluation (tsb0601/EMP-SSL, ``evaluate.py`` and ``func.py``): an image is
represented by the mean pre-feature (the projector's first layer, Linear ->
BN -> ReLU, ``model/model.py``) over ``--test_patches`` augmented patches
(default 128, drawn with the training patch pipeline), with the network in
eval mode; a linear classifier and a weighted kNN (k=20, T=0.07, cosine) are
fitted on the training split and scored on the test split.

Linear probe protocols:

- ``'reference'`` (:func:`sgd_linear_probe`): the released ``func.linear``
  with ``evaluate.py``'s learning rate, on the raw (unstandardised)
  features; reports the test top-1 of the last epoch and the best epoch.
- ``'fast'`` (:func:`mmeff.evaluation.linear_probe_top1`): mmeff's own
  quick probe, 100 full-batch AdamW steps on standardised features, last
  step reported.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .probes import knn_top1, linear_probe_top1

LINEAR_PROTOCOLS = ('reference', 'fast')


@torch.no_grad()
def extract_bag_of_features(model, dataloader, stage='pre_feature'):
    """Return ``(features [N, C], labels [N])``: bag-of-features of each image.

    ``dataloader`` yields MultiPatch batches (many test patches per image; the
    released evaluation uses 128). The model is put in eval mode (BN running
    statistics), as in the released evaluation.
    """
    was_training = model.training
    model.eval()
    feats, labels = [], []
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        feats.append(model.extract_feat(data['inputs'], stage=stage).float())
        labels.append(torch.cat([s.gt_label for s in data['data_samples']]))
    model.train(was_training)
    return torch.cat(feats).cpu(), torch.cat(labels).cpu()


def _top1(layer, feats, labels):
    with torch.no_grad():
        pred = layer(feats).argmax(1)
    return 100.0 * (pred == labels).float().mean().item()


def sgd_linear_probe(train_feats, train_labels, test_feats, test_labels,
                     num_classes=None, epochs=100, batch_size=100, lr=0.03,
                     momentum=0.9, weight_decay=5e-5, seed=0):
    """The released linear probe (tsb0601/EMP-SSL, ``func.py``, ``linear``).

    ``nn.Linear`` (PyTorch's default init) on the raw features, SGD (lr 0.03,
    the default of ``evaluate.py``'s ``--lr``; momentum 0.9, weight decay
    5e-5), cross-entropy on shuffled mini-batches of 100 with the last
    incomplete batch dropped, ``CosineAnnealingLR(T_max=100)`` stepped once
    per epoch, 100 epochs; the test top-1 is taken after every epoch.
    Differences: the test accuracy is over all images (the release averages
    per-batch accuracies, the same when the test size is a multiple of 100),
    the shuffling and init come from ``seed``, and a training split smaller
    than one batch is used as a single batch.

    Returns ``dict(last_top1, best_top1, history)`` (accuracies in %; the best
    epoch is chosen on the test split, as the release prints it).
    """
    num_classes = num_classes or int(train_labels.max()) + 1
    train, test = train_feats.float(), test_feats.float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.Linear(train.shape[1], num_classes)
    gen = torch.Generator().manual_seed(seed)
    optim = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum,
                            weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, epochs)
    batch = min(batch_size, train.shape[0])
    history = []
    threads = torch.get_num_threads()
    # Thousands of tiny matmuls: on a busy CPU, synchronising the intra-op
    # thread pool costs far more than it saves.
    torch.set_num_threads(1)
    try:
        for _ in range(epochs):
            history.append(_sgd_epoch(layer, optim, train, train_labels, batch,
                                      gen, test, test_labels))
            sched.step()
    finally:
        torch.set_num_threads(threads)
    return dict(last_top1=history[-1], best_top1=max(history), history=history)


def _sgd_epoch(layer, optim, train, train_labels, batch, gen, test,
               test_labels):
    """One shuffled pass of mini-batch SGD; the test top-1 after it."""
    order = torch.randperm(train.shape[0], generator=gen)
    for start in range(0, train.shape[0] - batch + 1, batch):
        idx = order[start:start + batch]
        with torch.enable_grad():
            loss = F.cross_entropy(layer(train[idx]), train_labels[idx])
        optim.zero_grad()
        loss.backward()
        optim.step()
    return _top1(layer, test, test_labels)


def linear_probe(protocol, train_feats, train_labels, test_feats, test_labels,
                 num_classes=None):
    """Top-1 (%) of the named protocol: ``dict(last_top1[, best_top1])``."""
    if protocol == 'reference':
        result = sgd_linear_probe(train_feats, train_labels, test_feats,
                                  test_labels, num_classes=num_classes)
        return dict(last_top1=result['last_top1'],
                    best_top1=result['best_top1'])
    if protocol == 'fast':
        return dict(last_top1=linear_probe_top1(
            train_feats, train_labels, test_feats, test_labels,
            num_classes=num_classes))
    raise ValueError(f'linear_probe: protocol must be one of '
                     f'{LINEAR_PROTOCOLS}, got {protocol!r}')


def probe_bag_of_features(model, train_loader, val_loader, stage='pre_feature',
                          num_classes=None, protocols=('reference',)):
    """Linear probes and weighted kNN (k=20, T=0.07) on bags of features.

    The features are extracted once; each protocol in ``protocols`` (see the
    module docstring) is fitted on ``train_loader``'s images and scored on
    ``val_loader``'s. Returns ``dict(linear={protocol: dict(last_top1, ...)},
    knn_top1, num_train, num_val, feature_dim)``.
    """
    for protocol in protocols:
        if protocol not in LINEAR_PROTOCOLS:
            raise ValueError(f'probe_bag_of_features: protocol must be one of '
                             f'{LINEAR_PROTOCOLS}, got {protocol!r}')
    xtr, ytr = extract_bag_of_features(model, train_loader, stage)
    xva, yva = extract_bag_of_features(model, val_loader, stage)
    num_classes = num_classes or int(torch.cat([ytr, yva]).max()) + 1
    return dict(
        linear={p: linear_probe(p, xtr, ytr, xva, yva, num_classes)
                for p in protocols},
        knn_top1=knn_top1(xtr, ytr, xva, yva, num_classes=num_classes),
        num_train=int(xtr.shape[0]), num_val=int(xva.shape[0]),
        feature_dim=int(xtr.shape[1]))
