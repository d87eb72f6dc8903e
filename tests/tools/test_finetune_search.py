"""tools/analysis_tools/finetune_search.py tunes fine-tuning on a split of
the labelled images only, never on the held-out ones."""
import json
import shutil

from tests.helpers.tools import PYTHON, assert_ok, run_tool

TOOL = 'tools/analysis_tools/finetune_search.py'
# One epoch in batches the 30 fitting images fill.
FAST = {'max_epochs': 1, 'train_dataloader.batch_size': 10}


def test_candidates_are_scored_on_a_disjoint_split_of_the_labelled_images(
        tiny_image_folder, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(f'{tiny_image_folder}/train', root / 'train')
    out = tmp_path / 'search.json'
    assert_ok(run_tool([PYTHON, TOOL, '--data-root', str(root),
                        '--fit-per-class', '3', '--work-dir',
                        str(tmp_path / 'w'), '--out', str(out),
                        '--candidates', json.dumps(FAST),
                        json.dumps({**FAST, 'optim_wrapper.optimizer.lr': 0.01})]))
    report = json.loads(out.read_text())
    assert [c['overrides'] for c in report['candidates']] == [
        FAST, {**FAST, 'optim_wrapper.optimizer.lr': 0.01}]
    assert report['best'] in report['candidates']
    lists = {part: (root / 'search-fit3-seed0' / f'{part}.txt').read_text().split('\n')
             for part in ('fit', 'holdout')}
    fit, holdout = ({line for line in rows if line} for rows in lists.values())
    assert len(fit) == 30 and len(holdout) == 10 and not fit & holdout


def test_a_missing_labelled_split_is_one_line(tmp_path):
    result = run_tool([PYTHON, TOOL, '--data-root', str(tmp_path / 'none'),
                       '--out', str(tmp_path / 'o.json')])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        'finetune_search: error: ')
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'o.json').exists()
