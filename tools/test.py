#!/usr/bin/env python
"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [...]``."""
import sys

from mmeff.apis import test_main

if __name__ == '__main__':
    sys.exit(test_main())
