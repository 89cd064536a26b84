#!/usr/bin/env python3
"""Drives the official Python Alibaba Cloud clients against a running ecs-emulator.

    python_clients.py http://127.0.0.1:PORT [CLIENT ...]

Clients: py_tea_v3 (alibabacloud_ecs20140526, ACS3-HMAC-SHA256), py_tea_v1 (the same with
Config.signature_algorithm='v2', RPC HMAC-SHA1), py_legacy (aliyun-python-sdk-ecs on
aliyun-python-sdk-core, HMAC-SHA1). Prints one line per check, `PASS client check` or
`FAIL client check: reason` (or `SKIP client check: reason`), and exits 1 if any check failed.
The expected data is computed from fixture.json next to this file, which the emulator serves.

The ca/* checks drive the Cloud Assistant workflow (SPEC section 9) as production code does: run
`acs-plugin-manager` on an instance, poll the invocation until it ends, then ListPluginStatus;
create, invoke, describe and delete a kept command; the agent's status; typed errors. Each client
works on an instance of its own (CA_INSTANCES), so the clients do not see each other's runs.

The fault/* and journal checks drive the emulator's control plane (/_emulator/faults and
/_emulator/requests), sending `Authorization: Bearer $ECS_EMULATOR_ADMIN_TOKEN` when that
variable is set. They assume nothing else talks to the emulator meanwhile.
"""

import base64
import contextlib
import hashlib
import hmac
import importlib
import json
import logging
import os
import re
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import warnings
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "cn-hangzhou"
PLUGIN = "ecs_tools_test"
MANY_PLUGINS_INSTANCE = "i-sdk0007"
KEY, SECRET = "testid", "testsecret"
DISABLED_KEY, DISABLED_SECRET = "LTAI5tSdkDisabled01", "disabled-secret"
OTHER_KEY, OTHER_SECRET = "LTAI5tSdkOther0001", "other-secret"
UNKNOWN_KEY = "LTAI5tNoSuchKey0000"
# Every character the clients encode differently (space as + or %20, * ! ' ( ) left as is or
# escaped, non-ASCII): the signature must verify and the name come back intact.
EXOTIC_NAME = "a b/*~+=&\u4e2d'!()@:,;$"
# The Cloud Assistant checks: a catalog plug-in no instance has, and an instance of the default
# account in REGION per client, none with a plug-in in the fixture, so a client's runs and
# installs stay on its own instance. AGENT_INSTANCES are read-only: agents in other states.
CA_PLUGIN = "sdk_ca_demo"
CA_INSTANCES = {"py_tea_v3": "i-sdkca01", "py_tea_v1": "i-sdkca02", "py_legacy": "i-sdkca03"}
AGENT_INSTANCES = ["i-sdkcawin01", "i-sdkcaoff01", "i-sdkcanone01"]
# Sets the names this run creates apart from an earlier run's against the same emulator.
RUN_TAG = os.urandom(3).hex()

# --------------------------------------------------------------------------------------------
# Expected data, from the fixture


def load_fixture():
    with open(os.path.join(HERE, "fixture.json"), encoding="utf-8") as f:
        return json.load(f)


FIXTURE = load_fixture()


def account_of(key_id):
    for account in FIXTURE["accounts"]:
        if any(k["id"] == key_id for k in account.get("accessKeys", [])):
            return account["accountId"]
    raise KeyError(key_id)


DEFAULT_ACCOUNT = next(a["accountId"] for a in FIXTURE["accounts"] if a.get("default"))


def instances(account, region):
    found = [i for i in FIXTURE["instances"]
             if i.get("accountId", DEFAULT_ACCOUNT) == account and i["regionId"] == region]
    return sorted(found, key=lambda i: i["instanceId"])


def record(instance_id, plugin):
    """One plug-in record as (InstanceId, PluginName, PluginVersion, PluginStatus, First, Last)."""
    return (instance_id, plugin["name"], plugin.get("version", ""), plugin["status"],
            plugin.get("firstHeartbeatTime", ""), plugin.get("lastHeartbeatTime", ""))


def expected_by_name(name, account=DEFAULT_ACCOUNT, region=REGION):
    out = []
    for inst in instances(account, region):
        plugin = next((p for p in inst["plugins"] if p["name"] == name), None)
        if plugin is None:
            out.append((inst["instanceId"], name, "", "NotInstalled", "", ""))
        else:
            out.append(record(inst["instanceId"], plugin))
    return out


def expected_by_instance(instance_id, account=DEFAULT_ACCOUNT, region=REGION):
    inst = next(i for i in instances(account, region) if i["instanceId"] == instance_id)
    return [record(instance_id, p) for p in sorted(inst["plugins"], key=lambda p: p["name"])]


def fixture_instance(instance_id, account=DEFAULT_ACCOUNT, region=REGION):
    return next(i for i in instances(account, region) if i["instanceId"] == instance_id)


def version_key(version):
    """Dotted whole numbers, compared numerically (1.10.0 above 1.9.0)."""
    return tuple(int(part) for part in version.split("."))


def catalog_highest(name):
    """The version `acs-plugin-manager --exec` installs when none is asked for."""
    entry = next(e for e in FIXTURE["catalog"] if e["name"] == name)
    return max(entry["versions"], key=version_key)


# The agent an instance has when the fixture names no version (the oldest that reports plug-in
# states), and the oldest that supports the session manager, by OS (SPEC 9.6).
DEFAULT_AGENT_VERSION = {"Linux": "2.2.3.344", "FreeBSD": "2.2.3.344", "Windows": "2.1.3.344"}
SESSION_MANAGER_MIN = {"Linux": "2.2.3.189", "FreeBSD": "2.2.3.189", "Windows": "2.1.3.189"}


def expected_agent(instance_id):
    """DescribeCloudAssistantStatus's agent fields for a fixture instance; LastHeartbeatTime is
    None where it is the emulator's now (an online agent)."""
    inst = fixture_instance(instance_id)
    os_type = inst.get("osType", "Linux")
    agent = inst.get("cloudAssistant", {})
    installed, online = agent.get("installed", True), agent.get("online", True)
    version = agent.get("version", DEFAULT_AGENT_VERSION[os_type])
    up = installed and online
    return {
        "CloudAssistantStatus": "true" if up else "false",
        "CloudAssistantVersion": version if up else "",
        "OSType": os_type,
        "SupportSessionManager":
            installed and version_key(version) >= version_key(SESSION_MANAGER_MIN[os_type]),
        "LastHeartbeatTime": None if online else agent.get("lastHeartbeatTime", ""),
    }


# The vendor's error table (docs/errors.md): code -> (HTTP status, message).
VENDOR_ERRORS = {
    "InvalidParam.PageNumber": (400, "The specified parameter PageNumber is invalid."),
    "InvalidParam.PageSize": (400, "The specified parameter PageSize is invalid."),
    "PluginName.MissingValue": (
        400, "The plugin name must be specified when the number of InstanceIds is not 1."),
    "InstanceIds.ExceedLimit": (400, "The number of instance IDs exceeds the upper limit."),
    "InvalidParameter.NextToken": (400, "The specified parameter NextToken is not valid."),
    "InvalidParameter.MaxResults": (400, "The specified parameter MaxResults is not valid."),
    "InvalidInstance.NotFound": (404, "The specified instance does not exist."),
    "InvalidPluginName.NotFound": (404, "The specified plugin name does not exist."),
}

# (check name, request parameters, expected code)
ERROR_CASES = [
    ("InvalidParam.PageNumber(PageNumber=0)",
     {"Name": PLUGIN, "PageNumber": 0}, "InvalidParam.PageNumber"),
    ("InvalidParam.PageSize(PageSize=0)", {"Name": PLUGIN, "PageSize": 0}, "InvalidParam.PageSize"),
    ("InvalidParam.PageSize(PageSize=51)",
     {"Name": PLUGIN, "PageSize": 51}, "InvalidParam.PageSize"),
    ("PluginName.MissingValue(2_ids_no_Name)",
     {"InstanceIds": ["i-sdk0001", "i-sdk0002"]}, "PluginName.MissingValue"),
    ("InstanceIds.ExceedLimit(51_ids)",
     {"Name": PLUGIN, "InstanceIds": ["i-sdk%04d" % n for n in range(1, 52)]},
     "InstanceIds.ExceedLimit"),
    ("InvalidParameter.NextToken(garbage)",
     {"Name": PLUGIN, "NextToken": "not-a-token-at-all"}, "InvalidParameter.NextToken"),
    ("InvalidParameter.MaxResults(MaxResults=51)",
     {"Name": PLUGIN, "MaxResults": 51}, "InvalidParameter.MaxResults"),
    ("InvalidInstance.NotFound(unknown_id)",
     {"Name": PLUGIN, "InstanceIds": ["i-sdk9999"]}, "InvalidInstance.NotFound"),
    ("InvalidInstance.NotFound(other_account's_id)",
     {"Name": PLUGIN, "InstanceIds": ["i-sdkother01"]}, "InvalidInstance.NotFound"),
    ("InvalidPluginName.NotFound(unknown_name)",
     {"Name": "no_such_plugin"}, "InvalidPluginName.NotFound"),
    ("InvalidPluginName.NotFound(other_account's_name)",
     {"Name": "other_private_plugin"}, "InvalidPluginName.NotFound"),
]


# Cloud Assistant codes (SPEC Appendix C): code -> (HTTP status, message).
CA_ERRORS = {
    "MissingParam.InstanceId": (400, "The parameter instanceId is missing or empty."),
    "InvalidCmdType.NotFound": (404, "The specified command type does not exist."),
    "InvalidCmdId.NotFound": (404, "The specified command ID does not exist."),
    "InvalidInvokeId.NotFound": (404, "The specified invoke ID does not exist."),
    "InvalidInstance.NotFound": (404, "The specified instance does not exist."),
}
# Per-instance InvocationStatus values of a run still on its way (vendor); any other is final.
IN_PROGRESS = {"Pending", "Scheduled", "Running", "Stopping"}

# Fault codes the emulator injects, as the vendor answers them: code -> (HTTP status, message).
FAULT_ERRORS = {
    "InternalError.Dispatch": (500, "An error occurred when you dispatched the request."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
}
# x-acs-retry-after (milliseconds) of a Throttling* fault that names none.
DEFAULT_RETRY_AFTER_MS = 1000
ADMIN_TOKEN = os.environ.get("ECS_EMULATOR_ADMIN_TOKEN") or None


class CheckFailed(Exception):
    pass


def expect(condition, reason):
    if not condition:
        raise CheckFailed(reason)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed("%s: expected %r, got %r" % (what, expected, actual))


def expect_int(value, what):
    expect(type(value) is int, "%s should be an int, got %s %r" % (what, type(value).__name__, value))


def diff_records(actual, expected):
    """A short description of how two record lists differ."""
    if len(actual) != len(expected):
        seen = {}
        for r in actual:
            seen[r[:2]] = seen.get(r[:2], 0) + 1
        wanted = {r[:2] for r in expected}
        dup = [k for k, n in seen.items() if n > 1]
        missing = [r[:2] for r in expected if r[:2] not in seen]
        extra = [k for k in seen if k not in wanted]
        return "%d records instead of %d (repeated: %s; missing: %s; unexpected: %s)" % (
            len(actual), len(expected), dup[:5], missing[:5], extra[:5])
    for i, (a, e) in enumerate(zip(actual, expected)):
        if a != e:
            return "record %d is %r, expected %r" % (i, a, e)
    return "equal"


def expect_records(actual, expected, what):
    if actual != expected:
        raise CheckFailed("%s: %s" % (what, diff_records(actual, expected)))


# --------------------------------------------------------------------------------------------
# Clients. Each adapter turns logical parameters into the client's own request, and its
# response into a plain page: {RequestId, PageSize, PageNumber, TotalCount, NextToken, groups}.


class ErrorSeen:
    """What a client exposed about a refused call. `retry_after` (milliseconds, from
    x-acs-retry-after) stays None where the client does not expose it; `raw_message` is the
    answer's Message as the server wrote it (`message` is what the client made of it)."""

    def __init__(self, type_ok, type_name, code, status, request_id, message, retry_after=None,
                 raw_message=None):
        self.type_ok, self.type_name = type_ok, type_name
        self.code, self.status, self.request_id, self.message = code, status, request_id, message
        self.retry_after, self.raw_message = retry_after, raw_message

    def __repr__(self):
        return "%s(code=%r, status=%r, request_id=%r, message=%r, retry_after=%r)" % (
            self.type_name, self.code, self.status, self.request_id, self.message,
            self.retry_after)


def snake_case(name):
    """A wire name as the Tea Python models spell it: InstanceId -> instance_id."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


# Where a Describe* answer keeps its items in the Tea Python models, and their model class.
TEA_ITEM_MODELS = {
    "DescribeCommands": (("commands", "command"), "DescribeCommandsResponseBodyCommandsCommand"),
    "DescribeInvocations": (("invocations", "invocation"),
                            "DescribeInvocationsResponseBodyInvocationsInvocation"),
    "DescribeInvocationResults": (
        ("invocation", "invocation_results", "invocation_result"),
        "DescribeInvocationResultsResponseBodyInvocationInvocationResultsInvocationResult"),
    "DescribeCloudAssistantStatus": (
        ("instance_cloud_assistant_status_set", "instance_cloud_assistant_status"),
        "DescribeCloudAssistantStatusResponseBodyInstanceCloudAssistantStatusSet"
        "InstanceCloudAssistantStatus"),
}


# Retry settings of a client (Client.retry): None keeps the SDK's defaults (what every other check
# uses), NO_RETRY disables retries explicitly, RETRY_THROTTLING retries Throttling.User once.
NO_RETRY = "no_retry"
RETRY_THROTTLING = "retry_throttling"


class RetrySetting:
    """`with client.retrying(NO_RETRY):` calls through a client built with that retry setting."""

    retry = None

    @contextlib.contextmanager
    def retrying(self, setting):
        saved, self.retry = self.retry, setting
        try:
            yield
        finally:
            self.retry = saved


class TeaClient(RetrySetting):
    """alibabacloud_ecs20140526 on alibabacloud-tea-openapi."""

    def __init__(self, name, endpoint, v1):
        from alibabacloud_ecs20140526 import models
        from alibabacloud_ecs20140526.client import Client
        from alibabacloud_tea_openapi import exceptions
        from alibabacloud_tea_openapi.utils_models import Config
        from darabonba.policy.retry import RetryOptions
        self.name, self.endpoint, self.v1 = name, endpoint, v1
        self.string_to_sign_prefix = "POST&%2F&" if v1 else "ACS3-HMAC-SHA256\n"
        # What the journal shows: V1 sends every parameter, signature included, in the query;
        # V3 signs in the Authorization header.
        self.http_method, self.signs_in_params = "POST", v1
        # tea-openapi raises ServerException for a 5xx, ThrottlingException for an answer
        # carrying x-acs-retry-after.
        self.server_error_type, self.throttling_error_type = "ServerException", "ThrottlingException"
        self.models, self.Client, self.Config, self.exceptions = models, Client, Config, exceptions
        self.RetryOptions = RetryOptions
        self.clients = {}

    def client(self, key, secret):
        if (key, secret, self.retry) not in self.clients:
            config = self.Config(access_key_id=key, access_key_secret=secret, endpoint=self.endpoint,
                                 protocol="http", region_id=REGION, read_timeout=15000,
                                 connect_timeout=5000)
            if self.v1:
                # tea-openapi 0.4.x: 'v2' routes an RPC action through do_rpcrequest (HMAC-SHA1).
                config.signature_algorithm = "v2"
            # tea-openapi 0.4.x retries only what Config.retry_options asks for (none by default).
            if self.retry == NO_RETRY:
                config.retry_options = self.RetryOptions({"retryable": False})
            elif self.retry == RETRY_THROTTLING:
                config.retry_options = self.RetryOptions({"retryable": True, "retryCondition": [{
                    "maxAttempts": 2, "exception": [], "errorCode": ["Throttling.User"],
                    "backoff": {"policy": "Fixed", "period": 100}, "maxDelay": 5000}]})
            self.clients[(key, secret, self.retry)] = self.Client(config)
        return self.clients[(key, secret, self.retry)]

    def raw(self, params, key=KEY, secret=SECRET):
        """The typed ListPluginStatusResponse."""
        request = self.models.ListPluginStatusRequest(
            region_id=params.get("RegionId", REGION),
            name=params.get("Name"),
            instance_id=params.get("InstanceIds"),
            page_number=params.get("PageNumber"),
            page_size=params.get("PageSize"),
            max_results=params.get("MaxResults"),
            next_token=params.get("NextToken"),
        )
        return self.client(key, secret).list_plugin_status(request)

    def page(self, params, key=KEY, secret=SECRET):
        body = self.raw(params, key, secret).body
        groups = []
        if body.instance_plugin_status_set is not None:
            for entry in body.instance_plugin_status_set.instance_plugin_status or []:
                items = entry.plugin_status_set.plugin_status if entry.plugin_status_set else []
                groups.append((entry.instance_id, [
                    (entry.instance_id, p.plugin_name, p.plugin_version, p.plugin_status,
                     p.first_heartbeat_time, p.last_heartbeat_time) for p in items or []]))
        return {"RequestId": body.request_id, "PageSize": body.page_size,
                "PageNumber": body.page_number, "TotalCount": body.total_count,
                "NextToken": body.next_token, "groups": groups}

    def error(self, exc):
        # Tea raises ClientException for a 4xx, ServerException for a 5xx.
        if not isinstance(exc, self.exceptions.AlibabaCloudException):
            return None
        # A 4xx or 5xx answered with x-acs-retry-after becomes ThrottlingException, with the
        # header's value as retry_after.
        return ErrorSeen(type(exc) is self.exceptions.ClientException, type(exc).__name__,
                         exc.code, exc.status_code, exc.request_id, exc.message,
                         retry_after=getattr(exc, "retry_after", None),
                         raw_message=(exc.data or {}).get("Message"))

    def call(self, action, params, key=KEY, secret=SECRET):
        """Any other action through the SDK's typed models: `params` (wire names) become the
        action's Request model (snake_case fields), and the answer is the map its typed
        ResponseBody holds (to_map), so a key the model does not know is lost, as in production.
        The Python models keep the JSON types (from_map converts nothing)."""
        m = self.models
        request = getattr(m, action + "Request")(**{snake_case(k): v for k, v in params.items()})
        response = getattr(self.client(key, secret), snake_case(action))(request)
        expect(isinstance(response, getattr(m, action + "Response")),
               "%s answered a %s" % (action, type(response).__name__))
        expect_eq(response.status_code, 200, "%s status_code" % action)
        body = response.body
        expect(isinstance(body, getattr(m, action + "ResponseBody")),
               "%s body is a %s" % (action, type(body).__name__))
        if action in TEA_ITEM_MODELS:
            path, model = TEA_ITEM_MODELS[action]
            items = body
            for field in path:
                items = getattr(items, field) if items is not None else None
            for item in items or []:
                expect(isinstance(item, getattr(m, model)),
                       "%s item is a %s, not %s" % (action, type(item).__name__, model))
        return body.to_map()

    def check_models(self):
        m = self.models
        response = self.raw({"Name": PLUGIN, "PageSize": 10})
        expect(isinstance(response, m.ListPluginStatusResponse), "response is %r" % type(response))
        expect_eq(response.status_code, 200, "status_code")
        body = response.body
        expect(isinstance(body, m.ListPluginStatusResponseBody), "body is %r" % type(body))
        expect(body.request_id, "no RequestId")
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        expect_eq(headers.get("x-acs-request-id"), body.request_id, "x-acs-request-id header")
        for field in ("page_size", "page_number", "total_count"):
            expect_int(getattr(body, field), field)
        expect_eq(body.page_size, 10, "PageSize")
        expect_eq(body.page_number, 1, "PageNumber")
        expected = expected_by_name(PLUGIN)
        expect_eq(body.total_count, len(expected), "TotalCount")
        expect(body.next_token, "no NextToken on a page that is not the last")
        pset = body.instance_plugin_status_set
        expect(isinstance(pset, m.ListPluginStatusResponseBodyInstancePluginStatusSet),
               "InstancePluginStatusSet is %r" % type(pset))
        records = []
        for entry in pset.instance_plugin_status:
            expect(isinstance(
                entry, m.ListPluginStatusResponseBodyInstancePluginStatusSetInstancePluginStatus),
                "InstancePluginStatus item is %r" % type(entry))
            expect(isinstance(
                entry.plugin_status_set,
                m.ListPluginStatusResponseBodyInstancePluginStatusSetInstancePluginStatusPluginStatusSet),
                "PluginStatusSet is %r" % type(entry.plugin_status_set))
            for p in entry.plugin_status_set.plugin_status:
                expect(isinstance(p, m.ListPluginStatusResponseBodyInstancePluginStatusSetInstancePluginStatusPluginStatusSetPluginStatus),
                       "PluginStatus item is %r" % type(p))
                records.append((entry.instance_id, p.plugin_name, p.plugin_version,
                                p.plugin_status, p.first_heartbeat_time, p.last_heartbeat_time))
        expect_records(records, expected[:10], "first page")
        check_not_installed(records)


class LegacyClient(RetrySetting):
    """aliyun-python-sdk-ecs's ListPluginStatusRequest on aliyun-python-sdk-core's AcsClient."""

    # aliyun-python-sdk-ecs sends ListPluginStatus as POST, every parameter in the query.
    http_method, signs_in_params = "POST", True
    server_error_type = throttling_error_type = "ServerException"

    def __init__(self, name, endpoint):
        from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
        from aliyunsdkcore.client import AcsClient
        from aliyunsdkecs.request.v20140526.ListPluginStatusRequest import ListPluginStatusRequest
        self.name = name
        self.host, self.port = endpoint.rsplit(":", 1)
        self.AcsClient, self.Request = AcsClient, ListPluginStatusRequest
        self.ServerException, self.ClientException = ServerException, ClientException
        self.clients = {}

    def client(self, key, secret):
        if (key, secret, self.retry) not in self.clients:
            # auto_retry defaults to True, but the default policy retries only the APIs listed
            # in the SDK's retry_config.json, which ListPluginStatus is not.
            auto_retry = self.retry != NO_RETRY
            self.clients[(key, secret, self.retry)] = self.AcsClient(
                key, secret, REGION, auto_retry=auto_retry, port=int(self.port), timeout=15,
                connect_timeout=5)
        return self.clients[(key, secret, self.retry)]

    def request(self, params):
        request = self.Request()
        request.set_endpoint(self.host)
        request.set_protocol_type("http")
        request.add_query_param("RegionId", params.get("RegionId", REGION))
        for field in ("Name", "PageNumber", "PageSize", "MaxResults", "NextToken"):
            if params.get(field) is not None:
                getattr(request, "set_" + field)(params[field])
        if params.get("InstanceIds") is not None:
            request.set_InstanceIds(params["InstanceIds"])
        return request

    def json(self, params, key=KEY, secret=SECRET):
        body = self.client(key, secret).do_action_with_exception(self.request(params))
        return json.loads(body)

    def call(self, action, params, key=KEY, secret=SECRET):
        """Any other action through aliyunsdkecs's own request class: set_<Name>(value) for
        each parameter, set_<Name>s(list) for a repeat list (InstanceId -> set_InstanceIds)."""
        module = importlib.import_module("aliyunsdkecs.request.v20140526.%sRequest" % action)
        request = getattr(module, action + "Request")()
        request.set_endpoint(self.host)
        request.set_protocol_type("http")
        for name, value in params.items():
            if name == "RegionId":
                # The request classes take the region from the client unless it is given.
                request.add_query_param("RegionId", value)
                continue
            setter = "set_%s%s" % (name, "s" if isinstance(value, list) else "")
            expect(hasattr(request, setter), "%sRequest has no %s" % (action, setter))
            getattr(request, setter)(value)
        return json.loads(self.client(key, secret).do_action_with_exception(request))

    def page(self, params, key=KEY, secret=SECRET):
        return page_from_json(self.json(params, key, secret))

    def error(self, exc):
        if isinstance(exc, self.ServerException):
            return ErrorSeen(True, "ServerException", exc.get_error_code(), exc.get_http_status(),
                             exc.get_request_id(), exc.get_error_msg(),
                             raw_message=exc.get_error_msg())
        if isinstance(exc, self.ClientException):
            return ErrorSeen(False, "ClientException", exc.get_error_code(), None, None,
                             exc.get_error_msg())
        return None

    def check_models(self):
        data = self.json({"Name": PLUGIN, "PageSize": 10})
        expect(isinstance(data.get("RequestId"), str) and data["RequestId"], "no RequestId")
        for field in ("PageSize", "PageNumber", "TotalCount"):
            expect_int(data.get(field), field)
        expect("Code" not in data, "a success body carries Code %r" % data.get("Code"))
        expect_eq(data["PageSize"], 10, "PageSize")
        expect_eq(data["PageNumber"], 1, "PageNumber")
        expected = expected_by_name(PLUGIN)
        expect_eq(data["TotalCount"], len(expected), "TotalCount")
        page = page_from_json(data)
        records = flatten(page)
        expect_records(records, expected[:10], "first page")
        check_not_installed(records)


def page_from_json(data):
    groups = []
    for entry in (data.get("InstancePluginStatusSet") or {}).get("InstancePluginStatus", []):
        items = (entry.get("PluginStatusSet") or {}).get("PluginStatus", [])
        groups.append((entry.get("InstanceId"), [
            (entry.get("InstanceId"), p.get("PluginName"), p.get("PluginVersion"),
             p.get("PluginStatus"), p.get("FirstHeartbeatTime"), p.get("LastHeartbeatTime"))
            for p in items]))
    return {k: data.get(k) for k in ("RequestId", "PageSize", "PageNumber", "TotalCount",
                                       "NextToken")} | {"groups": groups}


def flatten(page):
    return [r for _, records in page["groups"] for r in records]


def check_not_installed(records):
    not_installed = [r for r in records if r[3] == "NotInstalled"]
    expect(not_installed, "no NotInstalled record on the page to check")
    for r in not_installed:
        expect(r[2] == "" and r[4] == "" and r[5] == "",
               "NotInstalled record %r should have empty version and heartbeat times" % (r,))


# --------------------------------------------------------------------------------------------
# Checks shared by every client


def call_error(client, params, key=KEY, secret=SECRET):
    """Calls and returns what the client raised; fails if it did not raise."""
    try:
        page = client.page(params, key, secret)
    except Exception as exc:  # noqa: BLE001 - every client has its own exception types
        seen = client.error(exc)
        if seen is None:
            raise CheckFailed("raised %s: %s" % (type(exc).__name__, exc))
        return seen
    raise CheckFailed("no error raised; got a page with %d records" % len(flatten(page)))


def check_error(client, params, code, status, message):
    seen = call_error(client, params)
    expect(seen.type_ok, "unexpected exception type: %r" % seen)
    expect_eq(seen.code, code, "code (%r)" % seen)
    if seen.status is not None:
        expect_eq(seen.status, status, "HTTP status (%r)" % seen)
    expect(seen.request_id, "no request id in %r" % seen)
    expect(message in (seen.message or ""), "message %r does not contain %r" % (seen.message, message))


def walk_tokens(client, params, max_results=5, key=KEY, secret=SECRET):
    pages, token = [], None
    while True:
        query = dict(params, MaxResults=max_results)
        if token:
            query["NextToken"] = token
        page = client.page(query, key, secret)
        pages.append(page)
        expect(len(flatten(page)) <= max_results,
               "page %d has %d records, MaxResults=%d" % (len(pages), len(flatten(page)), max_results))
        token = page["NextToken"]
        if not token:
            return pages
        expect(len(pages) < 100, "more than 100 pages: the walk does not end")


def check_token_walk(client):
    expected = expected_by_name(PLUGIN)
    pages = walk_tokens(client, {"Name": PLUGIN})
    expect_records([r for p in pages for r in flatten(p)], expected, "records over all pages")
    expect_eq(len(pages), -(-len(expected) // 5), "number of pages")
    for i, page in enumerate(pages):
        expect_eq(page["PageNumber"], None, "PageNumber in token mode (page %d)" % (i + 1))
        expect_eq(page["PageSize"], None, "PageSize in token mode (page %d)" % (i + 1))
    # Without Name: every plug-in of one instance, ordered by name, grouped in one entry a page.
    expected = expected_by_instance(MANY_PLUGINS_INSTANCE)
    pages = walk_tokens(client, {"InstanceIds": [MANY_PLUGINS_INSTANCE]})
    expect_records([r for p in pages for r in flatten(p)], expected, "records of %s (no Name)"
                   % MANY_PLUGINS_INSTANCE)
    for i, page in enumerate(pages):
        expect_eq([g[0] for g in page["groups"]], [MANY_PLUGINS_INSTANCE],
                  "InstancePluginStatus entries of page %d (no Name)" % (i + 1))


def check_page_walk(client):
    expected = expected_by_name(PLUGIN)
    records, number = [], 1
    while True:
        page = client.page({"Name": PLUGIN, "PageNumber": number, "PageSize": 5})
        expect_eq(page["PageNumber"], number, "PageNumber")
        expect_eq(page["PageSize"], 5, "PageSize")
        expect_eq(page["TotalCount"], len(expected), "TotalCount (page %d)" % number)
        got = flatten(page)
        if not got:
            break
        last = number * 5 >= len(expected)
        expect(bool(page["NextToken"]) != last,
               "page %d: NextToken %r (last page: %s)" % (number, page["NextToken"], last))
        records += got
        number += 1
        expect(number < 100, "more than 100 pages")
    expect_records(records, expected, "records over all pages")
    expect_eq(number - 1, -(-len(expected) // 5), "number of non-empty pages")


def check_instance_ids(client):
    ids = ["i-sdk0005", "i-sdk0002", "i-sdk0014", "i-sdk0005"]
    page = client.page({"Name": PLUGIN, "InstanceIds": ids})
    by_id = {r[0]: r for r in expected_by_name(PLUGIN)}
    expect_records(flatten(page), [by_id[i] for i in ids[:3]],
                   "InstanceId.1..4 (a repeated id once, in N order)")
    expect_eq(page["TotalCount"], 3, "TotalCount")


def check_encoding(client):
    ids = ["i-sdk0001", "i-sdk0002"]
    page = client.page({"Name": EXOTIC_NAME, "InstanceIds": ids})
    by_id = {r[0]: r for r in expected_by_name(EXOTIC_NAME)}
    expect_records(flatten(page), [by_id[i] for i in ids], "Name=%r" % EXOTIC_NAME)
    page = client.page({"InstanceIds": ["i-sdk0001"]})
    expect_records(flatten(page), expected_by_instance("i-sdk0001"), "i-sdk0001 without Name")


def check_other_account(client):
    account = account_of(OTHER_KEY)
    page = client.page({"Name": PLUGIN}, OTHER_KEY, OTHER_SECRET)
    expect_records(flatten(page), expected_by_name(PLUGIN, account), "second account's listing")
    page = client.page({"Name": "other_private_plugin"}, OTHER_KEY, OTHER_SECRET)
    expect_records(flatten(page), expected_by_name("other_private_plugin", account),
                   "second account's private plug-in")


def check_signature_error(client, key, secret, code, status, message_part):
    seen = call_error(client, {"Name": PLUGIN}, key, secret)
    expect(seen.type_ok, "unexpected exception type: %r" % seen)
    expect_eq(seen.code, code, "code (%r)" % seen)
    if seen.status is not None:
        expect_eq(seen.status, status, "HTTP status (%r)" % seen)
    expect(seen.request_id, "no request id in %r" % seen)
    expect(message_part in (seen.message or ""),
           "message %r does not contain %r" % (seen.message, message_part))


def check_wrong_secret(client):
    marker = "server string to sign is:"
    check_signature_error(client, KEY, "wrong-secret", "SignatureDoesNotMatch", 400, marker)
    # The server's string to sign shows which signature style it verified.
    seen = call_error(client, {"Name": PLUGIN}, KEY, "wrong-secret")
    server_sts = seen.message.split(marker, 1)[1]
    expect(server_sts.startswith(client.string_to_sign_prefix),
           "server string to sign %r should start with %r (the client's signature style)"
           % (server_sts[:80], client.string_to_sign_prefix))


def check_legacy_wrong_secret(client):
    """aliyun-python-sdk-core compares the server's string to sign with its own on
    SignatureDoesNotMatch: when they are equal (the secret is the only thing wrong) it raises
    InvalidAccessKeySecret instead. So check both the raw answer and the exception."""
    seen = call_error(client, {"Name": PLUGIN}, KEY, "wrong-secret")
    expect(seen.type_ok, "unexpected exception type: %r" % seen)
    expect(seen.status is None or seen.status == 400, "HTTP status (%r)" % seen)
    expect(seen.request_id, "no request id in %r" % seen)
    request = client.request({"Name": PLUGIN})
    request.set_accept_format("JSON")
    raw = json.loads(client.client(KEY, "wrong-secret").do_action(request))
    expect_eq(raw.get("Code"), "SignatureDoesNotMatch", "Code of the raw answer (%r)" % raw)
    marker = "server string to sign is:"
    expect(marker in raw.get("Message", ""), "raw Message %r lacks %r" % (raw.get("Message"), marker))
    server_sts = raw["Message"].split(marker, 1)[1]
    expect_eq(server_sts, request.string_to_sign, "server string to sign vs the client's")
    expect_eq(seen.code, "InvalidAccessKeySecret",
              "code raised (the SDK maps SignatureDoesNotMatch with a matching string to sign "
              "to InvalidAccessKeySecret) (%r)" % seen)


def xml_text(element, tag):
    child = element.find(tag)
    return None if child is None else (child.text or "")


def page_from_xml(body):
    root = ET.fromstring(body)
    expect_eq(root.tag, "ListPluginStatusResponse", "XML root")
    page = {}
    for field in ("RequestId", "NextToken"):
        page[field] = xml_text(root, field)
    for field in ("PageSize", "PageNumber", "TotalCount"):
        text = xml_text(root, field)
        page[field] = None if text is None else int(text)
    groups = []
    for entry in root.findall("./InstancePluginStatusSet/InstancePluginStatus"):
        iid = xml_text(entry, "InstanceId")
        groups.append((iid, [
            (iid, xml_text(p, "PluginName"), xml_text(p, "PluginVersion"),
             xml_text(p, "PluginStatus"), xml_text(p, "FirstHeartbeatTime"),
             xml_text(p, "LastHeartbeatTime"))
            for p in entry.findall("./PluginStatusSet/PluginStatus")]))
    page["groups"] = groups
    return page


def check_legacy_xml(client):
    """do_action() keeps the accept format (do_action_with_exception forces JSON):
    set_accept_format('XML') puts Format=XML into the signed parameters."""
    acs = client.client(KEY, SECRET)
    for params in ({"Name": PLUGIN, "PageSize": 7}, {"InstanceIds": [MANY_PLUGINS_INSTANCE]},
                   {"Name": PLUGIN, "MaxResults": 4}, {"InstanceIds": ["i-sdk0001"]}):
        request = client.request(params)
        request.set_accept_format("XML")
        body = acs.do_action(request)
        expect("Format%3DXML" in request.string_to_sign,
               "Format=XML not among the signed parameters: %s" % request.string_to_sign)
        try:
            xml_page = page_from_xml(body)
        except ET.ParseError as exc:
            raise CheckFailed("XML does not parse (%s): %r" % (exc, body[:200]))
        json_page = client.page(params)
        expect(xml_page["RequestId"], "no RequestId in XML")
        for field in ("PageSize", "PageNumber", "TotalCount"):
            expect_eq(xml_page[field], json_page[field], "%s XML vs JSON (%r)" % (field, params))
        expect_eq(bool(xml_page["NextToken"]), bool(json_page["NextToken"]),
                  "NextToken presence XML vs JSON (%r)" % params)
        expect_eq(xml_page["groups"], json_page["groups"], "records XML vs JSON (%r)" % params)
        if xml_page["NextToken"]:
            # The XML answer's token continues the walk like the JSON one's.
            query = dict(params, NextToken=xml_page["NextToken"])
            if "MaxResults" not in query and "PageSize" in query:
                query["MaxResults"] = query["PageSize"]
            expect_eq(flatten(client.page(query)), flatten(client.page(
                dict(query, NextToken=json_page["NextToken"]))), "page after the XML NextToken")
    # An error in XML: root <Error> with the code.
    request = client.request({"Name": PLUGIN, "PageSize": 0})
    request.set_accept_format("XML")
    body = acs.do_action(request)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise CheckFailed("XML error does not parse (%s): %r" % (exc, body[:200]))
    expect_eq(root.tag, "Error", "XML error root")
    expect_eq(xml_text(root, "Code"), "InvalidParam.PageSize", "XML error Code")
    expect(xml_text(root, "RequestId"), "no RequestId in the XML error")


# --------------------------------------------------------------------------------------------
# Cloud Assistant (SPEC section 9): the workflow production code runs, through every client.
# The answers are compared in their wire form (the Tea clients' typed models give it back).

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def ca_instance(client):
    return CA_INSTANCES[client.name]


def items(body, *path):
    """The list at path (e.g. "Commands", "Command") of an answer; [] where a level is absent."""
    for key in path:
        body = (body or {}).get(key)
    return body or []


def expect_id(value, prefix, what):
    expect(isinstance(value, str) and re.fullmatch(re.escape(prefix) + "[0-9a-z]+", value),
           "%s %r is not a %s... id" % (what, value, prefix))


def expect_types(record, types, what):
    """Each named field is there with the SDK model's type (bool is not an int here)."""
    for field, kind in types.items():
        value = record.get(field)
        expect(type(value) is kind, "%s %s should be a %s, got %s %r" % (
            what, field, kind.__name__, type(value).__name__, value))


def invocation_results(client, **filters):
    body = client.call("DescribeInvocationResults", dict(filters, RegionId=REGION))
    return items(body, "Invocation", "InvocationResults", "InvocationResult")


def wait_for_invocation(client, invoke_id, interval=0.3, timeout=15.0):
    """Polls DescribeInvocationResults until no instance of the invocation is on its way any
    more, as production code waits for a run; answers the per-instance results."""
    deadline = time.monotonic() + timeout
    while True:
        results = invocation_results(client, InvokeId=invoke_id)
        if results and not any(r.get("InvocationStatus") in IN_PROGRESS for r in results):
            return results
        if time.monotonic() >= deadline:
            raise CheckFailed("invocation %s still on its way after %.0f s: %r"
                              % (invoke_id, timeout, results))
        time.sleep(interval)


def seconds_between(start, end):
    parse = lambda t: time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))  # noqa: E731
    return parse(end) - parse(start)


def check_ca_run_install(client):
    """RunCommand installs a plug-in; the caller polls the run, then sees the plug-in Running
    (at the catalog's highest version) in ListPluginStatus, reported at the run's end."""
    instance = ca_instance(client)
    query = {"Name": CA_PLUGIN, "InstanceIds": [instance]}
    expect_records(flatten(client.page(query)),
                   [(instance, CA_PLUGIN, "", "NotInstalled", "", "")], "before the run")
    content = "acs-plugin-manager --exec --plugin %s --params --install" % CA_PLUGIN
    run = client.call("RunCommand", {"RegionId": REGION, "Type": "RunShellScript",
                                     "CommandContent": content, "InstanceId": [instance]})
    expect(run.get("RequestId"), "RunCommand: no RequestId in %r" % run)
    expect_id(run.get("CommandId"), "c-", "CommandId")
    expect_id(run.get("InvokeId"), "t-", "InvokeId")
    invoke_id = run["InvokeId"]

    results = wait_for_invocation(client, invoke_id)
    expect_eq([r.get("InstanceId") for r in results], [instance], "instances of the run")
    result = results[0]
    expect_types(result, {"ExitCode": int, "Dropped": int, "Repeats": int, "StartTime": str,
                          "FinishedTime": str, "Output": str}, "InvocationResult")
    got = {k: result.get(k) for k in ("InvokeId", "CommandId", "InvocationStatus", "ExitCode",
                                      "InvokeRecordStatus", "ErrorCode", "ErrorInfo", "Output",
                                      "Repeats", "Dropped", "Username")}
    expect_eq(got, {"InvokeId": invoke_id, "CommandId": run["CommandId"],
                    "InvocationStatus": "Success", "ExitCode": 0, "InvokeRecordStatus": "Finished",
                    "ErrorCode": "", "ErrorInfo": "", "Output": "", "Repeats": 1, "Dropped": 0,
                    "Username": "root"}, "the finished run")
    started, finished = result["StartTime"], result["FinishedTime"]
    expect(RFC3339.match(started) and RFC3339.match(finished),
           "StartTime %r, FinishedTime %r" % (started, finished))
    expect_eq(seconds_between(started, finished), 1, "seconds from StartTime to FinishedTime")

    # The agent reported the plug-in when the run finished.
    expect_records(flatten(client.page(query)),
                   [(instance, CA_PLUGIN, catalog_highest(CA_PLUGIN), "Running", finished,
                     finished)], "ListPluginStatus after the run")

    body = client.call("DescribeInvocations", {"RegionId": REGION, "InvokeId": invoke_id})
    expect_eq(body.get("TotalCount"), 1, "DescribeInvocations TotalCount")
    invocation = items(body, "Invocations", "Invocation")[0]
    got = {k: invocation.get(k) for k in ("InvokeId", "CommandId", "InvocationStatus",
                                          "InvokeStatus", "CommandType", "CommandContent")}
    expect_eq(got, {"InvokeId": invoke_id, "CommandId": run["CommandId"],
                    "InvocationStatus": "Success", "InvokeStatus": "Finished",
                    "CommandType": "RunShellScript",
                    "CommandContent": base64.b64encode(content.encode()).decode()},
              "DescribeInvocations (content in Base64, the default)")
    per_instance = items(invocation, "InvokeInstances", "InvokeInstance")
    for entry in per_instance:
        expect_types(entry, {"ExitCode": int, "Repeats": int, "Dropped": int}, "InvokeInstance")
    expect_eq([{k: i.get(k) for k in ("InstanceId", "InvocationStatus", "InstanceInvokeStatus",
                                      "ExitCode", "StartTime", "FinishTime")}
               for i in per_instance],
              [{"InstanceId": instance, "InvocationStatus": "Success",
                "InstanceInvokeStatus": "Finished", "ExitCode": 0, "StartTime": started,
                "FinishTime": finished}], "InvokeInstances")


def check_ca_status(client):
    """DescribeCloudAssistantStatus of the client's instance and of agents in other states:
    values from the fixture, run counts as DescribeInvocationResults shows them, model types."""
    own = ca_instance(client)
    ids = [own] + AGENT_INSTANCES
    body = client.call("DescribeCloudAssistantStatus", {"RegionId": REGION, "InstanceId": ids})
    expect_types(body, {"RequestId": str, "TotalCount": int, "PageNumber": int, "PageSize": int},
                 "DescribeCloudAssistantStatus")
    expect_eq((body["TotalCount"], body["PageNumber"], body["PageSize"], body.get("NextToken")),
              (len(ids), 1, len(ids), None), "TotalCount, PageNumber, PageSize, NextToken")
    statuses = items(body, "InstanceCloudAssistantStatusSet", "InstanceCloudAssistantStatus")
    expect_eq([s.get("InstanceId") for s in statuses], ids, "instances, in request order")
    results = invocation_results(client, InstanceId=own)
    for status in statuses:
        instance = status["InstanceId"]
        what = "status of %s" % instance
        expect_types(status, {"CloudAssistantStatus": str, "CloudAssistantVersion": str,
                              "OSType": str, "LastHeartbeatTime": str, "LastInvokedTime": str,
                              "ActiveTaskCount": int, "InvocationCount": int,
                              "SupportSessionManager": bool}, what)
        want = expected_agent(instance)
        heartbeat = want.pop("LastHeartbeatTime")
        expect_eq({k: status[k] for k in want}, want, what)
        if heartbeat is None:
            expect(RFC3339.match(status["LastHeartbeatTime"]), "%s: LastHeartbeatTime %r of an "
                   "online agent" % (what, status["LastHeartbeatTime"]))
        else:
            expect_eq(status["LastHeartbeatTime"], heartbeat, "%s LastHeartbeatTime" % what)
        runs = results if instance == own else []
        starts = [r["StartTime"] for r in runs if r.get("StartTime")]
        # InvocationCount counts the runs that ran and ended.
        ended = ("Success", "Failed", "Timeout")
        expect_eq({k: status[k] for k in ("ActiveTaskCount", "InvocationCount", "LastInvokedTime")},
                  {"ActiveTaskCount": sum(r["InvocationStatus"] == "Running" for r in runs),
                   "InvocationCount": sum(r["InvocationStatus"] in ended for r in runs),
                   "LastInvokedTime": max(starts, default="")},
                  "%s run counts (DescribeInvocationResults shows %d runs)" % (what, len(runs)))


def check_ca_create_invoke(client):
    """A kept command: CreateCommand (Base64), InvokeCommand, DescribeCommands shows it invoked
    once, DeleteCommand; then it is gone and cannot be invoked."""
    instance = ca_instance(client)
    name = "sdk-%s-%s" % (client.name, RUN_TAG)
    script = "echo 'hello from %s \u4e2d'\nacs-plugin-manager --list --local\n" % client.name
    content = base64.b64encode(script.encode()).decode()
    created = client.call("CreateCommand", {
        "RegionId": REGION, "Name": name, "Type": "RunShellScript", "CommandContent": content,
        "ContentEncoding": "Base64", "Description": "SDK suite", "Timeout": 120})
    command_id = created.get("CommandId")
    expect_id(command_id, "c-", "CommandId")
    expect(created.get("RequestId"), "CreateCommand: no RequestId in %r" % created)
    invoked = client.call("InvokeCommand", {"RegionId": REGION, "CommandId": command_id,
                                            "InstanceId": [instance]})
    expect_id(invoked.get("InvokeId"), "t-", "InvokeId")

    body = client.call("DescribeCommands", {"RegionId": REGION, "CommandId": command_id})
    expect_eq(body.get("TotalCount"), 1, "DescribeCommands TotalCount")
    command = items(body, "Commands", "Command")[0]
    expect_types(command, {"InvokeTimes": int, "Timeout": int, "EnableParameter": bool,
                           "CreationTime": str}, "Command")
    got = {k: command.get(k) for k in ("CommandId", "Name", "Type", "Description",
                                       "CommandContent", "InvokeTimes", "Timeout",
                                       "EnableParameter", "Provider", "Category")}
    expect_eq(got, {"CommandId": command_id, "Name": name, "Type": "RunShellScript",
                    "Description": "SDK suite", "CommandContent": content, "InvokeTimes": 1,
                    "Timeout": 120, "EnableParameter": False, "Provider": "", "Category": ""},
              "the command (content in Base64, the default)")
    expect(RFC3339.match(command["CreationTime"]), "CreationTime %r" % command["CreationTime"])

    deleted = client.call("DeleteCommand", {"RegionId": REGION, "CommandId": command_id})
    expect(deleted.get("RequestId"), "DeleteCommand: no RequestId in %r" % deleted)
    body = client.call("DescribeCommands", {"RegionId": REGION, "CommandId": command_id})
    expect_eq((body.get("TotalCount"), items(body, "Commands", "Command")), (0, []),
              "DescribeCommands after DeleteCommand")
    seen = call_action_error(client, "InvokeCommand", {
        "RegionId": REGION, "CommandId": command_id, "InstanceId": [instance]})
    expect_ca_error(client, seen, "InvalidCmdId.NotFound")
    # The invocation keeps what it ran.
    body = client.call("DescribeInvocations", {"RegionId": REGION, "InvokeId": invoked["InvokeId"]})
    invocation = items(body, "Invocations", "Invocation")[0]
    expect_eq({k: invocation.get(k) for k in ("CommandId", "CommandName", "CommandContent")},
              {"CommandId": command_id, "CommandName": name, "CommandContent": content},
              "the invocation of the deleted command")


def call_action_error(client, action, params):
    """Calls and returns what the client raised; fails if it did not raise."""
    try:
        body = client.call(action, params)
    except CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - every client has its own exception types
        seen = client.error(exc)
        if seen is None:
            raise CheckFailed("%s raised %s: %s" % (action, type(exc).__name__, exc))
        return seen
    raise CheckFailed("%s answered %r instead of an error" % (action, body))


def expect_ca_error(client, seen, code):
    """The client's own exception for a refused call, with the code, HTTP status and message
    (exactly) of SPEC Appendix C."""
    status, message = CA_ERRORS[code]
    what = "%s (%r)" % (code, seen)
    expect(seen.type_ok, "exception type for %s" % what)
    expect_eq(seen.code, code, "code of %s" % what)
    expect_eq(seen.status, status, "HTTP status of %s" % what)
    expect(seen.request_id, "no request id in %s" % what)
    expect_eq(seen.raw_message, message, "Message of %s" % what)
    if isinstance(client, TeaClient):
        expect_eq(seen.message, "code: %d, %s request id: %s" % (status, message, seen.request_id),
                  "the exception's message")


def check_ca_errors(client):
    own = ca_instance(client)
    run = {"RegionId": REGION, "Type": "RunShellScript", "CommandContent": "echo hi"}
    cases = [
        ("RunCommand", dict(run, Type="Nope", InstanceId=[own]), "InvalidCmdType.NotFound"),
        ("RunCommand", run, "MissingParam.InstanceId"),
        ("RunCommand", dict(run, InstanceId=["i-sdkother01"]), "InvalidInstance.NotFound"),
        ("InvokeCommand", {"RegionId": REGION, "CommandId": "c-sdknosuchcmd001",
                           "InstanceId": [own]}, "InvalidCmdId.NotFound"),
        ("StopInvocation", {"RegionId": REGION, "InvokeId": "t-sdknosuchrun001"},
         "InvalidInvokeId.NotFound"),
    ]
    for action, params, code in cases:
        expect_ca_error(client, call_action_error(client, action, params), code)
    # Describe* filters match nothing for an unknown id; only StopInvocation refuses it.
    expect_eq(invocation_results(client, InvokeId="t-sdknosuchrun001"), [],
              "DescribeInvocationResults of an unknown InvokeId")


# --------------------------------------------------------------------------------------------
# The control plane: fault injection and the request journal


class Admin:
    """/_emulator over plain HTTP JSON, never through a proxy."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/") + "/_emulator"
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method, path, body=None, expected=(200,)):
        """Answers (parsed JSON or None, raw text); fails unless the status is expected."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if ADMIN_TOKEN:
            request.add_header("Authorization", "Bearer " + ADMIN_TOKEN)
        try:
            with self.opener.open(request, timeout=15) as response:
                status, text = response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        except OSError as exc:
            raise CheckFailed("control plane %s /_emulator%s: %s" % (method, path, exc))
        if status not in expected:
            raise CheckFailed("control plane %s /_emulator%s answered %d (expected %s): %s"
                              % (method, path, status, "/".join(map(str, expected)), text[:300]))
        return (json.loads(text) if text else None), text

    def add_fault(self, **spec):
        rule, _ = self.call("POST", "/faults", spec, expected=(201,))
        expect(isinstance(rule, dict) and rule.get("id"), "POST /faults answered %r" % (rule,))
        expect_eq(rule.get("fired"), 0, "fired of a new rule")
        return rule

    def fired(self, rule_id):
        rule, _ = self.call("GET", "/faults/" + urllib.parse.quote(rule_id))
        return rule.get("fired")

    def clear_faults(self):
        self.call("DELETE", "/faults", expected=(200, 204))

    def requests(self, **query):
        """The journal, newest first, and the raw JSON text it came in."""
        qs = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        body, text = self.call("GET", "/requests" + ("?" + qs if qs else ""))
        expect(isinstance(body, dict) and isinstance(body.get("requests"), list),
               "GET /requests answered %r" % (text[:200],))
        return body["requests"], text

    def clear_requests(self):
        self.call("DELETE", "/requests", expected=(200, 204))


def percent_encode(value):
    """RFC 3986, as RPC V1 signatures encode (space as %20, ~ kept, * as %2A)."""
    return urllib.parse.quote(value, safe="-_.~")


def v1_signature(method, params, secret):
    """The HMAC-SHA1 signature of an RPC V1 request with these parameters."""
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join("%s=%s" % (percent_encode(k), percent_encode(v)) for k, v in pairs)
    string_to_sign = "%s&%s&%s" % (method, percent_encode("/"), percent_encode(canonical))
    digest = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@contextlib.contextmanager
def one_fault(admin, **spec):
    """A fresh fault rule (and an empty journal) for the duration of a check; every rule is
    cleared afterwards, whatever happened, so a failure does not leak into the next check."""
    admin.clear_faults()
    admin.clear_requests()
    try:
        yield admin.add_fault(**spec)
    finally:
        admin.clear_faults()


def expect_fault_error(seen, code, exception_type):
    status, message = FAULT_ERRORS[code]
    expect_eq(seen.type_name, exception_type, "exception type (%r)" % seen)
    expect_eq(seen.code, code, "code (%r)" % seen)
    expect_eq(seen.status, status, "HTTP status (%r)" % seen)
    expect(seen.request_id, "no request id in %r" % seen)
    expect(message in (seen.message or ""),
           "message %r does not contain %r" % (seen.message, message))


def expect_first_page(page, what):
    expect(page["RequestId"], "%s: no RequestId" % what)
    expect_records(flatten(page), expected_by_name(PLUGIN)[:5], what)


def expect_journal(admin, outcomes, what):
    """The journal holds exactly these ListPluginStatus requests, newest first: one
    (request id, status, code) each. So the SDK sent each call once: no retry hid the fault."""
    requests, _ = admin.requests()
    got = [(r.get("requestId"), r.get("action"), r.get("status"), r.get("code")) for r in requests]
    want = [(rid, "ListPluginStatus", status, code) for rid, status, code in outcomes]
    expect_eq(got, want, "journal after %s (newest first)" % what)


def check_fault(client, admin, code, exception_type):
    """A `times: 1` fault fails the first call with the SDK's own exception, and only it."""
    status = FAULT_ERRORS[code][0]
    params = {"Name": PLUGIN, "PageSize": 5}
    with one_fault(admin, code=code, times=1) as rule:
        with client.retrying(NO_RETRY):
            seen = call_error(client, params)
            expect_fault_error(seen, code, exception_type)
            expect_eq(admin.fired(rule["id"]), 1, "fired after the failed call")
            page = client.page(params)
        expect_first_page(page, "the call after the fault")
        expect_eq(admin.fired(rule["id"]), 1, "fired after the next call (times: 1)")
        expect_journal(admin, [(page["RequestId"], 200, ""), (seen.request_id, status, code)],
                       "the failed call and the next one")
    return seen


def check_dispatch_fault(client, admin):
    check_fault(client, admin, "InternalError.Dispatch", client.server_error_type)


def check_unavailable_fault(client, admin):
    seen = check_fault(client, admin, "ServiceUnavailable", client.server_error_type)
    if seen.retry_after is not None:
        raise CheckFailed("retry_after %r on ServiceUnavailable (only Throttling* has one)"
                          % seen.retry_after)


def check_throttling_fault(client, admin):
    seen = check_fault(client, admin, "Throttling.User", client.throttling_error_type)
    if isinstance(client, TeaClient):
        # tea-openapi reads x-acs-retry-after into ThrottlingException.retry_after.
        expect_eq(seen.retry_after, DEFAULT_RETRY_AFTER_MS, "retry_after (x-acs-retry-after)")
    if isinstance(client, LegacyClient):
        # The legacy exception carries no headers; the (deprecated, public)
        # implementation_of_do_action answers status, headers and body.
        with one_fault(admin, code="Throttling.User", times=1), client.retrying(NO_RETRY):
            request = client.request({"Name": PLUGIN})
            request.set_accept_format("JSON")
            status, headers, body = client.client(KEY, SECRET).implementation_of_do_action(request)
            expect_eq(status, 400, "status of the raw throttled answer")
            headers = {k.lower(): v for k, v in headers.items()}
            expect_eq(headers.get("x-acs-retry-after"), str(DEFAULT_RETRY_AFTER_MS),
                      "x-acs-retry-after header")
            expect_eq(json.loads(body).get("Code"), "Throttling.User", "Code of the raw answer")
            expect_first_page(client.page({"Name": PLUGIN, "PageSize": 5}),
                              "the call after the raw throttled one")


def check_throttling_auto_retry(client, admin):
    """With a retry condition on Throttling.User, the SDK retries on its own, waiting what
    x-acs-retry-after asks (1000 ms), and the call succeeds: the fault fires once, the journal
    shows both attempts."""
    with one_fault(admin, code="Throttling.User", times=1) as rule:
        with client.retrying(RETRY_THROTTLING):
            started = time.monotonic()
            page = client.page({"Name": PLUGIN, "PageSize": 5})
            elapsed = time.monotonic() - started
        expect_first_page(page, "the retried call")
        expect_eq(admin.fired(rule["id"]), 1, "fired")
        requests, _ = admin.requests()
        expect_eq([(r.get("status"), r.get("code")) for r in requests],
                  [(200, ""), (400, "Throttling.User")], "journal: the attempts, newest first")
        expect_eq(requests[0].get("requestId"), page["RequestId"], "request id of the retry")
        expect(elapsed >= DEFAULT_RETRY_AFTER_MS / 1000 - 0.05,
               "the SDK retried after %.3f s; x-acs-retry-after asked for %d ms"
               % (elapsed, DEFAULT_RETRY_AFTER_MS))


def check_journal(client, admin):
    """The newest journal entry is the call just made, with the parameters the SDK sent, the
    signature redacted and the secret nowhere."""
    admin.clear_requests()
    ids = ["i-sdk0001", "i-sdk0002"]
    page = client.page({"Name": PLUGIN, "InstanceIds": ids, "PageSize": 5})
    requests, text = admin.requests(limit=1)
    expect_eq(len(requests), 1, "entries with limit=1")
    entry = requests[0]
    expect_eq(entry.get("requestId"), page["RequestId"], "requestId")
    expect_eq(entry.get("action"), "ListPluginStatus", "action")
    expect_eq(entry.get("method"), client.http_method, "method")
    expect_eq((entry.get("status"), entry.get("code")), (200, ""), "status and code")
    expect(entry.get("time"), "no time")
    params = entry.get("params") or {}
    sent = {"RegionId": REGION, "Name": PLUGIN, "InstanceId.1": ids[0], "InstanceId.2": ids[1],
            "PageSize": "5"}
    expect_eq({k: params.get(k) for k in sent}, sent, "params the SDK sent (%r)" % params)
    if client.signs_in_params:
        common = {"Action": "ListPluginStatus", "Version": "2014-05-26", "AccessKeyId": KEY,
                  "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "Signature": "***"}
        expect_eq({k: params.get(k) for k in common}, common, "V1 common params (%r)" % params)
        expect(params.get("SignatureNonce") and params.get("Timestamp"),
               "no SignatureNonce or Timestamp in %r" % params)
        # The signature the SDK computed (the server verified it, so it is this one if the
        # journal kept every other parameter as received) appears nowhere.
        signature = v1_signature(entry["method"], params, SECRET)
        for form in (signature, percent_encode(signature), json.dumps(signature)[1:-1]):
            expect(form not in text, "the request's signature %r is in the journal" % form)
    else:
        expect("Signature" not in params, "a V3 request has no Signature parameter: %r" % params)
    _, full_text = admin.requests()
    for where in (text, full_text):
        expect(SECRET not in where, "the AccessKeySecret %r is in the journal: %s"
               % (SECRET, where[:300]))


def run_client(client, admin, results):
    checks = [
        ("page_models", client.check_models),
        ("instance_ids", lambda: check_instance_ids(client)),
        ("encoding", lambda: check_encoding(client)),
        ("token_walk", lambda: check_token_walk(client)),
        ("page_walk", lambda: check_page_walk(client)),
    ]
    for name, params, code in ERROR_CASES:
        status, message = VENDOR_ERRORS[code]
        checks.append(("error/" + name,
                       lambda p=params, c=code, s=status, m=message: check_error(client, p, c, s, m)))
    if isinstance(client, LegacyClient):
        checks.append(("signature/wrong_secret", lambda: check_legacy_wrong_secret(client)))
    else:
        checks.append(("signature/wrong_secret", lambda: check_wrong_secret(client)))
    checks += [
        ("signature/unknown_key", lambda: check_signature_error(
            client, UNKNOWN_KEY, "whatever", "InvalidAccessKeyId.NotFound", 404,
            "Specified access key is not found.")),
        ("signature/disabled_key", lambda: check_signature_error(
            client, DISABLED_KEY, DISABLED_SECRET, "InvalidAccessKeyId.Inactive", 400,
            "Specified access key is disabled.")),
        ("other_account", lambda: check_other_account(client)),
    ]
    if isinstance(client, LegacyClient):
        checks.append(("xml", lambda: check_legacy_xml(client)))
    checks += [
        ("error/InternalError.Dispatch", lambda: check_dispatch_fault(client, admin)),
        ("fault/Throttling.User", lambda: check_throttling_fault(client, admin)),
        ("fault/ServiceUnavailable", lambda: check_unavailable_fault(client, admin)),
        ("journal", lambda: check_journal(client, admin)),
    ]
    if isinstance(client, TeaClient):
        checks.append(("fault/Throttling.User_auto_retry",
                       lambda: check_throttling_auto_retry(client, admin)))
    # In this order: the status check counts the runs of the client's instance while none is on
    # its way (the install run has ended; the invoked command has not started yet).
    checks += [
        ("ca/run_install_poll_list", lambda: check_ca_run_install(client)),
        ("ca/cloud_assistant_status", lambda: check_ca_status(client)),
        ("ca/create_invoke_describe_delete", lambda: check_ca_create_invoke(client)),
        ("ca/errors", lambda: check_ca_errors(client)),
    ]
    for name, check in checks:
        try:
            check()
        except CheckFailed as exc:
            results.append(False)
            print("FAIL %s %s: %s" % (client.name, name, exc), flush=True)
        except Exception as exc:  # noqa: BLE001 - report, never stop the run
            results.append(False)
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print("FAIL %s %s: unexpected %s: %s (at %s:%d)" % (
                client.name, name, type(exc).__name__, str(exc).replace("\n", " ")[:500],
                os.path.basename(where.filename), where.lineno), flush=True)
        else:
            results.append(True)
            print("PASS %s %s" % (client.name, name), flush=True)


def main(argv):
    if len(argv) < 2 or not argv[1].startswith("http://"):
        print(__doc__, file=sys.stderr)
        return 2
    endpoint = argv[1][len("http://"):].rstrip("/")
    admin = Admin(argv[1])
    results = []
    try:
        # Rules left by an earlier run against the same emulator would fail unrelated checks.
        admin.clear_faults()
    except CheckFailed as exc:
        results.append(False)
        print("FAIL py_control_plane setup: %s" % exc, flush=True)
    wanted = set(argv[2:])
    warnings.simplefilter("ignore")
    # aliyunsdkcore logs every ServerException at ERROR; keep the output to check lines.
    logging.getLogger("aliyunsdkcore").addHandler(logging.NullHandler())
    logging.getLogger("aliyunsdkcore").propagate = False
    factories = {
        "py_tea_v3": lambda: TeaClient("py_tea_v3", endpoint, v1=False),
        "py_tea_v1": lambda: TeaClient("py_tea_v1", endpoint, v1=True),
        "py_legacy": lambda: LegacyClient("py_legacy", endpoint),
    }
    for name, factory in factories.items():
        if wanted and name not in wanted:
            continue
        try:
            client = factory()
        except Exception as exc:  # noqa: BLE001
            results.append(False)
            print("FAIL %s setup: %s: %s" % (name, type(exc).__name__, exc), flush=True)
            continue
        run_client(client, admin, results)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
