"""EMP-SSL's projector (Tong, Chen, Ma, LeCun, 2023).

Released code: tsb0601/EMP-SSL, ``model/model.py`` (``encoder.pre_feature``
and ``encoder.projection``).
"""
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class EMPSSLProjector(BaseModule):
    """EMP-SSL's projector; returns ``(pre_feature, z)``.

    ``pre_feature = ReLU(BN(Linear(in -> hid)))`` is the representation used
    for evaluation; ``z = normalize(Linear(ReLU(BN(Linear(pre))))) `` with
    ``hid -> hid -> out``. Defaults 512 -> 4096 -> 1024 are the paper's
    (ResNet-18 features; use ``in_channels=2048`` for ResNet-50).
    """

    def __init__(self, in_channels=512, hid_channels=4096, out_channels=1024,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels),
                            ('hid_channels', hid_channels),
                            ('out_channels', out_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'EMPSSLProjector: {name} must be a positive '
                                 f'int, got {value!r}')
        self.pre_feature = nn.Sequential(
            nn.Linear(in_channels, hid_channels), nn.BatchNorm1d(hid_channels),
            nn.ReLU(inplace=True))
        self.projection = nn.Sequential(
            nn.Linear(hid_channels, hid_channels), nn.BatchNorm1d(hid_channels),
            nn.ReLU(inplace=True), nn.Linear(hid_channels, out_channels))

    def forward(self, x):
        if x.dim() != 2 or x.shape[1] != self.pre_feature[0].in_features:
            raise ValueError(
                f'EMPSSLProjector: expected features [N, '
                f'{self.pre_feature[0].in_features}] (in_channels), got '
                f'{tuple(x.shape)}; set neck.in_channels to the backbone width')
        pre = self.pre_feature(x)
        z = nn.functional.normalize(self.projection(pre), dim=1)
        return pre, z
