# MAE, ESSL storage with crop decode, no curriculum.
# docs/dailymae.md lists every combination; the alternatives are in
# _base_/vit-tiny-p4_1xb64-10e_fashion-mnist.py.
_base_ = './_base_/vit-tiny-p4_1xb64-10e_fashion-mnist.py'

