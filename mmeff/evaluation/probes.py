"""Quality proxies on frozen features: weighted kNN and a linear probe."""
import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_top1(train_feats, train_labels, test_feats, test_labels, k=20,
             temperature=0.07, num_classes=None):
    """Top-1 accuracy (%) of a cosine-similarity kNN classifier.

    Neighbours vote with weight ``exp(sim / T)``, the weighted kNN of
    Wu et al. (2018) used by DINO and EMP-SSL (k=20, T=0.07).
    """
    num_classes = num_classes or int(train_labels.max()) + 1
    train = F.normalize(train_feats.float(), dim=1)
    test = F.normalize(test_feats.float(), dim=1)
    k = min(k, train.shape[0])
    correct = 0
    for start in range(0, test.shape[0], 1024):
        sim = test[start:start + 1024] @ train.T
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], num_classes)
        votes.scatter_add_(1, train_labels[top_idx], (top_sim / temperature).exp())
        correct += (votes.argmax(1) == test_labels[start:start + 1024]).sum().item()
    return 100.0 * correct / test.shape[0]


def _fit_softmax(train, train_labels, epochs, lr, weight_decay, num_classes,
                 seed):
    """Full-batch AdamW + cosine on ``train`` ``[N, C]``; ``(weight [C, K],
    bias [K])``."""
    gen = torch.Generator().manual_seed(seed)
    weight = (torch.randn(train.shape[1], num_classes, generator=gen) *
              0.01).requires_grad_()
    bias = torch.zeros(num_classes, requires_grad=True)
    optim = torch.optim.AdamW([weight, bias], lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, epochs)
    with torch.enable_grad():
        for _ in range(epochs):
            loss = F.cross_entropy(train @ weight + bias, train_labels)
            optim.zero_grad()
            loss.backward()
            optim.step()
            sched.step()
    return weight.detach(), bias.detach()


def _fit_standardised(train_feats, train_labels, epochs, lr, weight_decay,
                      num_classes, seed):
    """The probe on standardised features: ``(mean, std, weight [C, K],
    bias [K])``; the statistics are the training features'."""
    num_classes = num_classes or int(train_labels.max()) + 1
    train = train_feats.float()
    mean = train.mean(0, keepdim=True)
    std = train.std(0, keepdim=True).clamp_min(1e-6)
    weight, bias = _fit_softmax((train - mean) / std, train_labels, epochs,
                                lr, weight_decay, num_classes, seed)
    return mean, std, weight, bias


def linear_probe_top1(train_feats, train_labels, test_feats, test_labels,
                      epochs=100, lr=0.1, weight_decay=1e-4, num_classes=None,
                      seed=0):
    """Top-1 accuracy (%) of a softmax classifier on standardised features.

    Full-batch training for ``epochs`` steps; the accuracy reported is the
    last step's, never the best on the test split.
    """
    mean, std, weight, bias = _fit_standardised(
        train_feats, train_labels, epochs, lr, weight_decay, num_classes, seed)
    with torch.no_grad():
        pred = (((test_feats.float() - mean) / std) @ weight + bias).argmax(1)
    return 100.0 * (pred == test_labels).float().mean().item()


def fit_linear_probe(train_feats, train_labels, epochs=100, lr=0.1,
                     weight_decay=1e-4, num_classes=None, seed=0):
    """The classifier :func:`linear_probe_top1` fits, as one linear layer on
    the raw features: ``(weight [K, C], bias [K])`` for ``nn.Linear``, the
    standardisation folded in (``x @ weight.T + bias`` equals the probe's
    logits on standardised ``x``)."""
    mean, std, weight, bias = _fit_standardised(
        train_feats, train_labels, epochs, lr, weight_decay, num_classes, seed)
    folded = weight / std.T
    return folded.T.contiguous(), bias - (mean @ folded).squeeze(0)
