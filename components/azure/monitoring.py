"""Azure monitoring: an action group, metric alerts on what the stack has, logs into Log Analytics, an
availability test of the health path, flow logs and a budget.

Wired to the kinds the stack built (``ctx.built``): the entry (Front Door with an edge, else the app's own
load balancer or Container App), the app (Container Apps or the VM scale set), PostgreSQL, Redis, Cosmos DB,
Key Vault, storage, the registry. Every alert's description says what to do when it fires.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_azure_native import applicationinsights, consumption, monitor, network, storage

from mbops.components.azure.common import AzureComponent, AzureContext, storage_encryption
from mbops.components.spec import MonitoringSpec
from mbops.components.wiring import APP_KINDS, BuildContext, Built

# Web test locations (Application Insights availability test regions): US east and central, Europe, Asia.
TEST_LOCATIONS = ("us-va-ash-azr", "us-il-ch1-azr", "emea-nl-ams-azr", "emea-gb-db3-azr", "apac-sg-sin-azr")
# PostgreSQL Flexible Server's default max_connections per SKU (for the connections-percent alert).
PG_MAX_CONNECTIONS = {"Standard_B1ms": 50, "Standard_D2ds_v5": 859, "Standard_D4ds_v5": 1719}
NETWORK_WATCHER_GROUP = "NetworkWatcherRG"  # where Azure creates each region's network watcher by default
# Azure portal metric chart aggregation codes (MonitorChartPart).
AGGREGATION_TYPES = {"Total": 1, "Minimum": 2, "Maximum": 3, "Average": 4, "Count": 7}


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One metric alert: a metric of one resource against a threshold."""

    key: str
    scope: pulumi.Input[str]
    namespace: str
    metric: str
    operator: str
    threshold: float
    aggregation: str
    description: str
    severity: int = 2
    dimensions: tuple[tuple[str, pulumi.Input[str] | list[pulumi.Input[str]]], ...] = ()  # name, value(s)
    window_s: int | None = None  # the evaluation window (default: thresholds.period_s)


@dataclass(kw_only=True)
class Watched:
    """What the stack has that monitoring watches (each ``None`` when the stack lacks it)."""

    workspace: Any
    url: pulumi.Input[str]
    health_path: str
    app_kind: str
    app: Any
    min_replicas: int
    front_door: Any = None  # the Front Door profile of the edge (or the CDN)
    entry_host: pulumi.Input[str] | None = None  # the entry's Front Door endpoint host (the profile may be shared)
    entry_domain: str | None = None  # the custom domain on that endpoint (prod's `domain:`)
    entry_origin_group: str = "app"  # the entry's origin group on that profile
    database: Any = None
    database_sku: str | None = None
    cache: Any = None
    docdb: Any = None
    vault: Any = None
    storage: Any = None
    registry: Any = None
    vnet: Any = None


@dataclass(kw_only=True)
class MonitoringArgs:
    ctx: AzureContext
    watched: Watched
    spec: MonitoringSpec = field(default_factory=MonitoringSpec)


def window(seconds: int) -> str:
    """An ISO 8601 duration of whole minutes, as metric alerts take it (PT5M, PT1H)."""
    minutes = max(1, seconds // 60)
    return f"PT{minutes // 60}H" if minutes % 60 == 0 else f"PT{minutes}M"


def alerts(w: Watched, spec: MonitoringSpec) -> list[Alert]:
    """The alerts for what the stack has, with ``spec.thresholds``."""
    t = spec.thresholds
    found: list[Alert] = []
    # With diagnostic settings (resource-specific mode) the Container Apps tables carry no _CL suffix.
    logs = "Syslog" if w.app_kind == "servers" else "ContainerAppConsoleLogs"
    if w.front_door is not None:
        fd, ns = w.front_door.id, "Microsoft.Cdn/profiles"
        # The Endpoint dimension is matched on the endpoint's azurefd.net host and on its custom domain, so the
        # filter holds whichever host Front Door reports for a request that came in on the domain.
        hosts = [h for h in (w.entry_host, w.entry_domain) if h is not None]
        endpoint = (("Endpoint", hosts),) if hosts else ()
        found += [
            Alert(key="entry-5xx", scope=fd, namespace=ns, metric="Percentage5XX", operator="GreaterThan",
                  threshold=t.error_rate_pct, aggregation="Average", severity=1, dimensions=endpoint,
                  description=f"More than {t.error_rate_pct:g}% of the app's requests at Front Door end in 5xx. "
                  f"Check the app's logs ({logs}) and its last deployment; roll back if it started with a "
                  "release."),
            Alert(key="entry-latency", scope=fd, namespace=ns, metric="TotalLatency", operator="GreaterThan",
                  threshold=t.latency_p95_ms, aggregation="Average", dimensions=endpoint,
                  description=f"Average Front Door latency of the app is above {t.latency_p95_ms:g} ms (Azure "
                  "metrics have no percentile; the p95 is in the FrontDoorAccessLog table). Look for a slow "
                  "dependency (database CPU, cache) or scale the app out."),
            Alert(key="entry-origin-health", scope=fd, namespace=ns, metric="OriginHealthPercentage",
                  operator="LessThan", threshold=90, aggregation="Average", severity=1,
                  dimensions=(("OriginGroup", w.entry_origin_group),),
                  description="Fewer than 90% of Front Door's health probes find the app healthy on its health "
                  "path. Check the app's replicas or instances and the health path's answer; the Private Link "
                  "connection must be Approved."),
        ]  # fmt: skip
    if w.app_kind == "servers":
        vmss, ns = w.app.scale_set.id, "Microsoft.Compute/virtualMachineScaleSets"
        lb, lbns = w.app.load_balancer.id, "Microsoft.Network/loadBalancers"
        found += [
            Alert(key="app-cpu", scope=vmss, namespace=ns, metric="Percentage CPU", operator="GreaterThan",
                  threshold=t.cpu_pct, aggregation="Average",
                  description=f"App VMs average above {t.cpu_pct:g}% CPU. Autoscale adds instances up to "
                  "max_replicas: raise max_replicas or the VM size if it stays there."),
            Alert(key="app-memory", scope=vmss, namespace=ns, metric="Available Memory Percentage",
                  operator="LessThan", threshold=100 - t.memory_pct, aggregation="Average",
                  description=f"App VMs have less than {100 - t.memory_pct:g}% memory free. Look for a leak in "
                  "the app (Syslog) or raise the VM size (components.servers.size)."),
            # A rolling or OS upgrade takes up to a third of the VMs out for minutes: these fire on more than that,
            # sustained over 15 minutes.
            Alert(key="app-instances", scope=vmss, namespace=ns, metric="VmAvailabilityMetric",
                  operator="LessThan", threshold=0.6, aggregation="Average", window_s=900,
                  description="Over 40% of the app VMs have been unavailable for 15 minutes, more than an upgrade "
                  "batch. Automatic repairs replace failed VMs after 15 minutes; check boot diagnostics and "
                  "`az vmss get-instance-view` if they do not come back."),
            Alert(key="app-unhealthy", scope=lb, namespace=lbns, metric="DipAvailability", operator="LessThan",
                  threshold=60, aggregation="Average", severity=1, window_s=900,
                  description="The load balancer's health probe has failed on over 40% of the app VMs for 15 "
                  "minutes. Check the mbops-app service on them (az vmss run-command invoke ... --scripts "
                  "'journalctl -u mbops-app -n 50') and the app's logs in Syslog; a bad release stops its own "
                  "rolling upgrade (mbops-deploy)."),
        ]  # fmt: skip
    else:
        app, ns = w.app.app.id, "Microsoft.App/containerApps"
        found += [
            Alert(key="app-cpu", scope=app, namespace=ns, metric="CpuPercentage", operator="GreaterThan",
                  threshold=t.cpu_pct, aggregation="Average",
                  description=f"App replicas average above {t.cpu_pct:g}% of their CPU. Raise app.cpu or "
                  "max_replicas if it stays there."),
            Alert(key="app-memory", scope=app, namespace=ns, metric="MemoryPercentage", operator="GreaterThan",
                  threshold=t.memory_pct, aggregation="Average",
                  description=f"App replicas use more than {t.memory_pct:g}% of their memory. Look for a leak "
                  "(ContainerAppConsoleLogs) or raise app.memory_mb."),
            Alert(key="app-restarts", scope=app, namespace=ns, metric="RestartCount", operator="GreaterThan",
                  threshold=2, aggregation="Total",
                  description="App replicas restarted more than twice in the window (failed probes or crashes). "
                  "Read ContainerAppSystemLogs for the probe failures and ContainerAppConsoleLogs for the app's "
                  "last lines."),
        ]  # fmt: skip
        if w.min_replicas > 0:
            found.append(Alert(
                key="app-replicas", scope=app, namespace=ns, metric="Replicas", operator="LessThan",
                threshold=w.min_replicas, aggregation="Minimum", severity=1,
                description=f"Fewer than {w.min_replicas} app replicas run. A revision may fail to provision: "
                "read ContainerAppSystemLogs (image pull, Key Vault references, probes).",
            ))  # fmt: skip
        if w.front_door is None:
            found.append(Alert(
                key="app-5xx", scope=app, namespace=ns, metric="Requests", operator="GreaterThan", threshold=10,
                aggregation="Total", severity=1, dimensions=(("statusCodeCategory", "5xx"),),
                description="The app answers 5xx. Check ContainerAppConsoleLogs and the last revision.",
            ))  # fmt: skip
    if w.database is not None:
        db, ns = w.database.id, "Microsoft.DBforPostgreSQL/flexibleServers"
        limit = PG_MAX_CONNECTIONS.get(w.database_sku or "", 50)
        found += [
            Alert(key="db-alive", scope=db, namespace=ns, metric="is_db_alive", operator="LessThan", threshold=1,
                  aggregation="Minimum", severity=1, window_s=300,
                  description="PostgreSQL does not answer. Check the server's state and Resource Health in the "
                  "portal (a failover or maintenance shows there) and PostgreSQLLogs; the app's health path "
                  "fails until it is back."),
            Alert(key="db-cpu", scope=db, namespace=ns, metric="cpu_percent", operator="GreaterThan",
                  threshold=t.db_cpu_pct, aggregation="Average",
                  description=f"PostgreSQL above {t.db_cpu_pct:g}% CPU. Find the slow queries (Query Store, "
                  "PostgreSQLLogs) or raise components.database.size."),
            Alert(key="db-storage", scope=db, namespace=ns, metric="storage_percent", operator="GreaterThan",
                  threshold=100 - t.db_free_storage_pct, aggregation="Average", severity=1,
                  description=f"PostgreSQL storage is more than {100 - t.db_free_storage_pct:g}% used. Storage "
                  "auto-grows; check that growth is expected and raise storage_gb."),
            Alert(key="db-connections", scope=db, namespace=ns, metric="active_connections",
                  operator="GreaterThan", threshold=round(limit * t.db_connections_pct / 100), aggregation="Maximum",
                  description=f"PostgreSQL connections above {t.db_connections_pct:g}% of max_connections "
                  f"({limit}). Look for connection leaks or add a pooler (PgBouncer: server parameter "
                  "pgbouncer.enabled)."),
        ]  # fmt: skip
    if w.cache is not None:
        redis, ns = w.cache.cluster.id, "Microsoft.Cache/redisEnterprise"
        found += [
            Alert(key="cache-memory", scope=redis, namespace=ns, metric="usedmemorypercentage",
                  operator="GreaterThan", threshold=t.cache_memory_pct, aggregation="Maximum",
                  description=f"Redis uses more than {t.cache_memory_pct:g}% of its memory. Keys without a TTL "
                  "are never evicted (volatile-lru): add TTLs or raise components.cache.size."),
            Alert(key="cache-evictions", scope=redis, namespace=ns, metric="evictedkeys", operator="GreaterThan",
                  threshold=0, aggregation="Total", severity=3,
                  description="Redis evicts keys: the cache is full. Raise components.cache.size if hit rates drop."),
        ]  # fmt: skip
    if w.docdb is not None:
        found.append(Alert(
            key="docdb-throttles", scope=w.docdb.account.id, namespace="Microsoft.DocumentDB/databaseAccounts",
            metric="TotalRequests", operator="GreaterThan", threshold=10, aggregation="Count",
            dimensions=(("StatusCode", "429"),),
            description="Cosmos DB throttles requests (429). Serverless accounts cap request units per "
            "partition: spread the partition key (/pk) or move to provisioned throughput.",
        ))  # fmt: skip
    return found


class Monitoring(AzureComponent):
    """Action group (``notify``), metric alerts (``alerts``), Application Insights (workspace-based) with a
    standard availability test of the public health path, diagnostic settings into the app's Log Analytics
    workspace for every data service (PostgreSQL, Redis, Cosmos DB, storage), Key Vault's audit log, the
    registry and Front Door, VNet flow logs with traffic analytics (the successor of NSG flow logs, which
    Azure no longer creates), and a monthly budget on the resource group (``budget_usd``: 80% actual, 100%
    forecast), and a portal dashboard charting every metric the alerts watch.
    Children: ``action_group``, ``alert_<key>``, ``dashboard``, ``app_insights``, ``health_test``,
    ``alert_health``, ``diagnostics_<what>``, ``flow_log_storage``, ``flow_log_identity``, ``flow_log_writer``,
    ``flow_log``, ``budget``.
    """

    kind = "monitoring"

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec, w = args.ctx, args.spec, args.watched
        self.action_group = monitor.ActionGroup(
            f"{name}-action-group",
            **self.args(
                "action_group",
                resource_group_name=ctx.resource_group_name, action_group_name=ctx.name("ag", 260, unique=False),
                group_short_name=f"mbops{ctx.suffix}"[:12], location="Global", enabled=True, tags=dict(self.tags),
                email_receivers=[
                    monitor.MicrosoftCommonEmailReceiverArgs(name=f"email-{i}", email_address=t[6:],
                                                             use_common_alert_schema=True)
                    for i, t in enumerate(spec.notify) if t.startswith("email:")
                ],
                webhook_receivers=[
                    monitor.WebhookReceiverArgs(name=f"webhook-{i}", service_uri=t[8:], use_common_alert_schema=True)
                    for i, t in enumerate(spec.notify) if t.startswith("webhook:")
                ],
            ),
            opts=self.opts(),
        )  # fmt: skip
        if not spec.notify:
            pulumi.log.warn("components.monitoring.notify: no target; alerts fire into an action group nobody reads")
        found = alerts(w, spec)
        for alert in found:
            self._alert(name, alert, spec.thresholds.period_s)
        self._insights(name, w)
        self._dashboard(name, found)
        self._diagnostics(name, w)
        if w.vnet is not None:
            self._flow_logs(name, w)
        if spec.budget_usd is not None:
            self._budget(name, spec)
        self.finish({"action_group": self.action_group.id})

    def _alert(self, name: str, alert: Alert, period_s: int) -> None:
        ctx = self.ctx
        monitor.MetricAlert(
            f"{name}-{alert.key}",
            **self.args(
                f"alert_{alert.key.replace('-', '_')}",
                resource_group_name=ctx.resource_group_name,
                rule_name=ctx.name(f"alert-{alert.key}", 260, unique=False), location="global",
                tags=dict(self.tags), description=alert.description, severity=alert.severity, enabled=True,
                scopes=[alert.scope], evaluation_frequency="PT1M", window_size=window(alert.window_s or period_s),
                auto_mitigate=True,
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    all_of=[monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion", name=alert.key, metric_name=alert.metric,
                        metric_namespace=alert.namespace, operator=alert.operator, threshold=alert.threshold,
                        time_aggregation=alert.aggregation,
                        dimensions=[monitor.MetricDimensionArgs(
                            name=d, operator="Include", values=v if isinstance(v, list) else [v],
                        ) for d, v in alert.dimensions],
                    )],
                ),
                actions=[monitor.MetricAlertActionArgs(action_group_id=self.action_group.id)],
            ),
            opts=self.opts(),
        )  # fmt: skip

    def _dashboard(self, name: str, found: list[Alert]) -> None:
        """A portal dashboard with a chart of each metric the alerts watch (the last 24 hours), two per row."""
        from pulumi_azure_native import portal

        charts, seen = [], set()
        for alert in found:
            if (alert.namespace, alert.metric) in seen:
                continue
            seen.add((alert.namespace, alert.metric))
            chart = {
                "metrics": [{
                    "resourceMetadata": {"id": alert.scope}, "name": alert.metric, "namespace": alert.namespace,
                    "aggregationType": AGGREGATION_TYPES[alert.aggregation],
                    "metricVisualization": {"displayName": alert.metric},
                }],
                "title": f"{alert.metric} ({alert.aggregation.lower()})",
                "timespan": {"relative": {"duration": 24 * 3600 * 1000}, "showUTCTime": False, "grain": 1},
                "visualization": {"chartType": 2, "legendVisualization": {"isVisible": True, "position": 2}},
            }  # fmt: skip
            index = len(charts)
            charts.append(portal.DashboardPartsArgs(
                position=portal.DashboardPartsPositionArgs(x=6 * (index % 2), y=4 * (index // 2), col_span=6,
                                                           row_span=4),
                metadata=portal.DashboardPartMetadataArgs(
                    type="Extension/HubsExtension/PartType/MonitorChartPart",
                    inputs=[{"name": "options", "value": {"chart": chart}},
                            {"name": "sharedTimeRange", "isOptional": True}],
                ),
            ))  # fmt: skip
        ctx = self.ctx
        self.dashboard = portal.Dashboard(
            f"{name}-dashboard",
            **self.args(
                "dashboard", **self.base(
                    dashboard_name=ctx.name("dash", 160, unique=False),
                    properties=portal.DashboardPropertiesWithProvisioningStateArgs(
                        lenses=[portal.DashboardLensArgs(order=0, parts=charts)],
                        metadata={"model": {"timeRange": {"value": {"relative": {"duration": 24, "timeUnit": 1}},
                                                          "type": "MsPortalFx.Composition.Configuration.ValueTypes"
                                                                  ".TimeRange"}}},
                    ),
                ),
            ),
            opts=self.opts(),
        )  # fmt: skip

    def _insights(self, name: str, w: Watched) -> None:
        ctx = self.ctx
        component_name = ctx.name("appi", 255, unique=False)
        component_id = ctx.resource_id("Microsoft.Insights", "components", component_name)
        self.app_insights = applicationinsights.Component(
            f"{name}-app-insights",
            **self.args(
                "app_insights",
                **self.base(
                    resource_name_=component_name, kind="web", application_type="web", ingestion_mode="LogAnalytics",
                    workspace_resource_id=w.workspace.id, disable_local_auth=True,
                ),
            ),
            opts=self.opts(),
        )  # fmt: skip
        url = pulumi.Output.concat(w.url, w.health_path)
        test_name = ctx.name("health", 260, unique=False)
        self.web_test = applicationinsights.WebTest(
            f"{name}-health-test",
            **self.args(
                "health_test",
                **self.base(
                    web_test_name=test_name, synthetic_monitor_id="health",
                    kind="standard", web_test_kind="standard", enabled=True, frequency=300, timeout=30,
                    retry_enabled=True, description=f"GET {w.health_path} answers 200 from every location",
                    locations=[applicationinsights.WebTestGeolocationArgs(location=loc) for loc in TEST_LOCATIONS],
                    request=applicationinsights.WebTestPropertiesRequestArgs(
                        request_url=url, http_verb="GET", follow_redirects=False, parse_dependent_requests=False
                    ),
                    validation_rules=applicationinsights.WebTestPropertiesValidationRulesArgs(
                        expected_http_status_code=200, s_sl_check=w.url.startswith("https://")
                        if isinstance(w.url, str) else True, s_sl_cert_remaining_lifetime_check=7,
                    ),
                    # Azure ties a test to its Application Insights resource through this tag.
                    tags={**self.tags, f"hidden-link:{component_id}": "Resource"},
                ),
            ),
            opts=self.opts(depends_on=[self.app_insights]),
        )  # fmt: skip
        # Down from 3 of 5 locations: the one availability alert. It names the test by its id and waits for it
        # (ARM validates that the test exists), scoped to the test and its component as Azure requires.
        monitor.MetricAlert(
            f"{name}-health",
            **self.args(
                "alert_health",
                resource_group_name=ctx.resource_group_name, rule_name=ctx.name("alert-health", 260, unique=False),
                location="global", tags=dict(self.tags), severity=0, enabled=True, auto_mitigate=True,
                description=f"{w.health_path} fails from 3 of {len(TEST_LOCATIONS)} test locations: the app is "
                "down for users. Check the entry alerts, the app's replicas or instances, and the last release.",
                scopes=[self.web_test.id, self.app_insights.id], evaluation_frequency="PT1M", window_size="PT5M",
                criteria=monitor.WebtestLocationAvailabilityCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria",
                    web_test_id=self.web_test.id,
                    component_id=self.app_insights.id, failed_location_count=3,
                ),
                actions=[monitor.MetricAlertActionArgs(action_group_id=self.action_group.id)],
            ),
            opts=self.opts(depends_on=[self.web_test, self.app_insights]),
        )  # fmt: skip

    def _diagnostics(self, name: str, w: Watched) -> None:
        """Logs (and metrics) of every service the stack has into the app's workspace."""
        targets: list[tuple[str, pulumi.Input[str], str | None]] = []  # (what, resource, log category group)
        if w.database is not None:
            targets.append(("database", w.database.id, "allLogs"))
        if w.cache is not None:
            targets.append(("cache", w.cache.database.id, "allLogs"))
        if w.docdb is not None:
            targets.append(("docdb", w.docdb.account.id, "allLogs"))
        if w.storage is not None:
            targets.append(("storage", pulumi.Output.concat(w.storage.account.id, "/blobServices/default"), "allLogs"))
        if w.vault is not None:
            targets.append(("vault", w.vault.id, "audit"))
        if w.registry is not None:
            targets.append(("registry", w.registry.id, "allLogs"))
        if w.front_door is not None:
            targets.append(("front_door", w.front_door.id, "allLogs"))
        for what, resource, logs in targets:
            monitor.DiagnosticSetting(
                f"{name}-diagnostics-{what.replace('_', '-')}",
                **self.args(
                    f"diagnostics_{what}", name="to-log-analytics", resource_uri=resource,
                    workspace_id=w.workspace.id, log_analytics_destination_type="Dedicated",
                    logs=[monitor.DiagnosticsLogSettingsArgs(category_group=logs, enabled=True)] if logs else [],
                    metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
                ),
                opts=self.opts(),
            )  # fmt: skip

    def _flow_logs(self, name: str, w: Watched) -> None:
        """VNet flow logs (every NSG's decisions) to a logs storage account, analysed into the workspace.

        The account takes Entra ID only (no shared keys), so the flow log writes with its own user-assigned
        identity, which gets "Storage Blob Data Contributor" on that account alone. The flow log belongs to the
        region's network watcher, ``NetworkWatcherRG/NetworkWatcher_<region>``: one per subscription and region,
        which Azure creates with the region's first VNet unless the subscription opted out
        (``DisableNetworkWatcherAutocreation``) - ``mbops bootstrap`` / ``mbops doctor`` make sure it exists. The
        stack does not create it: a second watcher in the region is refused, and adopting the shared one would
        tie it to one stack's lifetime.
        """
        from pulumi_azure_native import managedidentity

        ctx = self.ctx
        account = storage.StorageAccount(
            f"{name}-flow-log-storage",
            **self.args(
                "flow_log_storage",
                **self.base(
                    account_name=ctx.name("stflow", 24, alnum=True), kind="StorageV2",
                    sku=storage.SkuArgs(name="Standard_LRS"), minimum_tls_version="TLS1_2",
                    enable_https_traffic_only=True, allow_blob_public_access=False, allow_shared_key_access=False,
                    default_to_o_auth_authentication=True, allow_cross_tenant_replication=False,
                    # Network Watcher writes as a trusted Azure service; nothing else reaches the account.
                    network_rule_set=storage.NetworkRuleSetArgs(bypass="AzureServices", default_action="Deny"),
                    encryption=storage_encryption(),
                ),
            ),
            opts=self.opts(),
        )  # fmt: skip
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-flow-log-identity",
            **self.args("flow_log_identity", **self.base(resource_name_=ctx.name("id-flowlog", 128, unique=False))),
            opts=self.opts(),
        )
        writer = self.grant(
            "flow_log_writer", role="Storage Blob Data Contributor", scope=account.id,
            principal_id=identity.principal_id, key="flow-log-blob",
        )  # fmt: skip
        network.FlowLog(
            f"{name}-flow-log",
            **self.args(
                "flow_log",
                resource_group_name=NETWORK_WATCHER_GROUP, network_watcher_name=f"NetworkWatcher_{ctx.location}",
                flow_log_name=ctx.name("flowlog", 80), location=ctx.location, tags=dict(self.tags), enabled=True,
                target_resource_id=w.vnet.vnet_id, storage_id=account.id,
                identity=network.ManagedServiceIdentityArgs(
                    type="UserAssigned", user_assigned_identities=[identity.id]
                ),
                format=network.FlowLogFormatParametersArgs(type="JSON", version=2),
                retention_policy=network.RetentionPolicyParametersArgs(days=90 if ctx.prod else 30, enabled=True),
                flow_analytics_configuration=network.TrafficAnalyticsPropertiesArgs(
                    network_watcher_flow_analytics_configuration=network.TrafficAnalyticsConfigurationPropertiesArgs(
                        enabled=True, workspace_id=w.workspace.customer_id, workspace_region=ctx.location,
                        workspace_resource_id=w.workspace.id, traffic_analytics_interval=10,
                    ),
                ),
            ),
            opts=self.opts(depends_on=[writer, w.vnet]),
        )  # fmt: skip

    def _budget(self, name: str, spec: MonitoringSpec) -> None:
        ctx = self.ctx
        start = dt.date.today().replace(day=1).isoformat() + "T00:00:00Z"
        emails = [t[6:] for t in spec.notify if t.startswith("email:")]

        def notification(threshold: int, kind: str) -> consumption.NotificationArgs:
            return consumption.NotificationArgs(
                enabled=True, operator="GreaterThanOrEqualTo", threshold=threshold, threshold_type=kind,
                contact_emails=emails, contact_groups=[self.action_group.id],
            )

        consumption.Budget(
            f"{name}-budget",
            **self.args(
                "budget",
                scope=ctx.rg_id(), budget_name=ctx.name("budget", 63, unique=False), amount=spec.budget_usd,
                category="Cost", time_grain="Monthly",
                # A new budget starts in the current month; later runs keep the recorded start.
                time_period=consumption.BudgetTimePeriodArgs(start_date=start),
                notifications={
                    "actual-80": notification(80, "Actual"), "forecast-100": notification(100, "Forecasted"),
                },
            ),
            opts=self.opts(ignore_changes=["timePeriod"]),
        )  # fmt: skip


def watched(ctx: BuildContext) -> Watched:
    """What the stack built, as monitoring needs it."""
    from mbops.components.azure.network import vnet_of

    kind = next(k for k in APP_KINDS if k in ctx.built)
    app = ctx.built[kind].component
    edge, cdn = ctx.built.get("edge"), ctx.built.get("cdn")
    front_door = (edge.component.profile if edge else None) or (cdn.component.profile if cdn else None)
    entry = edge or cdn  # the Front Door endpoint the entry alerts watch (the profile may hold both)
    entry_host = entry.component.endpoint.host_name if entry else None
    url = (edge.outputs["endpoint"] if edge else None) or ctx.built[kind].outputs["endpoint"]
    database = ctx.built.get("database")
    db = getattr(database.component, "server", None) if database else None
    part = {k: ctx.built[k].component if k in ctx.built else None for k in ("cache", "docdb", "storage", "registry")}
    secrets = ctx.built.get("secrets")
    sku = None
    if db is not None:
        from mbops.components.azure.database import SKUS

        sku = SKUS[ctx.stack.specs["database"].size][0]
    return Watched(
        workspace=app.log_workspace, url=url, health_path=ctx.stack.app.health_path, app_kind=kind, app=app,
        min_replicas=ctx.stack.app.min_replicas, front_door=front_door, entry_host=entry_host,
        entry_domain=ctx.stack.domain if edge else None,
        entry_origin_group="app" if edge else "storage", database=db, database_sku=sku,
        cache=part["cache"], docdb=part["docdb"], storage=part["storage"],
        registry=part["registry"].registry if part["registry"] else None,
        vault=secrets.component.vault if secrets else None, vnet=vnet_of(ctx),
    )  # fmt: skip


def build(ctx: BuildContext) -> Built:
    """Alerts to ``notify``, logs into the app's workspace, a health-path availability test, a budget."""
    component = Monitoring(ctx.name, MonitoringArgs(ctx=ctx.foundation.azure, spec=ctx.spec, watched=watched(ctx)))
    return Built(component=component)
