"""The AWS Lambda function that forwards the stack's alarm notifications to a webhook (python3.12, no packages).

SNS delivers each alarm (or budget) message to the function; it POSTs one JSON document to ``WEBHOOK_URL``:
``text`` (one line a person reads: what changed, in which alarm, and why), which Slack incoming webhooks and
Teams connectors display, plus the alarm's own fields (``alarm``, ``state``, ``previous_state``, ``reason``,
``region``, ``account``, ``time``, ``description``) for any other receiver, and ``message`` (SNS's text) when
the message is not a CloudWatch alarm. A receiver that does not answer 2xx fails the invocation, so Lambda
retries it (twice, for SNS's asynchronous invocations).
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

TIMEOUT_S = 10


def payload(subject: str | None, message: str) -> dict[str, Any]:
    """The document posted for one SNS message."""
    try:
        alarm = json.loads(message)
    except ValueError:
        alarm = None
    if not isinstance(alarm, dict) or "AlarmName" not in alarm:
        return {"text": f"{subject or 'Notification'}: {message}", "message": message}
    state, old = alarm.get("NewStateValue", "?"), alarm.get("OldStateValue", "?")
    return {
        "text": f"{alarm['AlarmName']} is {state} (was {old}): {alarm.get('NewStateReason', '')}",
        "alarm": alarm["AlarmName"],
        "state": state,
        "previous_state": old,
        "reason": alarm.get("NewStateReason"),
        "description": alarm.get("AlarmDescription"),
        "region": alarm.get("Region"),
        "account": alarm.get("AWSAccountId"),
        "time": alarm.get("StateChangeTime"),
    }


def post(url: str, document: dict[str, Any]) -> int:
    """POST ``document`` as JSON; the HTTP status (an error status raises)."""
    request = urllib.request.Request(
        url, data=json.dumps(document).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "mbops-alarms"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - an https URL we were given
        return response.status


def handler(event: dict[str, Any], _context: Any) -> dict[str, int]:
    """Lambda entry point: one POST per SNS record."""
    url = os.environ["WEBHOOK_URL"]
    sent = 0
    for record in event.get("Records", []):
        sns = record.get("Sns") or {}
        post(url, payload(sns.get("Subject"), sns.get("Message", "")))
        sent += 1
    return {"sent": sent}
