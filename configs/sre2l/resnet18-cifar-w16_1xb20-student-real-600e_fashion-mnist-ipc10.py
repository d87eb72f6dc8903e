# The baseline an SRe2L condensed set must beat: the same student as
# ./resnet18-cifar-w16_1xb20-student-relabel-600e_fashion-mnist-ipc10.py (network,
# optimizer, epochs, batch) trained on a random real subset of 10 images per
# class with hard labels and the teacher's augmentation (RandomCrop 32 pad 4
# + flip). tools/benchmarks/sre2l_bundled.py writes the subset.
_base_ = './resnet18-cifar-w16_1xb32-squeeze-3e_fashion-mnist.py'

subset_root = 'work_dirs/sre2l_fashion-mnist/real-ipc10'
data_root = 'data/fashion-mnist-full'  # real held-out images for validation
max_epochs = 600

train_dataloader = dict(batch_size=20, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=subset_root))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3,
                                    weight_decay=0.01))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
