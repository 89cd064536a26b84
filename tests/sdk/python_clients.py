#!/usr/bin/env python3
"""Drives the official Python Alibaba Cloud clients against a running ecs-emulator.

    python_clients.py http://127.0.0.1:PORT [CLIENT ...]

Clients: py_tea_v3 (alibabacloud_ecs20140526, ACS3-HMAC-SHA256), py_tea_v1 (the same with
Config.signature_algorithm='v2', RPC HMAC-SHA1), py_legacy (aliyun-python-sdk-ecs on
aliyun-python-sdk-core, HMAC-SHA1). Prints one line per check, `PASS client check` or
`FAIL client check: reason` (or `SKIP client check: reason`), and exits 1 if any check failed.
The expected data is computed from fixture.json next to this file, which the emulator serves.

The fault/* and journal checks drive the emulator's control plane (/_emulator/faults and
/_emulator/requests), sending `Authorization: Bearer $ECS_EMULATOR_ADMIN_TOKEN` when that
variable is set. They assume nothing else talks to the emulator meanwhile.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
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


# The vendor's error table (README "Error codes"): code -> (HTTP status, message).
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
    x-acs-retry-after) stays None where the client does not expose it."""

    def __init__(self, type_ok, type_name, code, status, request_id, message, retry_after=None):
        self.type_ok, self.type_name = type_ok, type_name
        self.code, self.status, self.request_id, self.message = code, status, request_id, message
        self.retry_after = retry_after

    def __repr__(self):
        return "%s(code=%r, status=%r, request_id=%r, message=%r, retry_after=%r)" % (
            self.type_name, self.code, self.status, self.request_id, self.message,
            self.retry_after)


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
                         retry_after=getattr(exc, "retry_after", None))

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

    def page(self, params, key=KEY, secret=SECRET):
        return page_from_json(self.json(params, key, secret))

    def error(self, exc):
        if isinstance(exc, self.ServerException):
            return ErrorSeen(True, "ServerException", exc.get_error_code(), exc.get_http_status(),
                             exc.get_request_id(), exc.get_error_msg())
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
