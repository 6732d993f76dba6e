"""AWS monitoring: alarms on what the stack has, an encrypted SNS topic for them, a dashboard, a Route 53
health check of the public health path and an AWS Budgets alert.

Alarms are wired to the kinds the stack actually built (``ctx.built``): the entry (ALB, API Gateway,
CloudFront), the app (ECS service, Lambda function, auto scaling group), the data tier (RDS or the
PostgreSQL VM, ElastiCache, DynamoDB). Thresholds come from ``MonitoringSpec.thresholds``; every alarm's
description says what to do when it fires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from mbops.components.aws.certs import CLOUDFRONT_REGION
from mbops.components.aws.iam import allow, service_role
from mbops.components.aws.naming import physical
from mbops.components.base import MbopsComponent
from mbops.components.spec import MonitoringSpec
from mbops.components.wiring import BuildContext, Built

CW = aws.cloudwatch
WEBHOOK_HANDLER = Path(__file__).with_name("alarm_webhook_handler.py")
GIB = 1024**3
# Memory of the RDS instance classes mbops uses (GiB): PostgreSQL's max_connections on RDS is
# LEAST(DBInstanceClassMemory / 9531392, 5000).
CLASS_MEMORY_GIB = {"db.t4g.micro": 1, "db.t4g.medium": 4, "db.r6g.large": 16}
HEALTH_REGION = CLOUDFRONT_REGION  # Route 53 health check and CloudFront metrics exist in us-east-1 only
# Who publishes to the alerts topic (encrypted with the stack's key): alarms, budgets, RDS events.
PUBLISHERS = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com", "events.rds.amazonaws.com"]
# RDS events worth a page: the instance down or failing over, storage running out (also when autoscaling has
# reached max_storage_gb), maintenance and recovery.
DB_EVENTS = ["availability", "failover", "failure", "low storage", "maintenance", "recovery"]
UNHEALTHY_TARGETS = "entry-unhealthy-targets"  # the servers' instance refresh rolls back on it, by name


def alarm_name(stack: str, key: str) -> str:
    """The CloudWatch name of a stack's alarm (``<stack>-monitoring-<key>``; ``stack``: its physical name)."""
    return f"{stack}-monitoring-{key}"


def max_connections(instance_class: str) -> int:
    """PostgreSQL's default connection limit on an RDS instance class (memory less the RDS reserve)."""
    memory = CLASS_MEMORY_GIB.get(instance_class, 4) * GIB
    return min(int(memory * 0.95) // 9531392, 5000)  # DBInstanceClassMemory is ~95% of the class memory


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric: namespace, name, dimensions and statistic (``p95`` is an extended one)."""

    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    stat: str = "Average"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """An alarm: ``metric`` or ``expression`` over ``metrics`` (``m1``, ``m2``, ... in order)."""

    key: str
    title: str
    action: str  # what to do when it fires
    threshold: float
    comparison: str = "GreaterThanThreshold"
    metric: Metric | None = None
    expression: str | None = None
    metrics: Sequence[Metric] = ()
    periods: int = 2
    period: int = 300
    missing: str = "notBreaching"
    region: str | None = None  # None: the stack's region


@dataclass(kw_only=True)
class MonitoringArgs:
    spec: MonitoringSpec = field(default_factory=MonitoringSpec)
    rules: list[Rule] = field(default_factory=list)
    health_url: pulumi.Input[str] | None = None  # the public endpoint; its health path is checked
    health_path: str = "/healthz"
    budget_tag: tuple[str, str] | None = None  # the cost allocation tag the budget counts
    database_identifier: pulumi.Input[str] | None = None  # an RDS instance: its events go to the topic too
    region: str = "us-east-1"
    physical_name: str | None = None  # what AWS names carry (alarms, dashboard, budget); None: the component's
    tags: Mapping[str, str] = field(default_factory=dict)


class Monitoring(MbopsComponent):
    """Alarms to an encrypted SNS topic, a dashboard of the same metrics, a health check, a budget.

    The topic is encrypted with a customer managed KMS key (CloudWatch and Budgets cannot publish to a topic
    under the AWS managed SNS key) whose policy admits those two services from this account; ``notify``
    targets subscribe: ``email:`` by email (each address confirms once); ``webhook:`` through a small function
    in the topic's region that POSTs each alarm as JSON with a ``text`` line (Slack, Teams and the like never
    confirm an SNS HTTPS subscription, so SNS would never deliver to them directly).
    Route 53 health check metrics (and CloudFront's) exist only in us-east-1, so their alarms live there,
    with a second topic when the stack is elsewhere. The budget counts the costs tagged ``app=<stack>``
    (activate ``app`` as a cost allocation tag in the billing console, or it stays at zero) and alerts at
    80% of ``budget_usd`` spent and at 100% forecast.

    Children: ``key``, ``topic``, ``topic_policy``, ``subscription`` (per target; each also per us-east-1
    topic), ``webhook_role``, ``webhook_role_policy``, ``webhook_log_group``, ``webhook_function``,
    ``webhook_permission`` (per webhook and topic), ``alarm`` (per rule), ``dashboard``, ``health_check``,
    ``budget``, ``database_events`` (RDS).
    """

    kind = "monitoring"

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        self._logical, self._name, self._args = name, args.physical_name or name, args  # _name: what AWS sees
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self._topic_policies: dict[str | None, aws.sns.TopicPolicy] = {}
        self._webhook_role: aws.iam.Role | None = None
        self._webhook_ready: list[pulumi.Resource] = []
        self.topics: dict[str | None, aws.sns.Topic] = {None: self._topic(name, account, None)}
        rules = list(args.rules)
        if args.health_url is not None:
            rules.append(self._health_check(name, args))
        else:
            self.args("health_check")
        if any(r.region not in (None, args.region) for r in rules):
            self.topics[HEALTH_REGION] = self._topic(f"{name}-{HEALTH_REGION}", account, HEALTH_REGION)
        self.alarms = [self._alarm(name, rule) for rule in rules]
        if not rules:
            self.args("alarm")
        self.dashboard = self._dashboard(name, rules)
        self._budget(name, args, account)
        if args.database_identifier is not None:
            aws.rds.EventSubscription(
                f"{name}-db-events",
                **self.args("database_events", sns_topic=self.topics[None].arn, source_type="db-instance",
                            source_ids=[args.database_identifier], event_categories=DB_EVENTS, enabled=True,
                            tags=self.tags),
                opts=self.opts(depends_on=[self._topic_policies[None]]),
            )  # fmt: skip
        else:
            self.args("database_events")
        self.topic_arn = self.topics[None].arn
        self.finish({"topic_arn": self.topic_arn, "dashboard": self.dashboard.dashboard_name,
                     "alarms": [a.name for a in self.alarms]})  # fmt: skip

    # ---- notification -------------------------------------------------------------------------------------

    def _topic(self, name: str, account: pulumi.Output[str], region: str | None) -> aws.sns.Topic:
        """A KMS-encrypted topic CloudWatch and Budgets may publish to, with the ``notify`` subscriptions."""
        publishers = {"Service": PUBLISHERS}
        key_policy = account.apply(lambda acct: json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                 "Action": "kms:*", "Resource": "*"},
                {"Sid": "AlarmsAndBudgetsPublish", "Effect": "Allow", "Principal": publishers,
                 "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
                 "Condition": {"StringEquals": {"aws:SourceAccount": acct}}},
            ],
        }))  # fmt: skip
        key = aws.kms.Key(
            f"{name}-alerts-key",
            **self.args("key", description=f"{name}: encrypts the alerts topic", enable_key_rotation=True,
                        deletion_window_in_days=30, policy=key_policy, region=region, tags=self.tags),
            opts=self.opts(),
        )  # fmt: skip
        topic = aws.sns.Topic(
            f"{name}-alerts",
            **self.args("topic", kms_master_key_id=key.arn, display_name=f"{self._name} alerts", region=region,
                        tags=self.tags),
            opts=self.opts(),
        )  # fmt: skip
        topic_policy = pulumi.Output.all(topic.arn, account).apply(lambda a: json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AccountManages", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a[1]}:root"},
                 "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe",
                            "SNS:ListSubscriptionsByTopic", "SNS:Publish"], "Resource": a[0]},
                {"Sid": "AlarmsAndBudgetsPublish", "Effect": "Allow", "Principal": publishers,
                 "Action": "SNS:Publish", "Resource": a[0],
                 "Condition": {"StringEquals": {"aws:SourceAccount": a[1]}}},
            ],
        }))  # fmt: skip
        self._topic_policies[region] = aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            **self.args("topic_policy", arn=topic.arn, policy=topic_policy, region=region),
            opts=self.opts(),
        )
        for i, target in enumerate(self._args.spec.notify, start=1):
            protocol, endpoint = target.split(":", 1)
            if protocol == "webhook":  # SNS's https subscriptions wait for a confirmation webhooks never send
                protocol, endpoint = "lambda", self._webhook(name, i, endpoint, topic, account, region)
            aws.sns.TopicSubscription(
                f"{name}-notify-{i}",
                **self.args("subscription", topic=topic.arn, protocol=protocol, endpoint=endpoint, region=region),
                opts=self.opts(),
            )
        if not any(t.startswith("webhook:") for t in self._args.spec.notify):
            for child in ("webhook_role", "webhook_role_policy", "webhook_log_group", "webhook_function",
                          "webhook_permission"):  # fmt: skip
                self.args(child)
        if not self._args.spec.notify:
            self.args("subscription")
            pulumi.log.warn(
                "monitoring: no notify target, so alarms reach nobody; add components.monitoring.notify "
                "(email:ops@example.com or webhook:https://...)",
                resource=self,
            )
        return topic

    def _webhook(self, name: str, index: int, url: str, topic: aws.sns.Topic, account: pulumi.Output[str],
                 region: str | None) -> pulumi.Output[str]:  # fmt: skip
        """A function in the topic's region that POSTs each alarm to ``url`` (see ``alarm_webhook_handler``);
        its ARN, for a ``lambda`` subscription. The role (one for every webhook) writes only their logs."""
        if self._webhook_role is None:
            groups = account.apply(lambda a: f"arn:aws:logs:*:{a}:log-group:/mbops/{self._name}/webhook-*:*")
            self._webhook_role = service_role(
                self, f"{self._logical}-webhook-role", "webhook_role", service="lambda.amazonaws.com",
                description=f"{self._name}: forwards alarms to webhooks", ready=self._webhook_ready,
                statements=[allow("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], groups)],
            )  # fmt: skip
        logs = aws.cloudwatch.LogGroup(
            f"{name}-webhook-{index}-logs",
            **self.args("webhook_log_group", name=f"/mbops/{self._name}/webhook-{index}-{region or 'home'}",
                        retention_in_days=30, region=region, tags=self.tags),
            opts=self.opts(),
        )  # fmt: skip
        function = aws.lambda_.Function(
            f"{name}-webhook-{index}",
            **self.args(
                "webhook_function",
                runtime="python3.12", handler="index.handler", architectures=["arm64"], memory_size=128,
                timeout=15, role=self._webhook_role.arn,
                code=pulumi.AssetArchive({"index.py": pulumi.FileAsset(str(WEBHOOK_HANDLER))}),
                description=f"{self._name}: posts alarms to webhook {index}",
                environment=aws.lambda_.FunctionEnvironmentArgs(variables={"WEBHOOK_URL": url}),
                logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=logs.name),
                region=region, tags=self.tags,
            ),
            opts=self.opts(depends_on=self._webhook_ready),
        )  # fmt: skip
        aws.lambda_.Permission(
            f"{name}-webhook-{index}-invoke",
            **self.args("webhook_permission", action="lambda:InvokeFunction", function=function.name,
                        principal="sns.amazonaws.com", source_arn=topic.arn, region=region),
            opts=self.opts(),
        )  # fmt: skip
        return function.arn

    # ---- alarms -------------------------------------------------------------------------------------------

    def _alarm(self, name: str, rule: Rule) -> CW.MetricAlarm:
        topic = self.topics[None if rule.region in (None, self._args.region) else rule.region]
        if rule.metric is not None:
            m = rule.metric
            stat = {"extended_statistic": m.stat} if m.stat.startswith("p") else {"statistic": m.stat}
            what: dict[str, Any] = dict(namespace=m.namespace, metric_name=m.name, dimensions=dict(m.dimensions),
                                        period=rule.period, **stat)  # fmt: skip
        else:
            queries = [CW.MetricAlarmMetricQueryArgs(id="e1", expression=rule.expression, label=rule.title,
                                                     return_data=True)]  # fmt: skip
            for i, m in enumerate(rule.metrics, start=1):
                queries.append(
                    CW.MetricAlarmMetricQueryArgs(
                        id=f"m{i}",
                        return_data=False,
                        metric=CW.MetricAlarmMetricQueryMetricArgs(
                            namespace=m.namespace, metric_name=m.name, dimensions=dict(m.dimensions),
                            period=rule.period, stat=m.stat,
                        ),
                    )
                )  # fmt: skip
            what = {"metric_queries": queries}
        return CW.MetricAlarm(
            f"{name}-{rule.key}",
            **self.args(
                "alarm",
                name=f"{self._name}-{rule.key}",
                alarm_description=f"{rule.title}. {rule.action}",
                comparison_operator=rule.comparison,
                threshold=rule.threshold,
                evaluation_periods=rule.periods,
                datapoints_to_alarm=rule.periods,
                treat_missing_data=rule.missing,
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                region=rule.region if rule.region != self._args.region else None,
                tags=self.tags,
                **what,
            ),
            opts=self.opts(),
        )

    def _health_check(self, name: str, args: MonitoringArgs) -> Rule:
        """A Route 53 health check of ``<endpoint><health_path>`` from several regions, and its alarm."""
        url = pulumi.Output.from_input(args.health_url).apply(urlsplit)
        https = url.apply(lambda u: u.scheme == "https")
        check = aws.route53.HealthCheck(
            f"{name}-health",
            **self.args(
                "health_check",
                type=https.apply(lambda s: "HTTPS" if s else "HTTP"),
                fqdn=url.apply(lambda u: u.hostname),
                port=https.apply(lambda s: 443 if s else 80),
                resource_path=args.health_path,
                enable_sni=https,
                request_interval=30,
                failure_threshold=3,
                measure_latency=True,
                reference_name=self._name[:28],
                tags={**self.tags, "Name": f"{name}-health"},
            ),
            opts=self.opts(),
        )
        return Rule(
            key="health-check", title="The public health path fails from Route 53's checkers",
            action=f"Users cannot reach the app: open {args.health_path} on the endpoint; check the entry's "
                   "5xx and unhealthy-target alarms, the app's logs, and the last deployment.",
            threshold=1, comparison="LessThanThreshold", period=60, periods=2, missing="breaching",
            metric=Metric("AWS/Route53", "HealthCheckStatus", {"HealthCheckId": check.id}, "Minimum"),
            region=HEALTH_REGION,
        )  # fmt: skip

    # ---- dashboard and budget ------------------------------------------------------------------------------

    def _dashboard(self, name: str, rules: Sequence[Rule]) -> CW.Dashboard:
        """One graph per alarm, the alarm's threshold drawn on it."""
        widgets = []
        for i, rule in enumerate(rules):
            region = rule.region or self._args.region
            if rule.metric is not None:
                metrics: list[Any] = [_widget_metric(rule.metric, {"stat": rule.metric.stat})]
            else:
                metrics = [[{"expression": rule.expression, "label": rule.title, "id": "e1"}]]
                metrics += [_widget_metric(m, {"id": f"m{j}", "stat": m.stat, "visible": False})
                            for j, m in enumerate(rule.metrics, start=1)]  # fmt: skip
            widgets.append({
                "type": "metric", "x": (i % 3) * 8, "y": (i // 3) * 6, "width": 8, "height": 6,
                "properties": {"title": rule.title, "region": region, "period": rule.period, "view": "timeSeries",
                               "metrics": metrics,
                               "annotations": {"horizontal": [{"label": "alarm", "value": rule.threshold}]}},
            })  # fmt: skip
        return CW.Dashboard(
            f"{name}-dashboard",
            **self.args("dashboard", dashboard_name=self._name,
                        dashboard_body=pulumi.Output.json_dumps({"widgets": widgets})),
            opts=self.opts(),
        )  # fmt: skip

    def _budget(self, name: str, args: MonitoringArgs, account: pulumi.Output[str]) -> None:
        if args.spec.budget_usd is None:
            self.args("budget")
            return
        emails = [t.split(":", 1)[1] for t in args.spec.notify if t.startswith("email:")]
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN", notification_type=kind, threshold=pct, threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[self.topics[None].arn], subscriber_email_addresses=emails or None,
            )
            for kind, pct in (("ACTUAL", 80.0), ("FORECASTED", 100.0))
        ]  # fmt: skip
        filters = (
            [aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=["user:{}${}".format(*args.budget_tag)])]
            if args.budget_tag
            else None
        )  # fmt: skip
        aws.budgets.Budget(
            f"{name}-budget",
            **self.args(
                "budget",
                name=self._name,
                account_id=account,
                budget_type="COST",
                time_unit="MONTHLY",
                limit_amount=f"{args.spec.budget_usd:.2f}",
                limit_unit="USD",
                cost_filters=filters,
                notifications=notifications,
                tags=self.tags,
            ),
            # Budgets checks it may publish to the topic: its policy first.
            opts=self.opts(depends_on=[self._topic_policies[None]]),
        )


def _widget_metric(m: Metric, options: dict[str, Any]) -> list[Any]:
    """``[namespace, name, dim, value, ..., {options}]``: a dashboard widget's metric line."""
    line: list[Any] = [m.namespace, m.name]
    for key, value in m.dimensions.items():
        line += [key, value]
    return [*line, options]


# ---- the rules for what the stack has -------------------------------------------------------------------------


def entry_rules(app: Any, spec: MonitoringSpec) -> list[Rule]:
    """5xx rate, p95 latency and unhealthy targets of the load balancer, or of the HTTP API."""
    t = spec.thresholds
    lb = getattr(app, "load_balancer", None)
    if lb is not None:
        dims = {"LoadBalancer": lb.load_balancer.arn_suffix}
        count = [Metric("AWS/ApplicationELB", n, dims, "Sum")
                 for n in ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount")]  # fmt: skip
        return [
            Rule(key="entry-5xx", title="Load balancer 5xx share of requests (%)", threshold=t.error_rate_pct,
                 action="Read the app's logs for errors and the target health; roll back the last deployment if "
                        "it started then.",
                 expression="100 * (FILL(m1, 0) + FILL(m2, 0)) / m3", metrics=count, period=t.period_s),
            Rule(key="entry-latency-p95", title="Load balancer p95 response time (s)",
                 threshold=t.latency_p95_ms / 1000, period=t.period_s,
                 action="Check the app's CPU and memory, the database's CPU and connections; scale out "
                        "(max_replicas) or up (cpu, memory_mb).",
                 metric=Metric("AWS/ApplicationELB", "TargetResponseTime", dims, "p95")),
            Rule(key=UNHEALTHY_TARGETS, title="Unhealthy targets behind the load balancer", threshold=0,
                 period=60, periods=3,
                 action="Targets fail the health path: read the app's logs and the target group's health reasons.",
                 metric=Metric("AWS/ApplicationELB", "UnHealthyHostCount",
                               {"TargetGroup": lb.target_group.arn_suffix, **dims}, "Maximum")),
        ]  # fmt: skip
    dims = {"ApiId": app.api.id}
    return [
        Rule(key="entry-5xx", title="API 5xx share of requests (%)", threshold=t.error_rate_pct, period=t.period_s,
             action="Read the function's logs for errors; roll back the last deployment if it started then.",
             expression="100 * FILL(m1, 0) / m2",
             metrics=[Metric("AWS/ApiGateway", "5xx", dims, "Sum"), Metric("AWS/ApiGateway", "Count", dims, "Sum")]),
        Rule(key="entry-latency-p95", title="API p95 latency (ms)", threshold=t.latency_p95_ms, period=t.period_s,
             action="Check the function's duration and cold starts, and the table's throttles; raise memory_mb.",
             metric=Metric("AWS/ApiGateway", "Latency", dims, "p95")),
    ]  # fmt: skip


def cdn_rules(distribution: Any, spec: MonitoringSpec, what: str) -> list[Rule]:
    """CloudFront's 5xx error rate (its metrics are in us-east-1)."""
    return [
        Rule(key=f"{what}-5xx", title=f"CloudFront ({what}) 5xx error rate (%)",
             threshold=spec.thresholds.error_rate_pct,
             period=spec.thresholds.period_s, region=HEALTH_REGION,
             action="Check the origin (the API or the bucket) and the web ACL's blocked requests.",
             metric=Metric("AWS/CloudFront", "5xxErrorRate", {"DistributionId": distribution.id, "Region": "Global"}))
    ]  # fmt: skip


def app_rules(kind: str, app: Any, spec: MonitoringSpec) -> list[Rule]:
    """CPU and memory, running below desired (containers, servers); errors and throttles (serverless)."""
    t = spec.thresholds
    if kind == "containers":
        dims = {"ClusterName": app.cluster.name, "ServiceName": app.service.name}
        return [
            Rule(key="app-cpu", title="App CPU (%)", threshold=t.cpu_pct, period=t.period_s,
                 action="The service is at its CPU target ceiling: raise max_replicas or app.cpu; look for hot loops.",
                 metric=Metric("AWS/ECS", "CPUUtilization", dims)),
            Rule(key="app-memory", title="App memory (%)", threshold=t.memory_pct, period=t.period_s,
                 action="Tasks near their memory limit get killed: raise app.memory_mb; look for leaks.",
                 metric=Metric("AWS/ECS", "MemoryUtilization", dims)),
            Rule(key="app-running-below-desired", title="Tasks running below desired", threshold=0, period=60,
                 periods=5, expression="m2 - m1",
                 action="Tasks fail to start or keep stopping: read the stopped tasks' reasons (ECS console) and "
                        "the app's logs.",
                 metrics=[Metric("ECS/ContainerInsights", "RunningTaskCount", dims),
                          Metric("ECS/ContainerInsights", "DesiredTaskCount", dims)]),
        ]  # fmt: skip
    if kind == "servers":
        dims = {"AutoScalingGroupName": app.auto_scaling_group.name}
        return [
            Rule(key="app-cpu", title="App instances CPU (%)", threshold=t.cpu_pct, period=t.period_s,
                 action="The group is at its CPU target ceiling: raise max_replicas or the servers size.",
                 metric=Metric("AWS/EC2", "CPUUtilization", dims)),
            Rule(key="app-in-service-below-desired", title="Instances in service below desired", threshold=0,
                 period=60, periods=10, expression="m2 - m1",
                 action="Instances fail to launch or to pass health checks: read the group's activity history "
                        "and the instances' console output (cloud-init).",
                 metrics=[Metric("AWS/AutoScaling", "GroupInServiceInstances", dims),
                          Metric("AWS/AutoScaling", "GroupDesiredCapacity", dims)]),
        ]  # fmt: skip
    dims = {"FunctionName": app.function.name}
    return [
        Rule(key="app-errors", title="Function error share of invocations (%)", threshold=t.error_rate_pct,
             period=t.period_s, expression="100 * FILL(m1, 0) / m2",
             action="Read the function's logs; roll back the last deployment if it started then.",
             metrics=[Metric("AWS/Lambda", "Errors", dims, "Sum"), Metric("AWS/Lambda", "Invocations", dims, "Sum")]),
        Rule(key="app-throttles", title="Function throttles", threshold=0, period=t.period_s,
             action="The account's concurrency is exhausted: ask AWS for a higher Lambda concurrency quota, or "
                    "reserve concurrency for this function (overrides.function.reserved_concurrent_executions).",
             metric=Metric("AWS/Lambda", "Throttles", dims, "Sum")),
    ]  # fmt: skip


def data_rules(built: Mapping[str, Any], spec: MonitoringSpec) -> list[Rule]:
    """The database (CPU, free storage, connections), the cache (memory, evictions), the table (throttles)."""
    t, out = spec.thresholds, []
    database = built.get("database")
    if database is not None:
        db = database.component
        if db.spec.self_hosted:
            dims = {"InstanceId": db.instance.id}
            out += [
                Rule(key="db-cpu", title="PostgreSQL VM CPU (%)", threshold=t.db_cpu_pct, period=t.period_s,
                     action="Find slow queries (log_min_duration_statement logs them); raise the database size.",
                     metric=Metric("AWS/EC2", "CPUUtilization", dims)),
                Rule(key="db-status-check", title="PostgreSQL VM status check failed", threshold=0, period=60,
                     action="The VM or its host is impaired: stop and start it (the data volume is kept).",
                     metric=Metric("AWS/EC2", "StatusCheckFailed", dims, "Maximum")),
            ]  # fmt: skip
        else:
            dims = {"DBInstanceIdentifier": db.instance.identifier}
            limit = max_connections(db.instance_class)
            out += [
                Rule(key="db-cpu", title="Database CPU (%)", threshold=t.db_cpu_pct, period=t.period_s,
                     action="Find the slow queries (Performance Insights); add indexes or raise the database size.",
                     metric=Metric("AWS/RDS", "CPUUtilization", dims)),
                Rule(key="db-free-storage", title="Database free storage (bytes)", comparison="LessThanThreshold",
                     threshold=db.spec.storage_gb * GIB * t.db_free_storage_pct / 100, period=t.period_s,
                     action="Storage grows by itself up to max_storage_gb: raise max_storage_gb, or delete data.",
                     metric=Metric("AWS/RDS", "FreeStorageSpace", dims, "Minimum")),
                Rule(key="db-connections", title="Database connections", threshold=limit * t.db_connections_pct / 100,
                     period=t.period_s,
                     action=f"Close to the {limit} connection limit: pool connections in the app, lower the "
                            "replicas' pool size, or raise the database size.",
                     metric=Metric("AWS/RDS", "DatabaseConnections", dims, "Maximum")),
            ]  # fmt: skip
    cache = built.get("cache")
    if cache is not None:
        group = cache.component.replication_group
        for i in range(1, (2 if cache.component.spec.ha else 1) + 1):
            dims = {"CacheClusterId": pulumi.Output.concat(group.id, f"-00{i}")}
            out += [
                Rule(key=f"cache-{i}-memory", title=f"Redis node {i} memory used (%)", threshold=t.cache_memory_pct,
                     period=t.period_s, action="Keys without a TTL fill the cache: set TTLs, or raise the cache size.",
                     metric=Metric("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", dims)),
                Rule(key=f"cache-{i}-evictions", title=f"Redis node {i} evictions", threshold=0, period=t.period_s,
                     periods=3, action="The cache is full and drops keys: raise the cache size or shorten TTLs.",
                     metric=Metric("AWS/ElastiCache", "Evictions", dims, "Sum")),
            ]  # fmt: skip
    docdb = built.get("docdb")
    if docdb is not None:
        dims = {"TableName": docdb.component.table_name}
        out.append(
            Rule(key="table-throttles", title="Table throttled requests", threshold=0, period=t.period_s,
                 expression="FILL(m1, 0) + FILL(m2, 0)",
                 action="On-demand tables throttle on sudden spikes or hot keys: spread the partition keys.",
                 metrics=[Metric("AWS/DynamoDB", "ReadThrottleEvents", dims, "Sum"),
                          Metric("AWS/DynamoDB", "WriteThrottleEvents", dims, "Sum")])
        )  # fmt: skip
    return out


def build(ctx: BuildContext) -> Built:
    """Alarms on the stack's entry, app and data, a dashboard, a health check and a budget."""
    spec, built = ctx.spec, ctx.built
    kind = next(k for k in ("containers", "servers", "serverless") if k in built)
    app = built[kind].component
    rules = [*entry_rules(app, spec), *app_rules(kind, app, spec), *data_rules(built, spec)]
    edge = built.get("edge")
    if edge is not None and getattr(edge.component, "distribution", None) is not None:
        rules += cdn_rules(edge.component.distribution, spec, "api")
    endpoint = (edge.outputs if edge is not None else built[kind].outputs).get("endpoint")
    database = built.get("database")
    rds = database.component.instance.identifier if database and not database.component.spec.self_hosted else None
    monitoring = Monitoring(
        ctx.name,
        MonitoringArgs(spec=spec, rules=rules, health_url=endpoint, health_path=ctx.stack.app.health_path,
                       budget_tag=("app", ctx.stack.tags["app"]) if "app" in ctx.stack.tags else None,
                       database_identifier=rds, region=ctx.stack.region, physical_name=physical(ctx),
                       tags=ctx.stack.tags),
    )  # fmt: skip
    return Built(component=monitoring, outputs={"alerts_topic": monitoring.topic_arn})
