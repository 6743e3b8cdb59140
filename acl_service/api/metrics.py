"""`GET /metrics` (SPEC §5.5): Prometheus text exposition of the service's counters and gauges.

Counters live in one `Metrics` object on the app's state (created on first use), never in module
globals, so two apps in one process (tests, two instances on one database) count separately.
Requests are counted by a `before_send` hook as their status line leaves, so errors raised anywhere
are counted with the status they were answered with.
"""

import bisect
from typing import Any, Final

from litestar import Controller, MediaType, Request, get
from litestar.datastructures import State
from litestar.types import Message, Scope

from acl_service.api.state import AppState

STATE_KEY: Final = "acl_metrics"
# Decision latencies of interest sit between a tenth of a millisecond and a few hundred milliseconds.
BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
UNMATCHED: Final = "unmatched"


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.decisions: dict[tuple[str, bool], int] = {}
        self.bucket_counts = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.seconds_sum = 0.0
        self.seconds_count = 0

    def count_request(self, endpoint: str, status: int) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1

    def count_decisions(self, endpoint: str, allowed: int, denied: int) -> None:
        if allowed:
            self.decisions[(endpoint, True)] = self.decisions.get((endpoint, True), 0) + allowed
        if denied:
            self.decisions[(endpoint, False)] = self.decisions.get((endpoint, False), 0) + denied

    def observe_seconds(self, seconds: float) -> None:
        self.bucket_counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.seconds_sum += seconds
        self.seconds_count += 1

    def render(self, state: AppState | None, memo_hits: int = 0) -> str:
        lines = [
            "# HELP acl_requests_total HTTP requests answered, by endpoint and status.",
            "# TYPE acl_requests_total counter",
        ]
        for (endpoint, status), count in sorted(self.requests.items()):
            lines.append(f'acl_requests_total{{endpoint="{_label(endpoint)}",status="{status}"}} {count}')
        lines += [
            "# HELP acl_decisions_total Decisions answered by the decision API, by endpoint and outcome.",
            "# TYPE acl_decisions_total counter",
        ]
        for (endpoint, allowed), count in sorted(self.decisions.items()):
            verdict = "true" if allowed else "false"
            lines.append(f'acl_decisions_total{{endpoint="{_label(endpoint)}",allowed="{verdict}"}} {count}')
        lines += [
            "# HELP acl_decision_seconds Time to decide one decision-API request (a batch counts once).",
            "# TYPE acl_decision_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip((*BUCKETS, None), self.bucket_counts, strict=True):
            cumulative += count
            le = "+Inf" if bound is None else repr(bound)
            lines.append(f'acl_decision_seconds_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"acl_decision_seconds_sum {self.seconds_sum!r}")
        lines.append(f"acl_decision_seconds_count {self.seconds_count}")
        if state is not None:
            lines += _gauges(state, memo_hits)
        return "\n".join(lines) + "\n"


def _gauges(state: AppState, memo_hits: int) -> list[str]:
    cache = state.engine.cache_stats()
    stats = state.index.stats()
    values: list[tuple[str, str, str, int]] = [
        ("acl_decision_cache_hits_total", "counter", "Decisions answered from a memo (answers or policy).",
         cache.hits + memo_hits),
        ("acl_applied_revision", "gauge", "Highest revision fully applied by this instance.",
         stats.applied_revision),
        ("acl_organizations_loaded", "gauge", "Organizations held in the fact index.",
         stats.organizations_loaded),
        ("acl_fact_index_rows", "gauge", "Fact rows held in the fact index.", stats.rows),
        ("acl_listener_connected", "gauge", "1 while the change listener is connected.",
         int(stats.listener_connected)),
    ]  # fmt: skip
    lines = []
    for name, kind, text, value in values:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return lines


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_of(state: State) -> Metrics:
    found = state.get(STATE_KEY)
    if found is None:
        found = Metrics()
        state[STATE_KEY] = found
    assert isinstance(found, Metrics)
    return found


async def count_request(message: Message, scope: Scope) -> None:
    """`before_send` hook: count each response under its route template and status."""
    if message["type"] != "http.response.start":
        return
    app: Any = scope.get("litestar_app")
    if app is None:
        return
    endpoint = str(scope.get("path_template") or UNMATCHED)
    metrics_of(app.state).count_request(endpoint, message["status"])


class MetricsController(Controller):
    tags = ["operations"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get("/metrics", media_type=MediaType.TEXT, sync_to_thread=False)
    def metrics(self, request: Request[Any, Any, State]) -> str:
        """Prometheus metrics.

        Request, decision and fact-index counters and gauges of this instance in the Prometheus text
        format (SPEC §5.5).
        """
        state = request.app.state
        app_state: AppState | None = state.get("acl")
        # The decision API's answer memo, once it exists (see acl_service.api.decisions).
        decider = state.get("acl_decider")
        return metrics_of(state).render(app_state, getattr(decider, "memo_hits", 0))
