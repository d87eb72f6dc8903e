from .efficient_train_lr import EfficientTrainLR

__all__ = ['EfficientTrainLR']
