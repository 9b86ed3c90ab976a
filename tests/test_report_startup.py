"""`qualibench report`'s start-up: the chart process is forked before the heavy imports."""

from __future__ import annotations

import subprocess
import sys

from qualibench.report.chart_worker import ChartWorker

HEAVY = ("pandas", "sqlmodel", "sqlalchemy", "jinja2", "matplotlib", "babel")


def test_the_chart_worker_loads_without_the_database_layer_pandas_or_jinja():
    # What `qualibench report` imports before it forks its chart process: a child forked later
    # than these imports would leave the other core idle while they load.
    code = ("import sys, qualibench.report.chart_worker, qualibench.cli.report; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert res.stdout.split() == []


def test_an_early_chart_process_draws_any_report_and_marks_a_large_one():
    worker = ChartWorker.early()
    if not worker.forked:  # another thread runs here (a PostgreSQL test run): in line, as start() would
        assert not ChartWorker.start(10**9).forked
        return
    # a small report keeps it too (its matplotlib is loading already), but only a large one
    # makes the report fork its other processes
    assert not worker.sized(ChartWorker.FORK_FROM_TESTS - 1).large and worker.forked
    assert worker.sized(ChartWorker.FORK_FROM_TESTS).large
    child = worker._proc
    worker.close()  # never given work: stopped at once, not left importing matplotlib
    assert not worker.forked and not child.is_alive()
    assert not ChartWorker.start(ChartWorker.FORK_FROM_TESTS - 1).forked  # the library's small report: in line


def test_bootstrap_weights_drawn_ahead_by_the_chart_process_give_the_same_replicates(finished):
    import numpy as np

    from qualibench.analytics import analyse
    from qualibench.report.document import _bootstrap_plan
    from qualibench.resampling import cell_weights

    ws, cid = finished
    plain = analyse(ws, cid)
    worker = ChartWorker.early()
    forked = worker.forked
    with ws.session() as s:
        seed, b, cells = _bootstrap_plan(s, cid)
    worker.weights_ahead(seed, b, cells)
    taken: dict = {}

    def take(seed_, b_):
        taken.update(worker.take_weights(seed_, b_))
        return taken

    ahead = analyse(ws, cid, weights_ahead=take)
    worker.close()
    assert plain.samples.keys() == ahead.samples.keys()
    assert all(np.array_equal(plain.samples[k], ahead.samples[k], equal_nan=True) for k in plain.samples)
    if forked:  # (not on a PostgreSQL run's threads) every cell came from the other process
        assert sorted(taken) == sorted(cells) and len(cells) == 12 * 3
        bk, ch, n = cells[0]
        assert np.array_equal(taken[bk, ch, n], cell_weights(seed, bk, ch, n, b))


def test_pyarrow_stays_loadable_for_a_previous_edition_and_in_a_test_runners_app():
    # `qualibench report` alone in its process and without --previous runs as if the Parquet
    # extra were absent (test_report checks the console script); a previous edition may be a
    # Parquet export, and an app invoked by a test runner shares its process with other work.
    code = ("import sys; from qualibench.cli.common import state; "
            "from qualibench.cli.report import _without_parquet_support; "
            "_without_parquet_support(None); "  # state.whole_process is False: a test runner's app
            "state.whole_process = True; _without_parquet_support('last-year/brands.parquet'); "
            "import pandas.compat.pyarrow as pa; print(pa.PYARROW_INSTALLED)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert res.stdout.split() == ["True"]
