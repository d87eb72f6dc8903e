from .empssl_projector import EMPSSLProjector
from .simple_feature_pyramid import SimpleFeaturePyramid
from .var_res_mae_decoder import VarResMAEPretrainDecoder

__all__ = ['EMPSSLProjector', 'SimpleFeaturePyramid',
           'VarResMAEPretrainDecoder']
