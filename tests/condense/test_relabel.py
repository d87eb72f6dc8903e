"""Relabel: stored crops + fp16 teacher logits, replayed for the student."""
import os
import os.path as osp
import shutil

import mmcv
import numpy as np
import pytest
import torch

from mmeff.condense import (
    CondenseError,
    RelabelledDataset,
    RelabelSampler,
    SoftLabelKLLoss,
    bytes_per_epoch,
    draw_crops,
    relabel,
)
from mmeff.condense.mixing import cutmix_box, draw_cutmix
from mmeff.condense.relabel import crop_pipeline, teacher_logits
from mmeff.condense.soft_labels import epoch_file
from mmeff.condense.teacher import build_teacher, read_like_recovered_pngs
from tests.condense.conftest import STUDENT_CFG, TEACHER_CFG, load_tool


def student_set(root, relabel_dir, seed=0, size=16):
    return RelabelledDataset(data_root=root, data_prefix='train',
                             relabel_dir=relabel_dir, seed=seed,
                             pipeline=crop_pipeline(size))


def test_files_hold_one_epoch_each_in_the_stated_size(relabelled):
    out, info = relabelled
    assert sorted(os.listdir(out)) == ['epoch_0000.pt', 'epoch_0001.pt']
    assert (info['num_images'], info['num_classes']) == (20, 10)
    record = torch.load(epoch_file(out, 0), weights_only=True)
    assert record['logits'].dtype == torch.float16
    assert record['boxes'].dtype == torch.int16
    assert record['mix_partners'].dtype == torch.int32
    assert record['mix_boxes'].dtype == torch.int16
    arrays = sum(t.numel() * t.element_size()
                 for t in (record['boxes'], record['flips'],
                           record['mix_partners'], record['mix_boxes'],
                           record['logits']))
    assert arrays == bytes_per_epoch(20, 10) == 20 * (8 + 1 + 4 + 8 + 20)
    assert bytes_per_epoch(20, 10, mix=None) == 20 * (8 + 1 + 20)
    assert info['bytes_per_epoch'] == arrays
    assert info['file_bytes'] == osp.getsize(epoch_file(out, 0))


def rendered_crop(info, box, flip, size=16):
    """A stored crop rendered independently of the dataset (BGR HWC)."""
    x0, y0, x1, y1 = box
    img = mmcv.imread(info['img_path'])
    out = mmcv.imresize(img[y0:y1, x0:x1], (size, size))
    return out[:, ::-1] if flip else out


def test_replay_reproduces_the_mixed_crops_and_the_logits(
        relabelled, recovered, teacher_ckpt):
    out, _ = relabelled
    data = student_set(recovered, out)
    teacher = build_teacher(TEACHER_CFG, teacher_ckpt)
    model = teacher.model
    read_like_recovered_pngs(model, teacher.channel_order)
    boxes_seen, mixed = [], 0
    for epoch in (0, 1):
        data.set_epoch(epoch)
        record = torch.load(epoch_file(out, epoch), weights_only=True)
        # The crops and the CutMix are a function of (seed, epoch) alone.
        boxes, flips = draw_crops(0, epoch, [(16, 16)] * len(data))
        _, partners, mix_boxes = draw_cutmix(0, epoch, len(data), 16)
        assert torch.equal(record['boxes'].long(), torch.from_numpy(boxes))
        assert torch.equal(record['flips'], torch.from_numpy(flips))
        assert torch.equal(record['mix_partners'].long(),
                           torch.from_numpy(partners))
        assert torch.equal(record['mix_boxes'].long(),
                           torch.from_numpy(mix_boxes))
        # Every served image is its crop with its partner's crop pasted
        # into the CutMix box ...
        for i in range(len(data)):
            j = partners[i]
            want = rendered_crop(data.get_data_info(i), boxes[i], flips[i])
            other = rendered_crop(data.get_data_info(j), boxes[j], flips[j])
            x0, y0, x1, y1 = mix_boxes[i]
            want = want.copy()
            want[y0:y1, x0:x1] = other[y0:y1, x0:x1]
            got = data[i]['inputs']
            assert torch.equal(got,
                               torch.from_numpy(want.copy()).permute(2, 0, 1))
            mixed += int(j != i and x1 > x0 and y1 > y0)
        # ... and the teacher's logits on the served images are the stored
        # ones: the student sees exactly what the teacher labelled.
        logits = teacher_logits(model, data)
        stored = torch.stack([data[i]['data_samples'].gt_score
                              for i in range(len(data))])
        assert torch.allclose(stored, logits, rtol=1e-3, atol=1e-3)
        boxes_seen.append(boxes)
    assert mixed > 10  # most images really are mixed
    assert not np.array_equal(*boxes_seen)  # a new crop every epoch


def test_cutmix_files_need_a_replay_crop_in_the_pipeline(relabelled,
                                                        recovered):
    data = RelabelledDataset(data_root=recovered, data_prefix='train',
                             relabel_dir=relabelled[0], seed=0,
                             pipeline=[dict(type='LoadImageFromFile'),
                                       dict(type='PackInputs')])
    data.set_epoch(0)
    with pytest.raises(CondenseError, match='store CutMix, which needs a '
                       'ReplayCrop'):
        data[0]


def test_cutmix_is_the_released_per_batch_scheme():
    # VILA-Lab/SRe2L relabel/utils_fkd.py: per batch one randperm, one
    # lam ~ Beta(1, 1), one rand_bbox box; every batch mixed.
    order, partners, boxes = draw_cutmix(3, 0, 100, 32, batch_size=20)
    rng = np.random.default_rng([3, 0, 1])
    assert np.array_equal(order, rng.permutation(100))
    for start in range(0, 100, 20):
        batch = order[start:start + 20]
        assert sorted(partners[batch]) == sorted(batch)  # a permutation
        assert (boxes[batch] == boxes[batch[0]]).all()  # one box
    assert len({tuple(b) for b in boxes}) == 5
    # rand_bbox: side int(32 * sqrt(1 - lam)), centre uniform, clipped.
    x0, y0, x1, y1 = cutmix_box(np.random.default_rng(0), 32, 32, 0.75)
    assert 0 <= x0 <= x1 <= 32 and 0 <= y0 <= y1 <= 32
    assert x1 - x0 <= 16 and y1 - y0 <= 16
    areas = []
    for _ in range(4000):
        x0, y0, x1, y1 = cutmix_box(rng, 32, 32, rng.beta(1., 1.))
        areas.append((x1 - x0) * (y1 - y0))
    # E[1 - lam] = 0.5 before clipping; clipping at the border shrinks it.
    assert 0.25 < np.mean(areas) / 32 ** 2 < 0.45


def test_relabel_defaults_are_the_released_settings():
    # VILA-Lab/SRe2L relabel/relabel.sh: --min-scale-crops 0.08
    # --max-scale-crops 1 --mix-type cutmix -b 1024; utils_fkd.py /
    # generate_soft_label.py: --cutmix 1.0, torchvision's ratio 3/4-4/3.
    import inspect
    defaults = {k: v.default for k, v in
                inspect.signature(relabel).parameters.items()}
    assert defaults['scale'] == (0.08, 1.)
    assert defaults['ratio'] == (3. / 4., 4. / 3.)
    assert defaults['mix'] == 'cutmix'
    assert defaults['cutmix_alpha'] == 1.
    assert defaults['cutmix_batch_size'] == 1024
    cli = load_tool('tools/condense/relabel.py').parse_args(
        ['c', 'k', 'd', 'o', '--epochs', '1'])
    assert (cli.min_crop_scale, cli.no_cutmix, cli.cutmix_batch_size) == (
        0.08, False, 1024)


def test_relabel_without_cutmix_stores_plain_crops(recovered, teacher_ckpt,
                                                   tmp_path):
    info = relabel(TEACHER_CFG, teacher_ckpt, recovered, str(tmp_path), 1,
                   mix=None, progress=False)
    record = torch.load(epoch_file(str(tmp_path), 0), weights_only=True)
    assert 'mix_partners' not in record and record['meta']['mix'] is None
    assert info['bytes_per_epoch'] == 20 * (8 + 1 + 20)
    data = student_set(recovered, str(tmp_path))
    data.set_epoch(0)
    boxes, flips = draw_crops(0, 0, [(16, 16)] * len(data))
    want = rendered_crop(data.get_data_info(3), boxes[3], flips[3])
    assert torch.equal(data[3]['inputs'],
                       torch.from_numpy(want.copy()).permute(2, 0, 1))


def test_files_for_another_seed_are_refused(relabelled, recovered):
    with pytest.raises(CondenseError, match=r'epoch_0000.pt: seed 0 does not '
                       r'match the dataset\'s 1'):
        student_set(recovered, relabelled[0], seed=1)


def test_files_for_another_image_count_are_refused(relabelled, recovered,
                                                   tmp_path):
    fewer = tmp_path / 'fewer'
    shutil.copytree(recovered, fewer)
    os.remove(fewer / 'train' / 'bag' / 'ipc_00001.png')
    with pytest.raises(CondenseError, match='image count 20 does not match '
                       'the dataset\'s 19'):
        student_set(str(fewer), relabelled[0])


def test_files_for_another_class_count_are_refused(relabelled, recovered,
                                                   tmp_path):
    more = tmp_path / 'more'
    shutil.copytree(recovered, more)
    shutil.move(str(more / 'train' / 'bag' / 'ipc_00001.png'),
                str(more / 'train' / 'zzz.png'))
    os.makedirs(more / 'train' / 'zzz')
    shutil.move(str(more / 'train' / 'zzz.png'),
                str(more / 'train' / 'zzz' / 'ipc_00000.png'))
    with pytest.raises(CondenseError, match='class count 10 does not match '
                       'the dataset\'s 11'):
        student_set(str(more), relabelled[0])


def test_files_for_another_image_list_are_refused(relabelled, recovered,
                                                  tmp_path):
    renamed = tmp_path / 'renamed'
    shutil.copytree(recovered, renamed)
    os.rename(renamed / 'train' / 'bag' / 'ipc_00001.png',
              renamed / 'train' / 'bag' / 'other.png')
    with pytest.raises(CondenseError, match='another image list'):
        student_set(str(renamed), relabelled[0])


def test_more_student_epochs_than_relabelled_is_refused(relabelled,
                                                        recovered):
    data = student_set(recovered, relabelled[0])
    with pytest.raises(CondenseError, match='epoch_0002.pt: missing; .* '
                       'holds soft labels for 2 epochs'):
        data.set_epoch(2)


def test_crop_size_must_match_the_stored_logits(relabelled, recovered):
    with pytest.raises(CondenseError, match='logits are of 16px crops but '
                       'the pipeline\'s ReplayCrop makes 8px crops'):
        student_set(recovered, relabelled[0], size=8)


def test_missing_condensed_folder_is_reported(relabelled, tmp_path):
    with pytest.raises(CondenseError,
                       match='condensed data folder not found: .*nothing'):
        student_set(str(tmp_path / 'nothing'), relabelled[0])


def test_kl_loss_is_the_released_batchmean_kl_without_t_squared():
    # VILA-Lab/SRe2L validate/train_FKD.py: KLDivLoss(batchmean) on
    # log_softmax(s/T), softmax(t/T), T = 20 (train_FKD.sh), no T^2.
    torch.manual_seed(0)
    s, t = torch.randn(4, 10), torch.randn(4, 10) * 5
    loss = SoftLabelKLLoss()(s, t, avg_factor=4)
    want = torch.nn.KLDivLoss(reduction='batchmean')(
        torch.log_softmax(s / 20, 1), torch.softmax(t / 20, 1))
    assert SoftLabelKLLoss().temperature == 20.
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    scaled = SoftLabelKLLoss(t_squared=True)(s, t)
    assert scaled.item() == pytest.approx(400 * want.item(), rel=1e-5)
    assert SoftLabelKLLoss()(t, t).item() == pytest.approx(0., abs=1e-5)
    with pytest.raises(ValueError, match='teacher logits of shape'):
        SoftLabelKLLoss()(s, torch.zeros(4, dtype=torch.long))


def test_student_trains_on_soft_labels_with_a_runner(relabelled, recovered,
                                                     tmp_path):
    from mmeff.apis.train import build_runner
    from mmeff.engine.config import load_config
    cfg = load_config(STUDENT_CFG, {
        'train_dataloader.dataset.data_root': recovered,
        'train_dataloader.dataset.relabel_dir': relabelled[0]})
    cfg.work_dir = str(tmp_path)
    runner = build_runner(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    assert runner.iter == 8 and runner.epoch == 2  # 20 images, batch 5
    dataset = runner.train_dataloader.dataset
    assert dataset._epoch == 1  # epoch 1 served the second file
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0
    after = runner.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before
               if k.endswith('weight'))


def test_relabel_sampler_makes_every_student_batch_one_cutmix_batch(
        recovered, teacher_ckpt, tmp_path):
    from mmeff.apis.train import build_runner
    from mmeff.engine.config import load_config
    out = str(tmp_path / 'relabel')
    relabel(TEACHER_CFG, teacher_ckpt, recovered, out, 2,
            cutmix_batch_size=5, progress=False)
    data = student_set(recovered, out)
    sampler = RelabelSampler(data)
    for epoch in (0, 1):
        data.set_epoch(epoch)
        record = torch.load(epoch_file(out, epoch), weights_only=True)
        order = list(sampler)
        assert sorted(order) == list(range(20)) and len(sampler) == 20
        for start in range(0, 20, 5):  # a batch of 5 is one CutMix batch
            batch = order[start:start + 5]
            assert sorted(record['mix_partners'][batch].tolist()) == sorted(
                batch)
            assert len({tuple(record['mix_boxes'][i].tolist())
                        for i in batch}) == 1
    cfg = load_config(STUDENT_CFG, {
        'train_dataloader.dataset.data_root': recovered,
        'train_dataloader.dataset.relabel_dir': out,
        'train_dataloader.sampler': dict(_delete_=True,
                                         type='RelabelSampler')})
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    runner.train()
    assert isinstance(runner.train_dataloader.sampler, RelabelSampler)
    assert runner.iter == 8 and runner.epoch == 2


def test_relabel_sampler_needs_cutmix_files(recovered, teacher_ckpt,
                                            tmp_path):
    relabel(TEACHER_CFG, teacher_ckpt, recovered, str(tmp_path), 1,
            mix=None, progress=False)
    data = student_set(recovered, str(tmp_path))
    sampler = RelabelSampler(data)
    with pytest.raises(CondenseError, match='add .*RelabelEpochHook'):
        iter(sampler)
    data.set_epoch(0)
    with pytest.raises(CondenseError, match='stores no CutMix batches'):
        iter(sampler)


def test_student_without_the_epoch_hook_fails_clearly(relabelled, recovered):
    data = student_set(recovered, relabelled[0])
    data._record = None
    with pytest.raises(CondenseError, match='add .*RelabelEpochHook'):
        data[0]


def test_train_tool_reports_a_mismatched_relabel_folder(
        relabelled, recovered, tmp_path, capsys):
    # tools/train.py's entry point, in-process.
    from mmeff.apis import train_main
    rc = train_main([
        STUDENT_CFG, '--work-dir', str(tmp_path),
        '--cfg-options', f'train_dataloader.dataset.data_root={recovered}',
        f'train_dataloader.dataset.relabel_dir={relabelled[0]}',
        'train_dataloader.dataset.seed=7'])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2
    assert last.startswith('train: error:') and 'seed 0 does not match' in last


def test_relabel_cli_writes_files_and_refuses_bad_epochs(
        recovered, teacher_ckpt, tmp_path, capsys):
    relabel_main = load_tool('tools/condense/relabel.py').main
    rc = relabel_main([TEACHER_CFG, teacher_ckpt, recovered, str(tmp_path),
                       '--epochs', '0'])
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        'relabel: error: epochs must be a positive integer, got 0')
    assert relabel_main([TEACHER_CFG, teacher_ckpt, recovered,
                         str(tmp_path), '--epochs', '1', '--seed', '3',
                         '--no-progress']) == 0
    assert '"bytes_per_epoch": 820' in capsys.readouterr().out
    student_set(recovered, str(tmp_path), seed=3)


def test_existing_relabel_files_are_refused_unless_overwrite(
        recovered, teacher_ckpt, tmp_path, capsys):
    relabel_main = load_tool('tools/condense/relabel.py').main
    args = [TEACHER_CFG, teacher_ckpt, recovered, str(tmp_path), '--epochs',
            '1', '--no-progress']
    assert relabel_main(args + ['--seed', '3']) == 0
    first = (tmp_path / 'epoch_0000.pt').read_bytes()
    capsys.readouterr()
    assert relabel_main(args + ['--seed', '4']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('relabel: error: ')
    assert str(tmp_path) in err[0] and '--overwrite' in err[0]
    assert (tmp_path / 'epoch_0000.pt').read_bytes() == first
    assert relabel_main(args + ['--seed', '4', '--overwrite']) == 0
    student_set(recovered, str(tmp_path), seed=4)
