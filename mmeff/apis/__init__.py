from .train import build_runner, merge_train_args, test_main, train_main

__all__ = ['build_runner', 'merge_train_args', 'test_main', 'train_main']
