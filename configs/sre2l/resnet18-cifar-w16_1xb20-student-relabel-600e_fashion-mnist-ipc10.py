# SRe2L student (Yin, Xing, Shen, NeurIPS 2023) on a condensed Fashion-MNIST
# set: trained only on recovered images, with the teacher's soft labels on
# the exact crops it sees (written by tools/condense/relabel.py with the same
# seed and at least max_epochs epochs).
# As released for the student (VILA-Lab/SRe2L validate/train_FKD.sh): AdamW
# lr 1e-3, weight decay 0.01, cosine, KL (batchmean, no T^2) at temperature
# 20 against the stored logits; random-resized crops (scale 0.08-1) + flips
# + CutMix replayed from the relabel files (relabel with --cutmix-batch-size
# 20, this batch size, as relabel.sh matches its student's). Scaled down:
# the teacher's 1/4-width CIFAR ResNet-18, 600 epochs, batch 20 (100 images).
_base_ = './resnet18-cifar-w16_1xb32-squeeze-3e_fashion-mnist.py'

condensed_root = 'work_dirs/sre2l_fashion-mnist/recovered'
relabel_dir = 'work_dirs/sre2l_fashion-mnist/relabel'
relabel_seed = 0
data_root = 'data/fashion-mnist-full'  # real held-out images for validation
max_epochs = 600

model = dict(head=dict(loss=dict(_delete_=True, type='SoftLabelKLLoss',
                                 temperature=20., t_squared=False)))
train_dataloader = dict(
    batch_size=20, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='RelabelledDataset',
                 data_root=condensed_root, data_prefix='train',
                 relabel_dir=relabel_dir, seed=relabel_seed,
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='ReplayCrop', scale=32),
                           dict(type='PackInputs')]))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3,
                                    weight_decay=0.01))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
custom_hooks = [dict(type='EpochSeedHook'), dict(type='RelabelEpochHook')]
