from .var_res_mae_decoder import VarResMAEPretrainDecoder

__all__ = ['VarResMAEPretrainDecoder']
