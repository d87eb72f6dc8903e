"""The benchmark harness: warm-up, timed repeats, medians and spread, the
environment and the JSON report."""
import json

from mmeff.apis import benchmarking as bench


class Clock:
    """A fake perf_counter advancing by the durations the calls set."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _fake_clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(bench.time, 'perf_counter', clock)
    return clock


def test_time_calls_skips_the_warm_up_and_times_each_call(monkeypatch):
    clock = _fake_clock(monkeypatch)
    durations = iter([5.0, 5.0, 1.0, 2.0, 3.0])
    calls = []

    def step():
        calls.append(1)
        clock.now += next(durations)

    synced = []
    times = bench.time_calls(step, 3, warmup=2, sync=lambda: synced.append(1))
    assert times == [1.0, 2.0, 3.0]
    assert len(calls) == 5
    assert len(synced) == 6  # before and after each timed call


def test_time_block_gives_the_mean_of_one_timed_block(monkeypatch):
    clock = _fake_clock(monkeypatch)
    durations = iter([9.0, 1.0, 2.0, 6.0])

    def step():
        clock.now += next(durations)

    synced = []
    assert bench.time_block(step, 3, warmup=1,
                            sync=lambda: synced.append(1)) == 3.0
    assert len(synced) == 2  # at the block's two ends only


def test_timed_returns_the_result_and_its_seconds(monkeypatch):
    clock = _fake_clock(monkeypatch)

    def run(x, y=1):
        clock.now += 4.0
        return x + y

    assert bench.timed(run, 2, y=3) == (5, 4.0)


def test_the_median_is_a_measured_value():
    assert bench.median([3.0, 1.0, 2.0]) == 2.0
    assert bench.median([4.0, 1.0, 3.0, 2.0]) == 3.0  # upper middle
    assert bench.spread([0.5, 0.25, 1.0], digits=2) == dict(
        median=0.5, min=0.25, max=1.0, n=3)


def test_the_report_carries_its_environment(tmp_path, capsys):
    out = tmp_path / 'report.json'
    bench.print_report(dict(images_per_s=12.5), str(out))
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed == written
    assert written['images_per_s'] == 12.5
    env = written['environment']
    assert {'host', 'cpu_count', 'python', 'torch', 'torch_threads',
            'device'} <= set(env)
    # A report that already has its environment keeps it.
    kept = bench.with_environment(dict(environment=dict(host='elsewhere')))
    assert kept['environment'] == dict(host='elsewhere')
