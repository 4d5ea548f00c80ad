import pytest

from friedel.parallel import MpParams, run_blocks, split_range


def square_sum(block):
    start, stop = block
    return sum(i * i for i in range(start, stop))


def test_split_range_covers_everything_once():
    blocks = split_range(1, 101, 7, min_size=5)
    assert blocks[0][0] == 1 and blocks[-1][1] == 101
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    assert len(split_range(0, 3, 8)) == 3 and split_range(5, 5, 2) == []


@pytest.mark.parametrize("method, nproc", [("none", 1), ("multiprocessing", 2)])
def test_results_identical_and_ordered(method, nproc):
    blocks = split_range(0, 1000, 8)
    expected = [square_sum(b) for b in blocks]
    done = []
    assert run_blocks(square_sum, blocks, MpParams(method=method, nproc=nproc), on_done=done.append) == expected
    assert sorted(done) == list(range(len(blocks)))


def test_dask_local_cluster():
    pytest.importorskip("dask.distributed")
    blocks = split_range(0, 100, 4)
    assert run_blocks(square_sum, blocks, MpParams(method="dask", nproc=2)) == [square_sum(b) for b in blocks]


def test_ctrl_c_stops_worker_processes_promptly_and_quietly(tmp_path):
    """Ctrl-C during a multi-process run ends at once: no hang, no worker tracebacks."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "slow.py"
    script.write_text(
        "import time\n"
        "from friedel.parallel import MpParams, run_blocks\n"
        "def slow(b):\n    time.sleep(60)\n    return b\n"
        "if __name__ == '__main__':\n"
        "    try:\n"
        "        run_blocks(slow, range(4), MpParams(method='multiprocessing', nproc=2))\n"
        "    except KeyboardInterrupt:\n"
        "        print('interrupted')\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # the workers are started and busy
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 15
    assert "interrupted" in out
    assert "Traceback" not in err, err
