# The quickstart config as-is, except for the one thing MMEngine cannot do
# on a CPU: its AmpOptimWrapper needs an accelerator, so a plain
# OptimWrapper with the same optimizer and parameter-wise settings.
_base_ = '../../configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py'

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=_base_.optim_wrapper.optimizer,
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
