"""tools/dataset_converters/bundled_data.py writes the bundled data set
(class folders and ESSL storage) without training."""
import json

from tests.helpers.tools import PYTHON, assert_ok, run_tool

TOOL = 'tools/dataset_converters/bundled_data.py'


def test_writes_class_folders_and_essl_storage(tmp_path):
    root = tmp_path / 'fmnist'
    result = run_tool([PYTHON, TOOL, '--data-root', str(root),
                       '--train-per-class', '3', '--val-per-class', '2'])
    assert_ok(result)
    assert result.stdout.strip() == (
        f'wrote {root}: train/ (30 images), val/ (20 images), train.beton, '
        'val.beton')
    for split, per_class in (('train', 3), ('val', 2)):
        folders = sorted(p for p in (root / split).iterdir())
        assert len(folders) == 10
        assert all(len(list(f.glob('*.png'))) == per_class for f in folders)
        with open(root / f'{split}.beton.meta.json') as f:
            assert json.load(f)['num_samples'] == 10 * per_class
    assert json.loads((root / 'meta.json').read_text())['train_per_class'] == 3


def test_unlabelled_pool_is_one_folder_and_its_own_essl_file(tmp_path):
    root = tmp_path / 'fmnist'
    result = run_tool([PYTHON, TOOL, '--data-root', str(root),
                       '--train-per-class', '1', '--val-per-class', '1',
                       '--num-unlabelled', '25'])
    assert_ok(result)
    assert result.stdout.strip().endswith(
        'unlabelled/ (25 images), train.beton, val.beton, unlabelled.beton')
    assert [p.name for p in (root / 'unlabelled').iterdir()] == ['images']
    assert len(list((root / 'unlabelled' / 'images').glob('*.png'))) == 25
    with open(root / 'unlabelled.beton.meta.json') as f:
        assert json.load(f)['num_samples'] == 25


def test_no_essl_writes_the_folders_only(tmp_path):
    root = tmp_path / 'fmnist'
    assert_ok(run_tool([PYTHON, TOOL, '--data-root', str(root),
                        '--train-per-class', '1', '--val-per-class', '1',
                        '--no-essl']))
    assert (root / 'train').is_dir() and not (root / 'train.beton').exists()


def test_more_images_than_the_split_holds_is_refused(tmp_path):
    result = run_tool([PYTHON, TOOL, '--data-root', str(tmp_path / 'x'),
                       '--val-per-class', '1001'])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        'bundled_data: error: --val-per-class 1001: Fashion-MNIST has 1 to '
        '1000 images per class in that split')
    assert not (tmp_path / 'x').exists()
