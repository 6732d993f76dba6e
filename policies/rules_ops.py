"""Someone finds out when prod breaks: prod stacks have monitoring, and its alerts reach a person."""

from __future__ import annotations

from collections.abc import Iterator

from mbops.policies.entries import inputs
from mbops.policies.model import Context, Graph, Resource, Rule, cloud_of
from mbops.policies.values import flag, get, items, known

CLOUDS = ("aws", "gcp", "azure")
ALERTS = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": "alarmActions",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "alarmActions",
    "gcp:monitoring/alertPolicy:AlertPolicy": "notificationChannels",
    "azure-native:monitor:MetricAlert": "actions",
    "azure-native:monitor:ScheduledQueryRule": "actions.actionGroups",
    "azure-native:monitor:ActivityLogAlert": "actions.actionGroups",
}
ACTION_GROUP = "azure-native:monitor:ActionGroup"
RECEIVERS = (
    "emailReceivers", "smsReceivers", "webhookReceivers", "voiceReceivers", "azureAppPushReceivers",
    "logicAppReceivers", "azureFunctionReceivers", "armRoleReceivers", "eventHubReceivers", "itsmReceivers",
    "automationRunbookReceivers",
)  # fmt: skip
SUBSCRIPTIONS = ("aws:sns/topicSubscription:TopicSubscription",
                 "gcp:monitoring/notificationChannel:NotificationChannel")  # fmt: skip


def _cloud_resources(graph: Graph) -> list[Resource]:
    return [r for r in graph.resources if r.get("custom", True) and cloud_of(r.get("type", "")) in CLOUDS]


# --- monitoring-on ------------------------------------------------------------------------------------------
def _monitoring_on(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    """Offline: the stack's kinds. In the pack: a cloud stack without a single alert."""
    if ctx.stack is not None:
        if ctx.stack.cloud in CLOUDS and "monitoring" not in ctx.stack.kinds:
            yield None, (
                "monitoring is off on a prod stack: nobody hears of an outage before the users do; keep "
                "components.monitoring on (it is on by default in prod)"
            )
        return
    if _cloud_resources(graph) and not any(True for _ in graph.of_type(*ALERTS)):
        yield None, "the prod stack has no alarm or alert policy: nobody hears of an outage before the users do"


MONITORING_ON = Rule(
    id="monitoring-on",
    title="Prod stacks are monitored",
    severity="medium",
    enforcement="mandatory",
    description="A prod stack keeps the monitoring kind: alarms on the entry, the app and the data tier, an uptime "
    "check of the health path, a dashboard and a budget. Turning it off needs a written reason (policy.advisory). "
    "The CrossGuard pack, which has no stack file, looks for alarms / alert policies / metric alerts.",
    remediation="Remove `monitoring: false` from the prod stack's components (or lower the rule under "
    "policy.advisory with the reason, e.g. monitored by another team's stack).",
    clouds=CLOUDS,
    prod_only=True,
    graph_check=_monitoring_on,
    graph_types=tuple(ALERTS),
)


# --- monitoring-notify (advisory) ---------------------------------------------------------------------------
def _silent(alert: Resource) -> bool | None:
    """True when the alert has no action (None: the plan cannot tell)."""
    data = inputs(alert)
    actions = get(data, ALERTS[alert["type"]])
    if not known(actions):
        return None
    return not items(actions) or flag(get(data, "actionsEnabled")) is False


def _targets(graph: Graph) -> bool:
    if any(True for _ in graph.of_type(*SUBSCRIPTIONS)):
        return True
    return any(items(get(inputs(g), key)) for g in graph.of_type(ACTION_GROUP) for key in RECEIVERS)


def _monitoring_notify(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    alerts = list(graph.of_type(*ALERTS))
    if ctx.stack is not None:
        nobody = ctx.stack.cloud in CLOUDS and "monitoring" in ctx.stack.kinds and not ctx.stack.notify
        if nobody:
            yield None, (
                "monitoring has no notification target: alerts fire and nobody is told; set "
                "components.monitoring.notify (email:ops@example.com, webhook:https://...)"
            )
    else:
        nobody = bool(alerts) and not _targets(graph)
        if nobody:
            yield None, "no subscription, notification channel or action group receiver: alerts fire and nobody is told"
    silent = [a for a in alerts if _silent(a)]
    if silent and not nobody:  # without a target, no alert can have one: one finding says it
        names = ", ".join(a.get("name", "?") for a in silent[:5]) + (", ..." if len(silent) > 5 else "")
        yield silent[0], f"{len(silent)} alert(s) notify no one when they fire (no action): {names}"


MONITORING_NOTIFY = Rule(
    id="monitoring-notify",
    title="Prod alerts reach a person",
    severity="medium",
    enforcement="advisory",
    description="In prod, monitoring sends its alerts somewhere: the stack names notification targets "
    "(components.monitoring.notify), and every alarm, alert policy or metric alert has an action (the SNS topic, "
    "the notification channels, the action group). Advisory: a team may read the dashboard instead.",
    remediation="List the targets under components.monitoring.notify in the stack file (email:ops@example.com, "
    "webhook:https://hooks.example.com/x); keep each alert's action (alarm_actions / notification_channels / "
    "actions) on.",
    clouds=CLOUDS,
    prod_only=True,
    graph_check=_monitoring_notify,
    graph_types=(*ALERTS, *SUBSCRIPTIONS, ACTION_GROUP),
)

RULES = [MONITORING_ON, MONITORING_NOTIFY]
