"""tools/test.py as MMPretrain's: --out writes predictions, --out-item
metrics the metrics, --tta falls back to flip TTA."""
import json
import os.path as osp
import pickle

import pytest

from tests.helpers.tools import PYTHON, REPO, assert_ok, run_tool

SQUEEZE = osp.join(REPO,
                   'configs/sre2l/resnet18-cifar-w16_1xb32-squeeze-3e_fashion-mnist.py')


def small_data(root):
    """The bundled-data classifier on the 40/20-image folder, no workers."""
    return ['--cfg-options', f'data_root={root}', 'train_cfg.max_epochs=1',
            *(f'{loader}.{key}' for loader in (
                'train_dataloader', 'val_dataloader', 'test_dataloader')
              for key in (f'dataset.data_root={root}', 'num_workers=0',
                          'persistent_workers=False'))]


@pytest.fixture(scope='module')
def squeezed(tiny_image_folder, tmp_path_factory):
    work = tmp_path_factory.mktemp('squeeze')
    assert_ok(run_tool([PYTHON, 'tools/train.py', SQUEEZE, '--work-dir',
                        str(work), *small_data(tiny_image_folder)]))
    return str(work / 'epoch_1.pth')


def run_test_tool(ckpt, root, work, *flags):
    return run_tool([PYTHON, 'tools/test.py', SQUEEZE, ckpt, '--work-dir',
                     str(work), *flags, *small_data(root)])


def test_out_writes_predictions_and_out_item_metrics(squeezed,
                                                     tiny_image_folder,
                                                     tmp_path):
    preds, metrics = tmp_path / 'preds.pkl', tmp_path / 'metrics.json'
    assert_ok(run_test_tool(squeezed, tiny_image_folder, tmp_path, '--out',
                            str(preds)))
    with open(preds, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 20  # one per held-out image
    assert {'pred_label', 'pred_score', 'gt_label'} <= set(dumped[0])
    assert_ok(run_test_tool(squeezed, tiny_image_folder, tmp_path, '--out',
                            str(metrics), '--out-item', 'metrics'))
    with open(metrics) as f:
        top1 = json.load(f)['accuracy/top1']
    correct = sum(int(p['pred_label']) == int(p['gt_label']) for p in dumped)
    assert top1 == pytest.approx(100 * correct / 20)


def test_tta_without_tta_model_runs_flip_tta(squeezed, tiny_image_folder,
                                             tmp_path):
    result = run_test_tool(squeezed, tiny_image_folder, tmp_path, '--tta',
                           '--out', str(tmp_path / 'tta.pkl'))
    assert_ok(result)
    assert 'AverageClsScoreTTA' in result.stdout + result.stderr
    with open(tmp_path / 'tta.pkl', 'rb') as f:
        assert len(pickle.load(f)) == 20


def test_missing_checkpoint_is_one_line_error(tiny_image_folder, tmp_path):
    missing = str(tmp_path / 'nope.pth')
    result = run_test_tool(missing, tiny_image_folder, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == \
        f'test: error: checkpoint not found: {missing}'


def test_out_refuses_an_existing_file_unless_overwrite(squeezed,
                                                       tiny_image_folder,
                                                       tmp_path, capsys):
    from mmeff.apis import test_main
    out = tmp_path / 'preds.pkl'
    out.write_bytes(b'old bytes')
    assert test_main([SQUEEZE, squeezed, '--out', str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f'test: error: {out} already exists; pass --overwrite to replace '
        'it, or choose another output']
    assert out.read_bytes() == b'old bytes'
    assert_ok(run_test_tool(squeezed, tiny_image_folder, tmp_path, '--out',
                            str(out), '--overwrite'))
    with open(out, 'rb') as f:
        assert len(pickle.load(f)) == 20


def test_pretraining_config_without_a_test_loop_is_a_one_line_error(
        tmp_path):
    config = osp.join(
        REPO, 'configs/essl/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist_essl.py')
    result = run_tool([PYTHON, 'tools/test.py', config,
                       str(tmp_path / 'epoch_1.pth'), '--work-dir',
                       str(tmp_path / 'work')])
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    assert [line for line in result.stderr.splitlines()
            if 'error:' in line] == [
        f'test: error: {config}: no test loop (test_dataloader, test_cfg, '
        'test_evaluator not set), as in a pretraining config; test a '
        'fine-tuning or linear-probe config instead (configs/emae/benchmarks/'
        ', configs/downstream/), with the encoder exported by '
        'tools/model_converters/export_vit.py']
