#!/usr/bin/env python
"""Train with MMPretrain's flags: ``python tools/train.py CONFIG [...]``."""
import sys

from mmeff.apis import train_main

if __name__ == '__main__':
    sys.exit(train_main())
