"""GCP monitoring: notification channels, alert policies on what the stack has, an uptime check of the public
health path, a dashboard and a billing budget."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.alerts import Alert, LogAlert, Watch, alerts, log_alerts
from mbops.components.gcp.common import CRM_API, GcpArgs, GcpComponent, built, stack_args
from mbops.components.spec import MonitoringSpec
from mbops.components.wiring import APP_KINDS, BuildContext, Built

AUTO_CLOSE = "1800s"
MAX_BUDGET_CHANNELS = 5  # a budget notifies at most five Monitoring channels


@dataclass(kw_only=True)
class MonitoringArgs(GcpArgs):
    spec: MonitoringSpec = field(default_factory=MonitoringSpec)
    watch: Watch


class Monitoring(GcpComponent):
    """Cloud Monitoring for the stack, wired to the kinds it has.

    - Notification channels from ``notify``: ``email:`` (email), ``webhook:https://...`` (webhook with token
      auth); every alert notifies all of them.
    - Alert policies (thresholds from ``thresholds``; each says what to do in its documentation): the entry
      (load balancer 5xx share, 429 share from the WAF's rate limit, and p95 latency, or Cloud Run's without an
      edge), the app (Cloud Run CPU, memory, at max instances; or the VMs' CPU, memory and fewer instances than
      ``min_replicas``), Cloud SQL (down, CPU, free storage, connections against the configured limit),
      Memorystore (memory, evictions), Firestore throttling, and the uptime check; and on logs: Cloud Armor
      Adaptive Protection's attack alerts on the edge's policy (which otherwise only show in its dashboard).
    - An uptime check of the public health path (HTTPS on the domain when there is one) from several regions.
    - A dashboard with a chart per alerted metric (ratios as the share they alert on).
    - A monthly budget of ``budget_usd`` on the project (80% spent, 100% forecast) notifying the channels;
      budgets live on a billing account, so it needs ``billing_account`` (a partial gap without it).

    Self-hosted PostgreSQL has no database alerts (no Cloud SQL metrics; the VM is watched by the uptime check
    of the app only).

    Children: ``channel``, ``uptime_check``, ``alert_<key>`` (one per alert: ``alert_entry_5xx``, ...,
    ``alert_edge_attack``), ``dashboard``, ``budget_provider``, ``budget``.
    """

    kind = "monitoring"

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec, watch = args.spec, args.watch
        budget = spec.budget_usd is not None and spec.billing_account is not None
        # A budget names the project by number: read through the Cloud Resource Manager API.
        self.apis = ("monitoring.googleapis.com", *(("billingbudgets.googleapis.com", CRM_API) if budget else ()))
        super().__init__(name, args, opts)
        self.stack = args.stack
        self.channels = [self._channel(name, i, target) for i, target in enumerate(spec.notify)]
        channel_ids = [c.id for c in self.channels]
        self.uptime_check = self._uptime(name, watch) if watch.endpoint is not None else None
        check_id = self.uptime_check.uptime_check_id if self.uptime_check is not None else None
        self.alerts = {a.key: self._alert(name, a, spec, channel_ids) for a in alerts(watch, spec, check_id)}
        self.alerts.update({a.key: self._log_alert(name, a, channel_ids) for a in log_alerts(watch)})
        self.dashboard = self._dashboard(name, alerts(watch, spec), watch)
        self.budget = self._budget(name, spec, channel_ids) if spec.budget_usd is not None else None
        self.finish({"channels": channel_ids, "alerts": sorted(self.alerts)})

    def _channel(self, name: str, i: int, target: str) -> gcp.monitoring.NotificationChannel:
        """An email channel, or a webhook (its URL may carry a token: a Pulumi secret, shown only by host)."""
        scheme, _, address = target.partition(":")
        if scheme == "email":
            kind, labels, shown = "email", {"email_address": address}, address
        else:
            kind, shown = "webhook_tokenauth", urlparse(address).hostname
            labels = pulumi.Output.secret({"url": address})
        return gcp.monitoring.NotificationChannel(
            f"{name}-{scheme}-{i + 1}",
            **self.args("channel", project=self.project, type=kind, labels=labels, user_labels=self.labels,
                        display_name=f"{self.stack}: {shown}", description=f"mbops alerts of {self.stack}"),
            opts=self.opts(),
        )  # fmt: skip

    def _uptime(self, name: str, watch: Watch) -> gcp.monitoring.UptimeCheckConfig:
        url = pulumi.Output.from_input(watch.endpoint)
        https = url.apply(lambda u: urlparse(u).scheme == "https")
        return gcp.monitoring.UptimeCheckConfig(
            f"{name}-uptime-check",
            **self.args(
                "uptime_check", project=self.project, display_name=f"{watch.stack} {watch.health_path}",
                timeout="10s", period="60s", checker_type="STATIC_IP_CHECKERS", user_labels=self.labels,
                monitored_resource={"type": "uptime_url", "labels": {
                    "project_id": self.project, "host": url.apply(lambda u: urlparse(u).hostname or "")}},
                http_check={
                    "path": watch.health_path, "request_method": "GET", "use_ssl": https, "validate_ssl": https,
                    "port": https.apply(lambda s: 443 if s else 80),
                    "accepted_response_status_codes": [{"status_class": "STATUS_CLASS_2XX"}],
                },
            ),
            opts=self.opts(),
        )  # fmt: skip

    def _alert(
        self, name: str, alert: Alert, spec: MonitoringSpec, channels: Sequence[pulumi.Output[str]]
    ) -> gcp.monitoring.AlertPolicy:
        threshold: dict[str, Any] = {
            "filter": alert.filter(), "comparison": alert.comparison, "threshold_value": alert.threshold,
            "duration": alert.duration or f"{spec.thresholds.period_s}s", "aggregations": [alert.aggregation()],
            "trigger": {"count": 1},
        }  # fmt: skip
        if alert.ratio is not None:
            threshold["denominator_filter"] = alert.series()
            threshold["denominator_aggregations"] = [alert.aggregation()]
        if alert.missing_data_fires:
            threshold["evaluation_missing_data"] = "EVALUATION_MISSING_DATA_ACTIVE"
        return gcp.monitoring.AlertPolicy(
            f"{name}-{alert.key}",
            **self.args(
                f"alert_{alert.key.replace('-', '_')}", project=self.project,
                display_name=f"{self.stack}: {alert.title}",
                combiner="OR", severity=alert.severity, enabled=True, notification_channels=list(channels),
                conditions=[{"display_name": alert.title, "condition_threshold": threshold}],
                documentation={"subject": f"[{self.stack}] {alert.title}", "content": alert.todo,
                               "mime_type": "text/markdown"},
                alert_strategy={"auto_close": AUTO_CLOSE}, user_labels=self.labels,
            ),
            opts=self.opts(),
        )  # fmt: skip

    def _log_alert(
        self, name: str, alert: LogAlert, channels: Sequence[pulumi.Output[str]]
    ) -> gcp.monitoring.AlertPolicy:
        return gcp.monitoring.AlertPolicy(
            f"{name}-{alert.key}",
            **self.args(
                f"alert_{alert.key.replace('-', '_')}", project=self.project,
                display_name=f"{self.stack}: {alert.title}", combiner="OR", severity=alert.severity, enabled=True,
                notification_channels=list(channels),
                conditions=[{"display_name": alert.title, "condition_matched_log": {"filter": alert.filter}}],
                documentation={"subject": f"[{self.stack}] {alert.title}", "content": alert.todo,
                               "mime_type": "text/markdown"},
                alert_strategy={"auto_close": AUTO_CLOSE, "notification_rate_limit": {"period": alert.rate_limit}},
                user_labels=self.labels,
            ),
            opts=self.opts(),
        )  # fmt: skip

    def _dashboard(self, name: str, charted: list[Alert], watch: Watch) -> gcp.monitoring.Dashboard:
        """A chart per alert: the compared series, or for a ratio alert the share itself (numerator over
        denominator, as the alert computes it)."""
        charts = [(a.title, a.filter(), a.series() if a.ratio is not None else None, a.aggregation()) for a in charted]
        filters = pulumi.Output.all(*[f for _, f, _, _ in charts], *[d for _, _, d, _ in charts if d is not None])

        def body(resolved: list[str]) -> str:
            numerators, denominators = iter(resolved[: len(charts)]), iter(resolved[len(charts):])
            tiles = [(title, next(numerators), next(denominators) if d is not None else None, agg)
                     for title, _, d, agg in charts]  # fmt: skip
            return json.dumps(dashboard(self.stack, tiles))

        return gcp.monitoring.Dashboard(
            f"{name}-dashboard", **self.args("dashboard", project=self.project, dashboard_json=filters.apply(body)),
            opts=self.opts(),
        )  # fmt: skip

    def _budget(
        self, name: str, spec: MonitoringSpec, channels: Sequence[pulumi.Output[str]]
    ) -> gcp.billing.Budget | None:
        if spec.billing_account is None:
            self.declare_gap(
                f"budget_usd: {spec.budget_usd:g}: a GCP budget belongs to a billing account, and the stack names none",
                "set components.monitoring.billing_account (XXXXXX-XXXXXX-XXXXXX, from `gcloud billing "
                "projects describe <project>`); the deployer needs roles/billing.costsManager on it",
            )
            return None
        number = gcp.organizations.get_project_output(project_id=self.project, opts=self.invoke_opts()).number
        # The Budget API bills its quota to a project: the deployer's credentials may have none of their own.
        provider = gcp.Provider(
            f"{name}-budget-provider",
            **self.args("budget_provider", project=self.project, user_project_override=True,
                        billing_project=self.project),
            opts=self.opts(),
        )  # fmt: skip
        return gcp.billing.Budget(
            f"{name}-budget",
            **self.args(
                "budget", billing_account=spec.billing_account, display_name=f"mbops {self.stack}",
                budget_filter={"projects": [number.apply(lambda n: f"projects/{n}")], "calendar_period": "MONTH"},
                amount={"specified_amount": {"currency_code": "USD", "units": str(int(spec.budget_usd or 0))}},
                threshold_rules=[{"threshold_percent": 0.8, "spend_basis": "CURRENT_SPEND"},
                                 {"threshold_percent": 1.0, "spend_basis": "FORECASTED_SPEND"}],
                all_updates_rule={"monitoring_notification_channels": list(channels)[:MAX_BUDGET_CHANNELS],
                                  "disable_default_iam_recipients": False},
            ),
            opts=self.opts(provider=provider),
        )  # fmt: skip


def dashboard(stack: str, charts: list[tuple[str, str, str | None, dict[str, Any]]]) -> dict[str, Any]:
    """A Cloud Monitoring dashboard (mosaic layout, two charts a row) of ``(title, filter, denominator filter or
    None, aggregation)``: a chart with a denominator plots the ratio (``timeSeriesFilterRatio``)."""

    def aggregation(a: dict[str, Any]) -> dict[str, Any]:
        return {"alignmentPeriod": a["alignment_period"], "perSeriesAligner": a["per_series_aligner"],
                "crossSeriesReducer": a["cross_series_reducer"], "groupByFields": a["group_by_fields"]}  # fmt: skip

    def query(flt: str, denominator: str | None, agg: dict[str, Any]) -> dict[str, Any]:
        if denominator is None:
            return {"timeSeriesFilter": {"filter": flt, "aggregation": aggregation(agg)}}
        return {"timeSeriesFilterRatio": {"numerator": {"filter": flt, "aggregation": aggregation(agg)},
                                          "denominator": {"filter": denominator, "aggregation": aggregation(agg)}}}

    tiles = [
        {"xPos": 6 * (i % 2), "yPos": 4 * (i // 2), "width": 6, "height": 4,
         "widget": {"title": title, "xyChart": {"dataSets": [{"plotType": "LINE", "timeSeriesQuery":
                                                              query(flt, denominator, agg)}]}}}
        for i, (title, flt, denominator, agg) in enumerate(charts)
    ]  # fmt: skip
    return {"displayName": f"mbops {stack}", "mosaicLayout": {"columns": 12, "tiles": tiles}}


def watch_of(ctx: BuildContext) -> Watch:
    """What the stack built that the monitoring watches."""
    stack, built_kinds = ctx.stack, ctx.built
    app_kind = next((kind for kind in APP_KINDS if kind in built_kinds), None)
    if app_kind is None:  # the stack wiring builds the app before the monitoring
        raise RuntimeError(f"the gcp monitoring kind was built before the app ({', '.join(APP_KINDS)}): it watches it")
    app = ctx.component(app_kind)
    entry = built_kinds["edge"] if "edge" in built_kinds else built_kinds[app_kind]
    front = ctx.component("edge").frontend if "edge" in built_kinds else getattr(app, "frontend", None)
    watch = Watch(
        stack=stack.physical_name, project=stack.project or "", endpoint=entry.outputs.get("endpoint"),
        health_path=stack.app.health_path, url_map=front.url_map_name if front is not None else None,
    )  # fmt: skip
    if "edge" in built_kinds:
        edge = ctx.component("edge")
        if edge.security_policy_name is not None:
            watch.armor_policy = edge.security_policy_name
            watch.rate_limit = stack.specs["edge"].rate_limit
    if app_kind == "servers":
        watch.group, watch.min_replicas = app.group_name, app.min_replicas
    else:
        watch.cloud_run, watch.max_instances = app.service_name, app.max_instances
    if "database" in built_kinds and ctx.component("database").instance_name is not None:
        database = ctx.component("database")
        watch.sql_instance, watch.max_connections = database.instance_name, database.max_connections
    if "cache" in built_kinds:
        watch.redis = ctx.component("cache").instance_id
    if "docdb" in built_kinds:
        watch.firestore = ctx.component("docdb").database_id
    return watch


def build(ctx: BuildContext) -> Built:
    """Alerts, uptime check, dashboard and budget for what the stack has, sent to ``notify``."""
    monitoring = Monitoring(
        ctx.name, MonitoringArgs(spec=ctx.spec, watch=watch_of(ctx), **stack_args(ctx.stack))
    )
    return built(monitoring)
