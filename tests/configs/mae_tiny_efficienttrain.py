# EfficientTrain++ on the tiny MAE: bandwidths 8 -> 12 -> 16 by compute
# fraction (0, 0.2, 0.6), a budget of 3 full-resolution epochs; the LR
# follows the compute fraction of the same plan.
_base_ = './mae_tiny_curriculum.py'
plan = dict(budget_epochs=3, full_size=16,
            stages=[(0.0, 8), (0.2, 12), (0.6, 16)])
param_scheduler = [dict(type='EfficientTrainLR', convert_to_iter_based=True,
                        warmup=0.1, **plan)]
efficienttrain = dict(type='EfficientTrainHook', **plan)
train_cfg = dict(max_epochs=5)
custom_hooks = [dict(type='EpochSeedHook'), efficienttrain,
                dict(type='InputSizeRecorderHook')]
