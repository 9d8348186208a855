import time

import reward_fns

from lit_rlvr.workers import WorkerPool


def test_scores_in_order():
    with WorkerPool(workers=2, timeout_s=10) as pool:
        outcomes = pool.map(reward_fns.length, [("a", ""), ("abc", ""), ("", ""), ("ab", "")])
    assert [o.value for o in outcomes] == [1.0, 3.0, 0.0, 2.0]
    assert {o.status for o in outcomes} == {"ok"}


def test_faults_score_zero_and_the_pool_keeps_working():
    with WorkerPool(workers=2, timeout_s=1.5, memory_limit_mb=1024) as pool:
        start = time.monotonic()
        outcomes = pool.map(reward_fns.slow, [("x", "")])
        assert time.monotonic() - start < 10
        assert outcomes[0].status == "timeout" and outcomes[0].value == 0.0
        assert pool.map(reward_fns.raises, [("x", "")])[0][1:] == ("error", "ValueError: bad reward")
        assert pool.map(reward_fns.dies, [("x", "")])[0].status == "crash"
        assert pool.map(reward_fns.hog_memory, [("x", "")])[0].status == "error"  # MemoryError
        assert [o.value for o in pool.map(reward_fns.length, [("ab", ""), ("abcd", "")])] == [2.0, 4.0]
