"""kNN and linear probes against reference computations."""
import pytest
import torch
import torch.nn.functional as F

from mmeff.evaluation import knn_top1, linear_probe_top1, pool_tokens


def reference_knn(train, ytr, test, k, T, C):
    train, test = F.normalize(train, dim=1), F.normalize(test, dim=1)
    preds = []
    for q in test:
        sims = train @ q
        idx = sims.argsort(descending=True)[:k]
        votes = torch.zeros(C)
        for i in idx:
            votes[ytr[i]] += torch.exp(sims[i] / T)
        preds.append(votes.argmax())
    return torch.stack(preds)


def test_knn_equals_reference_weighted_vote():
    g = torch.Generator().manual_seed(0)
    xtr, xte = torch.randn(60, 8, generator=g), torch.randn(25, 8, generator=g)
    ytr = torch.randint(0, 4, (60,), generator=g)
    yte = torch.randint(0, 4, (25,), generator=g)
    expected = reference_knn(xtr, ytr, xte, 5, 0.07, 4)
    acc = knn_top1(xtr, ytr, xte, yte, k=5, temperature=0.07, num_classes=4)
    assert acc == pytest.approx(100.0 * (expected == yte).double().mean().item())


def test_probes_separate_clusters_and_not_noise():
    g = torch.Generator().manual_seed(1)
    centers = torch.randn(3, 16, generator=g) * 5
    ytr, yte = torch.arange(90) % 3, torch.arange(30) % 3
    xtr = centers[ytr] + torch.randn(90, 16, generator=g)
    xte = centers[yte] + torch.randn(30, 16, generator=g)
    assert knn_top1(xtr, ytr, xte, yte) == 100.0
    assert linear_probe_top1(xtr, ytr, xte, yte) == 100.0
    shuffled = ytr[torch.randperm(90, generator=g)]
    assert linear_probe_top1(torch.randn(90, 16, generator=g), shuffled,
                             xte, yte) < 70.0


def test_pool_tokens_shapes():
    assert pool_tokens(torch.ones(2, 5, 4)).shape == (2, 4)
    tokens = torch.stack([torch.zeros(3), torch.ones(3), 3 * torch.ones(3)])
    assert torch.equal(pool_tokens(tokens[None])[0], 2 * torch.ones(3))
    assert pool_tokens((torch.ones(2, 4, 3, 3),)).shape == (2, 4)
