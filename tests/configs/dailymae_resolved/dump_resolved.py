"""Dump the training config each DailyMAE toggle combination resolved to.

Run once, before the toggles became plain config files, on the commit that
still had ``resolve_dailymae``; the JSON files it wrote are the reference
that tests/configs/test_dailymae_configs.py compares the plain configs with.
"""
import itertools
import json
import os.path as osp

from mmeff.engine.config import load_config
from mmeff.engine.runners import resolve_dailymae

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(osp.dirname(HERE)))
SCALES = {'vit-tiny-p4_fashion-mnist':
          'configs/dailymae/dailymae_vit-tiny-p4_fashion-mnist.py',
          'vit-b-p16_8xb512-800e_in1k':
          'configs/dailymae/dailymae_vit-b-p16_8xb512-800e_in1k.py'}


def main():
    for (scale, path), essl, algorithm, curriculum in itertools.product(
            SCALES.items(), (True, False), ('emae', 'mae'),
            ('palindrome', 'efficienttrain', None)):
        cfg = resolve_dailymae(load_config(osp.join(REPO, path), {
            'dailymae.essl': essl, 'dailymae.algorithm': algorithm,
            'dailymae.curriculum': curriculum}))
        name = (f'{scale}_{algorithm}-{"essl" if essl else "stock"}-'
                f'{curriculum or "none"}.json')
        with open(osp.join(HERE, name), 'w') as f:
            json.dump(cfg.to_dict(), f, indent=1, sort_keys=True)
            f.write('\n')


if __name__ == '__main__':
    main()
