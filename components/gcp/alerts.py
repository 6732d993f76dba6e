"""The alert catalog of the GCP monitoring kind: what to watch, with which metric and threshold, and what to do
when it fires. Metric types, monitored resources and labels are Cloud Monitoring's
(https://cloud.google.com/monitoring/api/metrics_gcp)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from mbops.components.spec import MonitoringSpec

SAMPLE = "60s"  # alignment of the threshold alerts: a minute; they fire when sustained for thresholds.period_s
# The share of the entry's requests answered 429 by the per-IP rate limit that is worth a look: legitimate users
# behind one carrier NAT address, or an attack being held off (the spec has no threshold for it yet).
THROTTLED_SHARE = 0.01
# Memorystore evicting more keys per second than this, sustained: the working set no longer fits.
EVICTIONS_PER_S = 1.0
# How long Cloud SQL may report down before it pages: an HA failover or maintenance takes about a minute.
SQL_DOWN_FOR = "180s"


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One alert policy: a threshold on ``metric`` of ``resource`` selected by ``selector`` (a filter clause).

    ``ratio``: a clause selecting the numerator (e.g. the 5xx responses); the denominator is the same series
    without it, and ``threshold`` is then a fraction. ``todo`` is what the person paged should do.
    """

    key: str
    title: str
    resource: str
    metric: str
    selector: pulumi.Input[str]
    threshold: float
    todo: str
    comparison: str = "COMPARISON_GT"
    aligner: str = "ALIGN_MEAN"
    reducer: str = "REDUCE_SUM"
    group_by: tuple[str, ...] = ()
    ratio: str | None = None
    alignment: str = SAMPLE
    duration: str | None = None  # default: sustained for the thresholds' period_s
    missing_data_fires: bool = False  # no data at all counts as a breach (nothing running reports nothing)
    severity: str = "ERROR"

    def series(self) -> pulumi.Output[str]:
        """The filter of the alert's time series (the denominator's, for a ratio)."""
        return pulumi.Output.format('resource.type="{0}" AND metric.type="{1}" AND {2}', self.resource, self.metric,
                                    self.selector)  # fmt: skip

    def filter(self) -> pulumi.Output[str]:
        """The filter of what is compared with the threshold (the numerator, for a ratio)."""
        series = self.series()
        return series if self.ratio is None else pulumi.Output.format("{0} AND {1}", series, self.ratio)

    def aggregation(self) -> dict[str, Any]:
        return {"alignment_period": self.alignment, "per_series_aligner": self.aligner,
                "cross_series_reducer": self.reducer, "group_by_fields": list(self.group_by)}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class LogAlert:
    """An alert policy on log entries matching ``filter`` (notified at most once per ``rate_limit``)."""

    key: str
    title: str
    filter: pulumi.Input[str]
    todo: str
    severity: str = "WARNING"
    rate_limit: str = "300s"


@dataclass(kw_only=True)
class Watch:
    """What the stack has, as the alerts select it (names are known when planned where mbops sets them)."""

    stack: str
    project: str
    endpoint: pulumi.Input[str] | None = None  # the public URL (https://<domain>, the run.app URL, http://<ip>)
    health_path: str = "/healthz"
    url_map: str | None = None  # the entry load balancer's URL map
    armor_policy: pulumi.Input[str] | None = None  # the edge's Cloud Armor policy (Adaptive Protection's alerts)
    rate_limit: int = 0  # the edge's per-IP limit (requests per 5 minutes), when it has one
    cloud_run: str | None = None  # the Cloud Run service
    max_instances: int = 0
    group: str | None = None  # the servers' instance group (and its instances' label)
    min_replicas: int = 0
    sql_instance: pulumi.Input[str] | None = None  # Cloud SQL instance name
    max_connections: int = 0
    redis: str | None = None  # Memorystore instance id (projects/.../instances/...)
    firestore: str | None = None  # Firestore database id


def alerts(watch: Watch, spec: MonitoringSpec, uptime_check_id: pulumi.Input[str] | None = None) -> list[Alert]:
    """The alerts for what ``watch`` has, with ``spec.thresholds``."""
    t = spec.thresholds
    found: list[Alert] = []
    if watch.url_map:
        lb = f'resource.labels.url_map_name="{watch.url_map}"'
        found += [
            Alert(key="entry-5xx", title=f"Load balancer 5xx above {t.error_rate_pct:g}% of requests",
                  resource="https_lb_rule", metric="loadbalancing.googleapis.com/https/request_count", selector=lb,
                  ratio="metric.labels.response_code_class=500", aligner="ALIGN_RATE", threshold=t.error_rate_pct / 100,
                  todo="Requests fail at the load balancer. Check the backend's recent deploys and logs (Logs "
                       "Explorer: resource.type=\"http_load_balancer\" severity>=WARNING, statusDetails says which "
                       "side failed); roll back the last release if it started with it."),
            Alert(key="entry-throttled", title=f"Load balancer 429 above {THROTTLED_SHARE:.0%} of requests",
                  resource="https_lb_rule", metric="loadbalancing.googleapis.com/https/request_count", selector=lb,
                  ratio="metric.labels.response_code=429", aligner="ALIGN_RATE", threshold=THROTTLED_SHARE,
                  severity="WARNING",
                  todo=f"Cloud Armor's per-IP limit ({watch.rate_limit or 'edge.rate_limit'} requests per 5 minutes) "
                       "answers 429 to more requests than usual. Look at the throttled client IPs (Logs Explorer: "
                       "resource.type=\"http_load_balancer\" jsonPayload.enforcedSecurityPolicy.outcome=\"DENY\" "
                       "httpRequest.status=429): many users behind one carrier NAT address mean the limit is too "
                       "low for the app (raise components.edge.rate_limit); a few abusive addresses are the limit "
                       "working.") if watch.rate_limit else None,
            Alert(key="entry-latency", title=f"Load balancer p95 latency above {t.latency_p95_ms:g} ms",
                  resource="https_lb_rule", metric="loadbalancing.googleapis.com/https/total_latencies", selector=lb,
                  aligner="ALIGN_PERCENTILE_95", reducer="REDUCE_MAX", threshold=t.latency_p95_ms,
                  todo="Responses are slow. Look at backend latency versus total latency on the dashboard: a slow "
                       "backend points at the app or the database (CPU, connections); otherwise at clients."),
        ]  # fmt: skip
        found = [a for a in found if a is not None]
    if watch.cloud_run:
        run = f'resource.labels.service_name="{watch.cloud_run}"'
        if not watch.url_map:  # without an edge, Cloud Run is the entry
            found += [
                Alert(key="run-5xx", title=f"Cloud Run 5xx above {t.error_rate_pct:g}% of requests",
                      resource="cloud_run_revision", metric="run.googleapis.com/request_count", selector=run,
                      ratio='metric.labels.response_code_class="5xx"', aligner="ALIGN_RATE",
                      threshold=t.error_rate_pct / 100,
                      todo="The app answers with server errors. Read the service's error logs; if a new revision "
                           "started it, route traffic back to the previous revision."),
                Alert(key="run-latency", title=f"Cloud Run p95 latency above {t.latency_p95_ms:g} ms",
                      resource="cloud_run_revision", metric="run.googleapis.com/request_latencies", selector=run,
                      aligner="ALIGN_PERCENTILE_95", reducer="REDUCE_MAX", threshold=t.latency_p95_ms,
                      todo="The app is slow. Check CPU and instance count (scaling limit?), cold starts and the "
                           "data tier's load on the dashboard."),
            ]  # fmt: skip
        found += [
            Alert(key="app-cpu", title=f"Cloud Run CPU above {t.cpu_pct:g}%", resource="cloud_run_revision",
                  metric="run.googleapis.com/container/cpu/utilizations", selector=run, aligner="ALIGN_PERCENTILE_95",
                  reducer="REDUCE_MAX", threshold=t.cpu_pct / 100, severity="WARNING",
                  todo="Instances are CPU-bound. Raise app.cpu or app.max_replicas, or find the hot path in the "
                       "profiler."),
            Alert(key="app-memory", title=f"Cloud Run memory above {t.memory_pct:g}%", resource="cloud_run_revision",
                  metric="run.googleapis.com/container/memory/utilizations", selector=run,
                  aligner="ALIGN_PERCENTILE_95", reducer="REDUCE_MAX", threshold=t.memory_pct / 100, severity="WARNING",
                  todo="Instances are close to their memory limit and will be killed (OOM). Raise app.memory_mb or "
                       "look for a leak."),
            Alert(key="app-instances", title=f"Cloud Run at its maximum of {watch.max_instances} instances",
                  resource="cloud_run_revision", metric="run.googleapis.com/container/instance_count", selector=run,
                  aligner="ALIGN_MAX", comparison="COMPARISON_GT", threshold=watch.max_instances - 0.5,
                  todo="The service cannot scale further; excess requests queue and fail with 429. Raise "
                       "app.max_replicas (and check quotas) or make requests cheaper."),
        ]  # fmt: skip
    if watch.group:
        vms = f'metadata.user_labels."mbops-group"="{watch.group}"'
        found += [
            Alert(key="app-cpu", title=f"App VMs CPU above {t.cpu_pct:g}%", resource="gce_instance",
                  metric="compute.googleapis.com/instance/cpu/utilization", selector=vms, reducer="REDUCE_MEAN",
                  threshold=t.cpu_pct / 100, severity="WARNING",
                  todo="The group runs hot although it autoscales at 60%: it is at app.max_replicas or scaling is "
                       "stuck. Raise app.max_replicas or the machine size."),
            Alert(key="app-memory", title=f"App VMs memory above {t.memory_pct:g}%", resource="gce_instance",
                  metric="compute.googleapis.com/guest/memory/bytes_used", selector=vms,
                  ratio='metric.labels.state="used"', threshold=t.memory_pct / 100, severity="WARNING",
                  todo="The VMs are close to running out of memory. Raise the machine size or look for a leak."),
            Alert(key="app-instances", title=f"Fewer than {watch.min_replicas} app VMs running",
                  resource="instance_group", metric="compute.googleapis.com/instance_group/size",
                  selector=f'resource.labels.instance_group_name="{watch.group}"', comparison="COMPARISON_LT",
                  threshold=watch.min_replicas, missing_data_fires=True,
                  todo="The group is below its minimum: instances fail their health check or cannot be created "
                       "(quota, image, startup). Read the group's errors in the console and the VMs' serial port."),
        ]  # fmt: skip
    if watch.sql_instance is not None:
        db = pulumi.Output.format('resource.labels.database_id="{0}:{1}"', watch.project, watch.sql_instance)
        found += [
            Alert(key="db-cpu", title=f"Cloud SQL CPU above {t.db_cpu_pct:g}%", resource="cloudsql_database",
                  metric="cloudsql.googleapis.com/database/cpu/utilization", selector=db, reducer="REDUCE_MAX",
                  threshold=t.db_cpu_pct / 100,
                  todo="The database is CPU-bound. Find the expensive queries in Query Insights; add indexes or "
                       "raise components.database.size."),
            Alert(key="db-disk", title=f"Cloud SQL free storage below {t.db_free_storage_pct:g}%",
                  resource="cloudsql_database", metric="cloudsql.googleapis.com/database/disk/utilization",
                  selector=db, reducer="REDUCE_MAX", threshold=1 - t.db_free_storage_pct / 100,
                  todo="Storage autoresize is at components.database.max_storage_gb or cannot keep up. Raise "
                       "max_storage_gb, or delete data; a full disk stops writes."),
            Alert(key="db-up", title="Cloud SQL down", resource="cloudsql_database",
                  metric="cloudsql.googleapis.com/database/up", selector=db, aligner="ALIGN_MIN", reducer="REDUCE_MIN",
                  comparison="COMPARISON_LT", threshold=1, duration=SQL_DOWN_FOR, missing_data_fires=True,
                  severity="CRITICAL",
                  todo="The database has been down for minutes, longer than a failover or maintenance takes: the app "
                       "fails every request that needs it. Check the instance's state and operations in the console "
                       "(failover, maintenance, storage full, a stuck restart) and Cloud SQL's logs."),
            Alert(key="db-connections",
                  title=f"Cloud SQL connections above {t.db_connections_pct:g}% of {watch.max_connections}",
                  resource="cloudsql_database", metric="cloudsql.googleapis.com/database/postgresql/num_backends",
                  selector=db, threshold=watch.max_connections * t.db_connections_pct / 100,
                  todo="The database is running out of connections. Lower the app's pool size per instance, or "
                       "limit app.max_replicas; raise the size for more connections."),
        ]  # fmt: skip
    if watch.redis:
        redis = f'resource.labels.instance_id="{watch.redis}"'
        found += [
            Alert(key="cache-memory", title=f"Memorystore memory above {t.cache_memory_pct:g}%",
                  resource="redis_instance", metric="redis.googleapis.com/stats/memory/usage_ratio", selector=redis,
                  reducer="REDUCE_MAX", threshold=t.cache_memory_pct / 100, severity="WARNING",
                  todo="The cache is nearly full and will start evicting keys (allkeys-lru). Raise "
                       "components.cache.size if the hit rate drops."),
            Alert(key="cache-evictions", title=f"Memorystore evicting over {EVICTIONS_PER_S:g} keys/s",
                  resource="redis_instance", metric="redis.googleapis.com/stats/evicted_keys", selector=redis,
                  aligner="ALIGN_RATE", threshold=EVICTIONS_PER_S, severity="WARNING",
                  todo="The cache keeps evicting keys: the working set no longer fits, so more requests fall "
                       "through to the database. Raise components.cache.size, or give cached keys shorter TTLs."),
        ]  # fmt: skip
    if watch.firestore:
        found.append(Alert(
            key="docdb-throttled", title="Firestore requests throttled", resource="firestore.googleapis.com/Database",
            metric="firestore.googleapis.com/api/request_count",
            selector=f'resource.labels.database_id="{watch.firestore}" AND '
                     'metric.labels.response_code="RESOURCE_EXHAUSTED"',
            aligner="ALIGN_SUM", threshold=0, alignment=f"{t.period_s}s", duration="0s",
            todo="Firestore refused requests (RESOURCE_EXHAUSTED): a hot document or key range, or a quota. Spread "
                 "writes over more documents and ramp traffic up gradually (500/50/5).",
        ))  # fmt: skip
    if uptime_check_id is not None:
        found.append(Alert(
            key="uptime", title=f"Health check {watch.health_path} failing", resource="uptime_url",
            metric="monitoring.googleapis.com/uptime_check/check_passed",
            selector=pulumi.Output.format('metric.labels.check_id="{0}"', uptime_check_id),
            aligner="ALIGN_NEXT_OLDER", reducer="REDUCE_COUNT_FALSE", group_by=("resource.label.host",), threshold=1,
            alignment=f"{t.period_s}s", duration="60s", severity="CRITICAL",
            todo=f"The public health path does not answer 2xx from several regions: the app is down for users. "
                 f"Check the entry's 5xx alert, the app's logs and recent deploys; {watch.health_path} must answer "
                 f"without depending on optional services.",
        ))  # fmt: skip
    return found


def log_alerts(watch: Watch) -> list[LogAlert]:
    """The alerts on log entries for what ``watch`` has: Adaptive Protection's attack alerts on the edge's policy."""
    if watch.armor_policy is None:
        return []
    return [LogAlert(
        key="edge-attack", title="Cloud Armor Adaptive Protection detected a possible attack", severity="CRITICAL",
        filter=pulumi.Output.format(
            'resource.type="network_security_policy" AND resource.labels.policy_name="{0}" AND '
            'NOT log_id("cloudaudit.googleapis.com/activity") AND NOT log_id("cloudaudit.googleapis.com/data_access")',
            watch.armor_policy),
        todo="Adaptive Protection saw traffic to the app that looks like a layer-7 DDoS. Open the event in Cloud "
             "Armor's Adaptive Protection dashboard: check the attack's size and confidence against the entry's "
             "request and 5xx charts; if it is an attack, add a deny rule for its signature or sources to the "
             "edge's policy (components.edge.overrides.security_policy.rules), in preview first.",
    )]  # fmt: skip
