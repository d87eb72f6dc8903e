"""EMP-SSL's linear-probe protocols: the released one and mmeff's fast one."""
import inspect

import pytest
import torch

from mmeff.evaluation import (
    LINEAR_PROTOCOLS,
    linear_probe,
    probe_bag_of_features,
    sgd_linear_probe,
)


def clusters(seed, n_train=100, n_test=30, dim=16, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(3, dim, generator=g) * 3
    ytr, yte = torch.arange(n_train) % 3, torch.arange(n_test) % 3
    xtr = centers[ytr] + torch.randn(n_train, dim, generator=g)
    xte = centers[yte] + torch.randn(n_test, dim, generator=g)
    return xtr * scale, ytr, xte * scale, yte


def test_reference_probe_hyper_parameters_are_the_released_ones():
    # tsb0601/EMP-SSL func.py `linear` (SGD momentum 0.9, wd 5e-5, batch 100,
    # 100 epochs, cosine T_max 100) with evaluate.py's --lr 0.03.
    defaults = {k: v.default for k, v in
                inspect.signature(sgd_linear_probe).parameters.items()
                if v.default is not inspect.Parameter.empty}
    assert defaults == dict(num_classes=None, epochs=100, batch_size=100,
                            lr=0.03, momentum=0.9, weight_decay=5e-5, seed=0)
    assert LINEAR_PROTOCOLS == ('reference', 'fast')


def test_reference_probe_reports_last_and_best_epoch_of_its_history():
    result = sgd_linear_probe(*clusters(0, n_train=200), epochs=5)
    assert len(result['history']) == 5
    assert result['last_top1'] == result['history'][-1]
    assert result['best_top1'] == max(result['history'])
    assert result['last_top1'] == 100.0
    assert sgd_linear_probe(*clusters(0, n_train=200), epochs=5) == result


def test_reference_probe_sees_raw_features_and_fast_probe_standardised():
    # Separable clusters shrunk by 1e-4: standardisation undoes the scale;
    # plain SGD on the raw features barely moves off its initial weights in
    # the 100 epochs (one batch of 100 each).
    tiny = clusters(1, scale=1e-4)
    assert linear_probe('fast', *tiny) == dict(last_top1=100.0)
    reference = linear_probe('reference', *tiny)
    assert set(reference) == {'last_top1', 'best_top1'}
    assert reference['best_top1'] < 70.0
    assert sgd_linear_probe(*clusters(1), epochs=10)['last_top1'] == 100.0


def test_unknown_protocol_is_refused_before_any_feature_is_extracted():
    with pytest.raises(ValueError, match="protocol must be one of .*'sgd'"):
        probe_bag_of_features(None, None, None, protocols=('sgd',))
    with pytest.raises(ValueError, match='protocol must be one of'):
        linear_probe('sgd', *clusters(0))
