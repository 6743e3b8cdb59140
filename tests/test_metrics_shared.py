"""How the counts and state values of several workers sharing a metrics folder combine."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict

from acl_service.api.metrics import STALE_AFTER_SECONDS, Metrics


def exposition(metrics: Metrics, values: dict[str, float]) -> set[str]:
    return set(metrics.render(values).splitlines())


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Metrics, Metrics]]:
    """Two workers' metrics on one shared folder, as `serve` gives them."""
    first, second = Metrics(tmp_path), Metrics(tmp_path)
    yield first, second
    first.close()
    second.close()


def test_counts_add_up_over_the_workers_and_a_worker_alone_counts_only_its_own(
    workers: tuple[Metrics, Metrics],
) -> None:
    first, second = workers
    alone = Metrics()
    for metrics in (first, second, alone):
        metrics.count_request("/v1/check", 200)
        metrics.count_decisions("check", allowed=2, denied=1)
        metrics.observe_seconds(0.0003)
    second.count_request("/v1/check", 200)
    second.observe_seconds(5.0)

    for answering in (first, second):
        lines = exposition(answering, {})
        assert 'acl_requests_total{endpoint="/v1/check",status="200"} 3' in lines
        assert 'acl_decisions_total{endpoint="check",allowed="true"} 4' in lines
        assert 'acl_decisions_total{endpoint="check",allowed="false"} 2' in lines
        assert 'acl_decision_seconds_bucket{le="0.0005"} 2' in lines
        assert 'acl_decision_seconds_bucket{le="+Inf"} 3' in lines
        assert "acl_decision_seconds_count 3" in lines
    assert 'acl_requests_total{endpoint="/v1/check",status="200"} 1' in exposition(alone, {})


def test_state_values_combine_over_live_workers_only(
    workers: tuple[Metrics, Metrics], tmp_path: Path
) -> None:
    first, second = workers
    first.publish({"acl_applied_revision": 7, "acl_fact_index_rows": 100, "acl_listener_connected": 1})
    # A worker that stopped publishing (killed) is left out once its values are stale.
    gone = MmapedDict(str(tmp_path / "gone.db"))  # type: ignore[no-untyped-call]
    stale = time.time() - STALE_AFTER_SECONDS - 1
    gone.write_value('["acl_fact_index_rows", []]', 1000.0, stale)  # type: ignore[no-untyped-call]
    gone.close()  # type: ignore[no-untyped-call]

    lines = exposition(
        second, {"acl_applied_revision": 5, "acl_fact_index_rows": 30, "acl_listener_connected": 1}
    )
    # The revision every worker has applied; rows held by all of them.
    assert "acl_applied_revision 5" in lines
    assert "acl_fact_index_rows 130" in lines
    assert "acl_listener_connected 1" in lines

    first.publish({"acl_applied_revision": 7, "acl_fact_index_rows": 100, "acl_listener_connected": 0})
    assert "acl_listener_connected 0" in exposition(second, {"acl_listener_connected": 1})
