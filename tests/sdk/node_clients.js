#!/usr/bin/env node
// Drives the official Node.js Alibaba Cloud clients against a running ecs-emulator.
//
//     node node_clients.js http://127.0.0.1:PORT [CLIENT ...]
//
// Clients: node_tea_v3 (@alicloud/ecs20140526, ACS3-HMAC-SHA256), node_tea_v1 (the same with
// Config.signatureAlgorithm 'v2', RPC HMAC-SHA1), node_popcore_get and node_popcore_post
// (@alicloud/pop-core RPCClient, GET and `method: 'POST'`). Prints one line per check,
// `PASS client check` or `FAIL client check: reason` (or `SKIP client check: reason`), and exits
// 1 if any check failed. The expected data is computed from fixture.json next to this file.
//
// The ca/* checks drive the Cloud Assistant workflow (SPEC section 9) as production code does: run
// `acs-plugin-manager` on an instance, poll the invocation until it ends, then ListPluginStatus;
// create, invoke, describe and delete a kept command; the agent's status; typed errors. Each
// client works on an instance of its own (CA_INSTANCES), so the clients do not see each other's
// runs.
//
// The fault/* and journal checks drive the emulator's control plane (/_emulator/faults and
// /_emulator/requests), sending `Authorization: Bearer $ECS_EMULATOR_ADMIN_TOKEN` when that
// variable is set. They assume nothing else talks to the emulator meanwhile.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

const REGION = 'cn-hangzhou';
const PLUGIN = 'ecs_tools_test';
const MANY_PLUGINS_INSTANCE = 'i-sdk0007';
const KEY = 'testid';
const SECRET = 'testsecret';
const DISABLED_KEY = 'LTAI5tSdkDisabled01';
const DISABLED_SECRET = 'disabled-secret';
const OTHER_KEY = 'LTAI5tSdkOther0001';
const OTHER_SECRET = 'other-secret';
const UNKNOWN_KEY = 'LTAI5tNoSuchKey0000';
// Every character the clients encode differently (space as + or %20, * ! ' ( ) left as is or
// escaped, non-ASCII): the signature must verify and the name come back intact.
const EXOTIC_NAME = "a b/*~+=&\u4e2d'!()@:,;$";
// The Cloud Assistant checks: a catalog plug-in no instance has, and an instance of the default
// account in REGION per client, none with a plug-in in the fixture, so a client's runs and
// installs stay on its own instance. AGENT_INSTANCES are read-only: agents in other states.
const CA_PLUGIN = 'sdk_ca_demo';
const CA_INSTANCES = {
  node_tea_v3: 'i-sdkca04',
  node_tea_v1: 'i-sdkca05',
  node_popcore_get: 'i-sdkca06',
  node_popcore_post: 'i-sdkca07',
};
const AGENT_INSTANCES = ['i-sdkcawin01', 'i-sdkcaoff01', 'i-sdkcanone01'];
// Sets the names this run creates apart from an earlier run's against the same emulator.
const RUN_TAG = crypto.randomBytes(3).toString('hex');

// ---------------------------------------------------------------------------------------------
// Expected data, from the fixture

const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixture.json'), 'utf8'));
const DEFAULT_ACCOUNT = FIXTURE.accounts.find((a) => a.default).accountId;

function accountOf(keyId) {
  return FIXTURE.accounts.find((a) => (a.accessKeys || []).some((k) => k.id === keyId)).accountId;
}

// Code-point order, as the emulator sorts (not localeCompare).
const byString = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function instancesOf(account, region) {
  return FIXTURE.instances
    .filter((i) => (i.accountId || DEFAULT_ACCOUNT) === account && i.regionId === region)
    .sort((a, b) => byString(a.instanceId, b.instanceId));
}

function record(instanceId, p) {
  return [instanceId, p.name, p.version || '', p.status, p.firstHeartbeatTime || '',
    p.lastHeartbeatTime || ''];
}

function expectedByName(name, account = DEFAULT_ACCOUNT, region = REGION) {
  return instancesOf(account, region).map((inst) => {
    const p = inst.plugins.find((q) => q.name === name);
    return p ? record(inst.instanceId, p) : [inst.instanceId, name, '', 'NotInstalled', '', ''];
  });
}

function expectedByInstance(instanceId, account = DEFAULT_ACCOUNT, region = REGION) {
  const inst = instancesOf(account, region).find((i) => i.instanceId === instanceId);
  return [...inst.plugins].sort((a, b) => byString(a.name, b.name))
    .map((p) => record(instanceId, p));
}

function fixtureInstance(instanceId, account = DEFAULT_ACCOUNT, region = REGION) {
  return instancesOf(account, region).find((i) => i.instanceId === instanceId);
}

// Dotted whole numbers, compared numerically (1.10.0 above 1.9.0).
function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0);
  }
  return 0;
}

// The version `acs-plugin-manager --exec` installs when none is asked for.
function catalogHighest(name) {
  const entry = FIXTURE.catalog.find((e) => e.name === name);
  return [...entry.versions].sort(compareVersions).pop();
}

// The agent an instance has when the fixture names no version (the oldest that reports plug-in
// states), and the oldest that supports the session manager, by OS (SPEC 9.6).
const DEFAULT_AGENT_VERSION = { Linux: '2.2.3.344', FreeBSD: '2.2.3.344', Windows: '2.1.3.344' };
const SESSION_MANAGER_MIN = { Linux: '2.2.3.189', FreeBSD: '2.2.3.189', Windows: '2.1.3.189' };

// DescribeCloudAssistantStatus's agent fields for a fixture instance; LastHeartbeatTime is null
// where it is the emulator's now (an online agent).
function expectedAgent(instanceId) {
  const inst = fixtureInstance(instanceId);
  const osType = inst.osType || 'Linux';
  const agent = inst.cloudAssistant || {};
  const installed = agent.installed !== false;
  const online = agent.online !== false;
  const version = agent.version || DEFAULT_AGENT_VERSION[osType];
  const up = installed && online;
  return {
    CloudAssistantStatus: up ? 'true' : 'false',
    CloudAssistantVersion: up ? version : '',
    OSType: osType,
    SupportSessionManager: installed && compareVersions(version, SESSION_MANAGER_MIN[osType]) >= 0,
    LastHeartbeatTime: online ? null : agent.lastHeartbeatTime || '',
  };
}

// The vendor's error table (docs/errors.md): code -> [HTTP status, message].
const VENDOR_ERRORS = {
  'InvalidParam.PageNumber': [400, 'The specified parameter PageNumber is invalid.'],
  'InvalidParam.PageSize': [400, 'The specified parameter PageSize is invalid.'],
  'PluginName.MissingValue': [400,
    'The plugin name must be specified when the number of InstanceIds is not 1.'],
  'InstanceIds.ExceedLimit': [400, 'The number of instance IDs exceeds the upper limit.'],
  'InvalidParameter.NextToken': [400, 'The specified parameter NextToken is not valid.'],
  'InvalidParameter.MaxResults': [400, 'The specified parameter MaxResults is not valid.'],
  'InvalidInstance.NotFound': [404, 'The specified instance does not exist.'],
  'InvalidPluginName.NotFound': [404, 'The specified plugin name does not exist.'],
};

const ids51 = Array.from({ length: 51 }, (_, n) => `i-sdk${String(n + 1).padStart(4, '0')}`);
const ERROR_CASES = [
  ['InvalidParam.PageNumber(PageNumber=0)', { Name: PLUGIN, PageNumber: 0 }, 'InvalidParam.PageNumber'],
  ['InvalidParam.PageSize(PageSize=0)', { Name: PLUGIN, PageSize: 0 }, 'InvalidParam.PageSize'],
  ['InvalidParam.PageSize(PageSize=51)', { Name: PLUGIN, PageSize: 51 }, 'InvalidParam.PageSize'],
  ['PluginName.MissingValue(2_ids_no_Name)', { InstanceIds: ['i-sdk0001', 'i-sdk0002'] },
    'PluginName.MissingValue'],
  ['InstanceIds.ExceedLimit(51_ids)', { Name: PLUGIN, InstanceIds: ids51 }, 'InstanceIds.ExceedLimit'],
  ['InvalidParameter.NextToken(garbage)', { Name: PLUGIN, NextToken: 'not-a-token-at-all' },
    'InvalidParameter.NextToken'],
  ['InvalidParameter.MaxResults(MaxResults=51)', { Name: PLUGIN, MaxResults: 51 },
    'InvalidParameter.MaxResults'],
  ['InvalidInstance.NotFound(unknown_id)', { Name: PLUGIN, InstanceIds: ['i-sdk9999'] },
    'InvalidInstance.NotFound'],
  ["InvalidInstance.NotFound(other_account's_id)", { Name: PLUGIN, InstanceIds: ['i-sdkother01'] },
    'InvalidInstance.NotFound'],
  ['InvalidPluginName.NotFound(unknown_name)', { Name: 'no_such_plugin' }, 'InvalidPluginName.NotFound'],
  ["InvalidPluginName.NotFound(other_account's_name)", { Name: 'other_private_plugin' },
    'InvalidPluginName.NotFound'],
];

// Cloud Assistant codes (SPEC Appendix C): code -> [HTTP status, message].
const CA_ERRORS = {
  'MissingParam.InstanceId': [400, 'The parameter instanceId is missing or empty.'],
  'InvalidCmdType.NotFound': [404, 'The specified command type does not exist.'],
  'InvalidCmdId.NotFound': [404, 'The specified command ID does not exist.'],
  'InvalidInvokeId.NotFound': [404, 'The specified invoke ID does not exist.'],
  'InvalidInstance.NotFound': [404, 'The specified instance does not exist.'],
};
// Per-instance InvocationStatus values of a run still on its way (vendor); any other is final.
const IN_PROGRESS = new Set(['Pending', 'Scheduled', 'Running', 'Stopping']);

// Fault codes the emulator injects, as the vendor answers them: code -> [HTTP status, message].
const FAULT_ERRORS = {
  'InternalError.Dispatch': [500, 'An error occurred when you dispatched the request.'],
  'Throttling.User': [400, 'Request was denied due to user flow control.'],
  ServiceUnavailable: [503, 'The request has failed due to a temporary failure of the server.'],
};
// x-acs-retry-after (milliseconds) of a Throttling* fault that names none.
const DEFAULT_RETRY_AFTER_MS = 1000;
const ADMIN_TOKEN = process.env.ECS_EMULATOR_ADMIN_TOKEN || undefined;

// Retry settings of a client (client.retry): undefined keeps the SDK's defaults (what every other
// check uses), NO_RETRY disables retries explicitly, RETRY_THROTTLING retries Throttling.User once.
const NO_RETRY = 'no_retry';
const RETRY_THROTTLING = 'retry_throttling';

class CheckFailed extends Error {}

function expect(condition, reason) {
  if (!condition) throw new CheckFailed(reason);
}

const show = (v) => JSON.stringify(v);

function expectEq(actual, expected, what) {
  if (show(actual) !== show(expected)) {
    throw new CheckFailed(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

function expectNumber(value, what) {
  expect(typeof value === 'number' && Number.isInteger(value),
    `${what} should be an integer number, got ${typeof value} ${show(value)}`);
}

function diffRecords(actual, expected) {
  const key = (r) => `${r[0]}/${r[1]}`;
  if (actual.length !== expected.length) {
    const seen = new Map();
    actual.forEach((r) => seen.set(key(r), (seen.get(key(r)) || 0) + 1));
    const wanted = new Set(expected.map(key));
    const dup = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    const missing = expected.map(key).filter((k) => !seen.has(k));
    const extra = [...seen.keys()].filter((k) => !wanted.has(k));
    return `${actual.length} records instead of ${expected.length} (repeated: ${show(dup.slice(0, 5))}; `
      + `missing: ${show(missing.slice(0, 5))}; unexpected: ${show(extra.slice(0, 5))})`;
  }
  for (let i = 0; i < actual.length; i++) {
    if (show(actual[i]) !== show(expected[i])) {
      return `record ${i} is ${show(actual[i])}, expected ${show(expected[i])}`;
    }
  }
  return 'equal';
}

function expectRecords(actual, expected, what) {
  if (show(actual) !== show(expected)) throw new CheckFailed(`${what}: ${diffRecords(actual, expected)}`);
}

const flatten = (page) => page.groups.flatMap(([, records]) => records);

function checkNotInstalled(records) {
  const notInstalled = records.filter((r) => r[3] === 'NotInstalled');
  expect(notInstalled.length > 0, 'no NotInstalled record on the page to check');
  for (const r of notInstalled) {
    expect(r[2] === '' && r[4] === '' && r[5] === '',
      `NotInstalled record ${show(r)} should have empty version and heartbeat times`);
  }
}

// ---------------------------------------------------------------------------------------------
// Clients. Each adapter turns logical parameters into the client's own request, and its
// response into a plain page: {RequestId, PageSize, PageNumber, TotalCount, NextToken, groups}.

class TeaClient {
  constructor(name, endpoint, v1) {
    this.name = name;
    this.endpoint = endpoint;
    this.v1 = v1;
    this.stringToSignPrefix = v1 ? 'POST&%2F&' : 'ACS3-HMAC-SHA256\n';
    // What the journal shows: V1 sends every parameter, signature included, in the query;
    // V3 signs in the Authorization header.
    this.httpMethod = 'POST';
    this.signsInParams = v1;
    // openapi-core throws ServerError for a 5xx, ThrottlingError for any code with Throttling.
    this.serverErrorType = 'ServerError';
    this.throttlingErrorType = 'ThrottlingError';
    this.ecs = require('@alicloud/ecs20140526');
    this.core = require('@alicloud/openapi-core');
    // The retry classes of the very copy of @darabonba/typescript that openapi-core uses.
    this.dara = require(require.resolve('@darabonba/typescript',
      { paths: [path.dirname(require.resolve('@alicloud/openapi-core'))] }));
    this.retry = undefined;
    this.clients = new Map();
  }

  client(key, secret) {
    const id = `${key}\n${secret}\n${this.retry}`;
    if (!this.clients.has(id)) {
      const config = new this.core.$OpenApiUtil.Config({
        accessKeyId: key, accessKeySecret: secret, endpoint: this.endpoint, protocol: 'http',
        regionId: REGION, readTimeout: 15000, connectTimeout: 5000,
      });
      // openapi-core 1.0.x: 'v2' routes an RPC action through doRPCRequest (HMAC-SHA1).
      if (this.v1) config.signatureAlgorithm = 'v2';
      // openapi-core 1.0.x retries only what Config.retryOptions asks for (none by default).
      if (this.retry === NO_RETRY) {
        config.retryOptions = new this.dara.RetryOptions({ retryable: false });
      } else if (this.retry === RETRY_THROTTLING) {
        config.retryOptions = new this.dara.RetryOptions({
          retryable: true,
          retryCondition: [{
            maxAttempts: 2, exception: [], errorCode: ['Throttling.User'],
            backoff: { policy: 'Fixed', period: 100 }, maxDelay: 5000,
          }],
        });
      }
      this.clients.set(id, new this.ecs.default(config));
    }
    return this.clients.get(id);
  }

  async raw(params, key = KEY, secret = SECRET) {
    const request = new this.ecs.ListPluginStatusRequest({
      regionId: params.RegionId || REGION,
      name: params.Name,
      instanceId: params.InstanceIds,
      pageNumber: params.PageNumber,
      pageSize: params.PageSize,
      maxResults: params.MaxResults,
      nextToken: params.NextToken,
    });
    return this.client(key, secret).listPluginStatus(request);
  }

  async page(params, key = KEY, secret = SECRET) {
    const body = (await this.raw(params, key, secret)).body;
    const entries = (body.instancePluginStatusSet && body.instancePluginStatusSet.instancePluginStatus) || [];
    return {
      RequestId: body.requestId,
      PageSize: body.pageSize,
      PageNumber: body.pageNumber,
      TotalCount: body.totalCount,
      NextToken: body.nextToken,
      groups: entries.map((e) => [e.instanceId,
        ((e.pluginStatusSet && e.pluginStatusSet.pluginStatus) || []).map((p) => [e.instanceId,
          p.pluginName, p.pluginVersion, p.pluginStatus, p.firstHeartbeatTime, p.lastHeartbeatTime])]),
    };
  }

  error(err) {
    // Tea throws ClientError for a 4xx, ServerError for a 5xx (ThrottlingError for Throttling*).
    if (!(err instanceof this.core.AlibabaCloudError)) return null;
    return {
      typeOk: err instanceof this.core.ClientError && err.name === 'ClientError',
      type: err.name, code: err.code, status: err.statusCode, requestId: err.requestId,
      message: err.message, rawMessage: err.data ? err.data.Message : undefined,
      // ThrottlingError's retryAfter is x-acs-retry-after, parsed.
      retryAfter: err instanceof this.core.ThrottlingError ? err.retryAfter : undefined,
    };
  }

  // Any other action through the SDK's typed models: `params` (wire names) become the action's
  // Request model (its camelCase fields, by the model's own names()), and the answer is the map
  // its typed ResponseBody holds (toMap), so a key the model does not know is lost, as in
  // production. Note: $dara.cast turns a numeric or boolean string into the model's type.
  async call(action, params, key = KEY, secret = SECRET) {
    const ecs = this.ecs;
    const Request = ecs[`${action}Request`];
    const fields = Object.fromEntries(Object.entries(Request.names())
      .map(([field, wire]) => [wire, field]));
    const values = {};
    for (const [wire, value] of Object.entries(params)) {
      expect(fields[wire], `${action}Request has no field for ${wire}`);
      values[fields[wire]] = value;
    }
    const method = action[0].toLowerCase() + action.slice(1);
    const response = await this.client(key, secret)[method](new Request(values));
    expect(response instanceof ecs[`${action}Response`],
      `${action} answered a ${response && response.constructor.name}`);
    expectEq(response.statusCode, 200, `${action} statusCode`);
    const body = response.body;
    expect(body instanceof ecs[`${action}ResponseBody`],
      `${action} body is a ${body && body.constructor.name}`);
    const itemModel = TEA_ITEM_MODELS[action];
    if (itemModel) {
      const [fieldPath, model] = itemModel;
      const list = fieldPath.reduce((v, f) => (v ? v[f] : undefined), body) || [];
      for (const item of list) {
        expect(item instanceof ecs[model],
          `${action} item is a ${item && item.constructor.name}, not ${model}`);
      }
    }
    return body.toMap();
  }

  async checkModels() {
    const ecs = this.ecs;
    const response = await this.raw({ Name: PLUGIN, PageSize: 10 });
    expect(response instanceof ecs.ListPluginStatusResponse, `response is ${response.constructor.name}`);
    expectEq(response.statusCode, 200, 'statusCode');
    const body = response.body;
    expect(body instanceof ecs.ListPluginStatusResponseBody, `body is ${body && body.constructor.name}`);
    expect(body.requestId, 'no RequestId');
    expectEq(response.headers['x-acs-request-id'], body.requestId, 'x-acs-request-id header');
    for (const field of ['pageSize', 'pageNumber', 'totalCount']) expectNumber(body[field], field);
    expectEq(body.pageSize, 10, 'PageSize');
    expectEq(body.pageNumber, 1, 'PageNumber');
    const expected = expectedByName(PLUGIN);
    expectEq(body.totalCount, expected.length, 'TotalCount');
    expect(body.nextToken, 'no NextToken on a page that is not the last');
    const set = body.instancePluginStatusSet;
    expect(set instanceof ecs.ListPluginStatusResponseBodyInstancePluginStatusSet,
      `InstancePluginStatusSet is ${set && set.constructor.name}`);
    const records = [];
    for (const entry of set.instancePluginStatus) {
      expect(entry instanceof ecs.ListPluginStatusResponseBodyInstancePluginStatusSetInstancePluginStatus,
        `InstancePluginStatus item is ${entry && entry.constructor.name}`);
      expect(entry.pluginStatusSet
        instanceof ecs.ListPluginStatusResponseBodyInstancePluginStatusSetInstancePluginStatusPluginStatusSet,
      `PluginStatusSet is ${entry.pluginStatusSet && entry.pluginStatusSet.constructor.name}`);
      for (const p of entry.pluginStatusSet.pluginStatus) {
        expect(p instanceof
          ecs.ListPluginStatusResponseBodyInstancePluginStatusSetInstancePluginStatusPluginStatusSetPluginStatus,
        `PluginStatus item is ${p && p.constructor.name}`);
        records.push([entry.instanceId, p.pluginName, p.pluginVersion, p.pluginStatus,
          p.firstHeartbeatTime, p.lastHeartbeatTime]);
      }
    }
    expectRecords(records, expected.slice(0, 10), 'first page');
    checkNotInstalled(records);
  }
}

// Where a Describe* answer keeps its items in the Tea Node models, and their model class.
const TEA_ITEM_MODELS = {
  DescribeCommands: [['commands', 'command'], 'DescribeCommandsResponseBodyCommandsCommand'],
  DescribeInvocations: [['invocations', 'invocation'],
    'DescribeInvocationsResponseBodyInvocationsInvocation'],
  DescribeInvocationResults: [['invocation', 'invocationResults', 'invocationResult'],
    'DescribeInvocationResultsResponseBodyInvocationInvocationResultsInvocationResult'],
  DescribeCloudAssistantStatus: [
    ['instanceCloudAssistantStatusSet', 'instanceCloudAssistantStatus'],
    'DescribeCloudAssistantStatusResponseBodyInstanceCloudAssistantStatusSetInstanceCloudAssistantStatus'],
};

class PopCoreClient {
  constructor(name, endpoint, method) {
    this.name = name;
    this.endpoint = `http://${endpoint}`;
    this.method = method;
    this.stringToSignPrefix = `${method}&%2F&`;
    this.httpMethod = method;
    this.signsInParams = true;
    // pop-core throws a plain Error named `${Code}Error` for every code.
    this.serverErrorType = null;
    this.throttlingErrorType = null;
    this.RPCClient = require('@alicloud/pop-core').RPCClient;
    // pop-core has no retry of its own: one request a call, whatever this says.
    this.retry = undefined;
    this.clients = new Map();
  }

  client(key, secret) {
    const id = `${key}\n${secret}`;
    if (!this.clients.has(id)) {
      this.clients.set(id, new this.RPCClient({
        accessKeyId: key, accessKeySecret: secret, endpoint: this.endpoint, apiVersion: '2014-05-26',
      }));
    }
    return this.clients.get(id);
  }

  async json(params, key = KEY, secret = SECRET) {
    const query = { RegionId: params.RegionId || REGION };
    for (const field of ['Name', 'PageNumber', 'PageSize', 'MaxResults', 'NextToken']) {
      if (params[field] !== undefined) query[field] = params[field];
    }
    if (params.InstanceIds) query.InstanceId = params.InstanceIds; // flattened to InstanceId.N
    const opts = { timeout: 15000 };
    if (this.method === 'POST') opts.method = 'POST';
    return this.client(key, secret).request('ListPluginStatus', query, opts);
  }

  async page(params, key = KEY, secret = SECRET) {
    return pageFromJson(await this.json(params, key, secret));
  }

  // Any other action: pop-core is untyped; a list parameter is flattened to Name.N.
  async call(action, params, key = KEY, secret = SECRET) {
    const opts = { timeout: 15000 };
    if (this.method === 'POST') opts.method = 'POST';
    return this.client(key, secret).request(action, params, opts);
  }

  error(err) {
    // pop-core throws a plain Error named `${Code}Error` with .code and .data (the body).
    if (!(err instanceof Error) || !err.data || err.code === undefined) return null;
    return {
      typeOk: err.name === `${err.code}Error`,
      type: err.name, code: err.code,
      status: err.entry && err.entry.response ? err.entry.response.statusCode : undefined,
      requestId: err.data.RequestId, message: err.message, rawMessage: err.data.Message,
      headers: err.entry && err.entry.response ? err.entry.response.headers : undefined,
    };
  }

  async checkModels() {
    const data = await this.json({ Name: PLUGIN, PageSize: 10 });
    expect(typeof data.RequestId === 'string' && data.RequestId, 'no RequestId');
    for (const field of ['PageSize', 'PageNumber', 'TotalCount']) expectNumber(data[field], field);
    expect(!('Code' in data), `a success body carries Code ${show(data.Code)}`);
    expectEq(data.PageSize, 10, 'PageSize');
    expectEq(data.PageNumber, 1, 'PageNumber');
    const expected = expectedByName(PLUGIN);
    expectEq(data.TotalCount, expected.length, 'TotalCount');
    const records = flatten(pageFromJson(data));
    expectRecords(records, expected.slice(0, 10), 'first page');
    checkNotInstalled(records);
  }
}

function pageFromJson(data) {
  const entries = (data.InstancePluginStatusSet || {}).InstancePluginStatus || [];
  return {
    RequestId: data.RequestId,
    PageSize: data.PageSize,
    PageNumber: data.PageNumber,
    TotalCount: data.TotalCount,
    NextToken: data.NextToken,
    groups: entries.map((e) => [e.InstanceId,
      ((e.PluginStatusSet || {}).PluginStatus || []).map((p) => [e.InstanceId, p.PluginName,
        p.PluginVersion, p.PluginStatus, p.FirstHeartbeatTime, p.LastHeartbeatTime])]),
  };
}

// ---------------------------------------------------------------------------------------------
// Checks shared by every client

async function callError(client, params, key = KEY, secret = SECRET) {
  let page;
  try {
    page = await client.page(params, key, secret);
  } catch (err) {
    const seen = client.error(err);
    if (!seen) throw new CheckFailed(`threw ${err && err.name}: ${err && err.message}`);
    return seen;
  }
  throw new CheckFailed(`no error thrown; got a page with ${flatten(page).length} records`);
}

function expectRefusal(seen, code, status, messagePart) {
  expect(seen.typeOk, `unexpected error type: ${show(seen)}`);
  expectEq(seen.code, code, `code (${show(seen)})`);
  if (seen.status !== undefined) expectEq(seen.status, status, `HTTP status (${show(seen)})`);
  expect(seen.requestId, `no request id in ${show(seen)}`);
  expect((seen.message || '').includes(messagePart),
    `message ${show(seen.message)} does not contain ${show(messagePart)}`);
}

async function walkTokens(client, params, maxResults = 5, key = KEY, secret = SECRET) {
  const pages = [];
  let token;
  for (;;) {
    const query = { ...params, MaxResults: maxResults };
    if (token) query.NextToken = token;
    const page = await client.page(query, key, secret);
    pages.push(page);
    expect(flatten(page).length <= maxResults,
      `page ${pages.length} has ${flatten(page).length} records, MaxResults=${maxResults}`);
    token = page.NextToken;
    if (!token) return pages;
    expect(pages.length < 100, 'more than 100 pages: the walk does not end');
  }
}

async function checkTokenWalk(client) {
  let expected = expectedByName(PLUGIN);
  let pages = await walkTokens(client, { Name: PLUGIN });
  expectRecords(pages.flatMap(flatten), expected, 'records over all pages');
  expectEq(pages.length, Math.ceil(expected.length / 5), 'number of pages');
  pages.forEach((page, i) => {
    expectEq(page.PageNumber, undefined, `PageNumber in token mode (page ${i + 1})`);
    expectEq(page.PageSize, undefined, `PageSize in token mode (page ${i + 1})`);
  });
  // Without Name: every plug-in of one instance, ordered by name, grouped in one entry a page.
  expected = expectedByInstance(MANY_PLUGINS_INSTANCE);
  pages = await walkTokens(client, { InstanceIds: [MANY_PLUGINS_INSTANCE] });
  expectRecords(pages.flatMap(flatten), expected, `records of ${MANY_PLUGINS_INSTANCE} (no Name)`);
  pages.forEach((page, i) => expectEq(page.groups.map((g) => g[0]), [MANY_PLUGINS_INSTANCE],
    `InstancePluginStatus entries of page ${i + 1} (no Name)`));
}

async function checkPageWalk(client) {
  const expected = expectedByName(PLUGIN);
  const records = [];
  let number = 1;
  for (;;) {
    const page = await client.page({ Name: PLUGIN, PageNumber: number, PageSize: 5 });
    expectEq(page.PageNumber, number, 'PageNumber');
    expectEq(page.PageSize, 5, 'PageSize');
    expectEq(page.TotalCount, expected.length, `TotalCount (page ${number})`);
    const got = flatten(page);
    if (got.length === 0) break;
    const last = number * 5 >= expected.length;
    expect(Boolean(page.NextToken) !== last,
      `page ${number}: NextToken ${show(page.NextToken)} (last page: ${last})`);
    records.push(...got);
    number += 1;
    expect(number < 100, 'more than 100 pages');
  }
  expectRecords(records, expected, 'records over all pages');
  expectEq(number - 1, Math.ceil(expected.length / 5), 'number of non-empty pages');
}

async function checkInstanceIds(client) {
  const ids = ['i-sdk0005', 'i-sdk0002', 'i-sdk0014', 'i-sdk0005'];
  const page = await client.page({ Name: PLUGIN, InstanceIds: ids });
  const byId = new Map(expectedByName(PLUGIN).map((r) => [r[0], r]));
  expectRecords(flatten(page), ids.slice(0, 3).map((i) => byId.get(i)),
    'InstanceId.1..4 (a repeated id once, in N order)');
  expectEq(page.TotalCount, 3, 'TotalCount');
}

async function checkWrongSecret(client) {
  const marker = 'server string to sign is:';
  const seen = await callError(client, { Name: PLUGIN }, KEY, 'wrong-secret');
  expectRefusal(seen, 'SignatureDoesNotMatch', 400, marker);
  // The server's string to sign shows which signature style it verified.
  const serverStringToSign = seen.message.split(marker)[1];
  expect(serverStringToSign.startsWith(client.stringToSignPrefix),
    `server string to sign ${show(serverStringToSign.slice(0, 80))} should start with `
    + `${show(client.stringToSignPrefix)} (the client's signature style)`);
}

async function checkEncoding(client) {
  const ids = ['i-sdk0001', 'i-sdk0002'];
  let page = await client.page({ Name: EXOTIC_NAME, InstanceIds: ids });
  const byId = new Map(expectedByName(EXOTIC_NAME).map((r) => [r[0], r]));
  expectRecords(flatten(page), ids.map((i) => byId.get(i)), `Name=${show(EXOTIC_NAME)}`);
  page = await client.page({ InstanceIds: ['i-sdk0001'] });
  expectRecords(flatten(page), expectedByInstance('i-sdk0001'), 'i-sdk0001 without Name');
}

async function checkOtherAccount(client) {
  const account = accountOf(OTHER_KEY);
  let page = await client.page({ Name: PLUGIN }, OTHER_KEY, OTHER_SECRET);
  expectRecords(flatten(page), expectedByName(PLUGIN, account), "second account's listing");
  page = await client.page({ Name: 'other_private_plugin' }, OTHER_KEY, OTHER_SECRET);
  expectRecords(flatten(page), expectedByName('other_private_plugin', account),
    "second account's private plug-in");
}

// ---------------------------------------------------------------------------------------------
// Cloud Assistant (SPEC section 9): the workflow production code runs, through every client.
// The answers are compared in their wire form (the Tea clients' typed models give it back).

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
const caInstance = (client) => CA_INSTANCES[client.name];
const pick = (record, keys) => Object.fromEntries(keys.map((k) => [k, record[k]]));
const base64 = (text) => Buffer.from(text, 'utf8').toString('base64');

// The list at path (e.g. 'Commands', 'Command') of an answer; [] where a level is absent.
function items(body, ...path) {
  return path.reduce((v, key) => (v ? v[key] : undefined), body) || [];
}

function expectId(value, prefix, what) {
  expect(typeof value === 'string' && new RegExp(`^${prefix}[0-9a-z]+$`).test(value),
    `${what} ${show(value)} is not a ${prefix}... id`);
}

// Each named field is there with the SDK model's type ('integer' a whole number).
function expectTypes(record, types, what) {
  for (const [field, kind] of Object.entries(types)) {
    const value = record[field];
    const ok = kind === 'integer' ? Number.isInteger(value) : typeof value === kind;
    expect(ok, `${what} ${field} should be a ${kind}, got ${typeof value} ${show(value)}`);
  }
}

async function invocationResults(client, filters) {
  const body = await client.call('DescribeInvocationResults', { ...filters, RegionId: REGION });
  return items(body, 'Invocation', 'InvocationResults', 'InvocationResult');
}

// Polls DescribeInvocationResults until no instance of the invocation is on its way any more, as
// production code waits for a run; answers the per-instance results.
async function waitForInvocation(client, invokeId, intervalMs = 300, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const results = await invocationResults(client, { InvokeId: invokeId });
    if (results.length && !results.some((r) => IN_PROGRESS.has(r.InvocationStatus))) return results;
    if (Date.now() >= deadline) {
      throw new CheckFailed(
        `invocation ${invokeId} still on its way after ${timeoutMs} ms: ${show(results)}`);
    }
    await sleep(intervalMs);
  }
}

// RunCommand installs a plug-in; the caller polls the run, then sees the plug-in Running (at the
// catalog's highest version) in ListPluginStatus, reported at the run's end.
async function checkCaRunInstall(client) {
  const instance = caInstance(client);
  const query = { Name: CA_PLUGIN, InstanceIds: [instance] };
  expectRecords(flatten(await client.page(query)),
    [[instance, CA_PLUGIN, '', 'NotInstalled', '', '']], 'before the run');
  const content = `acs-plugin-manager --exec --plugin ${CA_PLUGIN} --params --install`;
  const run = await client.call('RunCommand', {
    RegionId: REGION, Type: 'RunShellScript', CommandContent: content, InstanceId: [instance],
  });
  expect(run.RequestId, `RunCommand: no RequestId in ${show(run)}`);
  expectId(run.CommandId, 'c-', 'CommandId');
  expectId(run.InvokeId, 't-', 'InvokeId');
  const invokeId = run.InvokeId;

  const results = await waitForInvocation(client, invokeId);
  expectEq(results.map((r) => r.InstanceId), [instance], 'instances of the run');
  const result = results[0];
  expectTypes(result, {
    ExitCode: 'integer', Dropped: 'integer', Repeats: 'integer', StartTime: 'string',
    FinishedTime: 'string', Output: 'string',
  }, 'InvocationResult');
  expectEq(pick(result, ['InvokeId', 'CommandId', 'InvocationStatus', 'ExitCode',
    'InvokeRecordStatus', 'ErrorCode', 'ErrorInfo', 'Output', 'Repeats', 'Dropped', 'Username']), {
    InvokeId: invokeId, CommandId: run.CommandId, InvocationStatus: 'Success', ExitCode: 0,
    InvokeRecordStatus: 'Finished', ErrorCode: '', ErrorInfo: '', Output: '', Repeats: 1, Dropped: 0,
    Username: 'root',
  }, 'the finished run');
  const started = result.StartTime;
  const finished = result.FinishedTime;
  expect(RFC3339.test(started) && RFC3339.test(finished),
    `StartTime ${show(started)}, FinishedTime ${show(finished)}`);
  expectEq((Date.parse(finished) - Date.parse(started)) / 1000, 1,
    'seconds from StartTime to FinishedTime');

  // The agent reported the plug-in when the run finished.
  expectRecords(flatten(await client.page(query)),
    [[instance, CA_PLUGIN, catalogHighest(CA_PLUGIN), 'Running', finished, finished]],
    'ListPluginStatus after the run');

  const body = await client.call('DescribeInvocations', { RegionId: REGION, InvokeId: invokeId });
  expectEq(body.TotalCount, 1, 'DescribeInvocations TotalCount');
  const invocation = items(body, 'Invocations', 'Invocation')[0];
  expectEq(pick(invocation, ['InvokeId', 'CommandId', 'InvocationStatus', 'InvokeStatus',
    'CommandType', 'CommandContent']), {
    InvokeId: invokeId, CommandId: run.CommandId, InvocationStatus: 'Success',
    InvokeStatus: 'Finished', CommandType: 'RunShellScript', CommandContent: base64(content),
  }, 'DescribeInvocations (content in Base64, the default)');
  const perInstance = items(invocation, 'InvokeInstances', 'InvokeInstance');
  perInstance.forEach((entry) => expectTypes(entry,
    { ExitCode: 'integer', Repeats: 'integer', Dropped: 'integer' }, 'InvokeInstance'));
  expectEq(perInstance.map((i) => pick(i, ['InstanceId', 'InvocationStatus', 'InstanceInvokeStatus',
    'ExitCode', 'StartTime', 'FinishTime'])), [{
    InstanceId: instance, InvocationStatus: 'Success', InstanceInvokeStatus: 'Finished',
    ExitCode: 0, StartTime: started, FinishTime: finished,
  }], 'InvokeInstances');
}

// DescribeCloudAssistantStatus of the client's instance and of agents in other states: values
// from the fixture, run counts as DescribeInvocationResults shows them, model types.
async function checkCaStatus(client) {
  const own = caInstance(client);
  const ids = [own, ...AGENT_INSTANCES];
  const body = await client.call('DescribeCloudAssistantStatus',
    { RegionId: REGION, InstanceId: ids });
  expectTypes(body, {
    RequestId: 'string', TotalCount: 'integer', PageNumber: 'integer', PageSize: 'integer',
  }, 'DescribeCloudAssistantStatus');
  expectEq([body.TotalCount, body.PageNumber, body.PageSize, body.NextToken],
    [ids.length, 1, ids.length, undefined], 'TotalCount, PageNumber, PageSize, NextToken');
  const statuses = items(body, 'InstanceCloudAssistantStatusSet', 'InstanceCloudAssistantStatus');
  expectEq(statuses.map((s) => s.InstanceId), ids, 'instances, in request order');
  const results = await invocationResults(client, { InstanceId: own });
  for (const status of statuses) {
    const instance = status.InstanceId;
    const what = `status of ${instance}`;
    expectTypes(status, {
      CloudAssistantStatus: 'string', CloudAssistantVersion: 'string', OSType: 'string',
      LastHeartbeatTime: 'string', LastInvokedTime: 'string', ActiveTaskCount: 'integer',
      InvocationCount: 'integer', SupportSessionManager: 'boolean',
    }, what);
    const { LastHeartbeatTime: heartbeat, ...want } = expectedAgent(instance);
    expectEq(pick(status, Object.keys(want)), want, what);
    if (heartbeat === null) {
      expect(RFC3339.test(status.LastHeartbeatTime),
        `${what}: LastHeartbeatTime ${show(status.LastHeartbeatTime)} of an online agent`);
    } else {
      expectEq(status.LastHeartbeatTime, heartbeat, `${what} LastHeartbeatTime`);
    }
    const runs = instance === own ? results : [];
    // InvocationCount counts the runs that ran and ended.
    const ended = ['Success', 'Failed', 'Timeout'];
    const starts = runs.map((r) => r.StartTime).filter(Boolean).sort(byString);
    expectEq(pick(status, ['ActiveTaskCount', 'InvocationCount', 'LastInvokedTime']), {
      ActiveTaskCount: runs.filter((r) => r.InvocationStatus === 'Running').length,
      InvocationCount: runs.filter((r) => ended.includes(r.InvocationStatus)).length,
      LastInvokedTime: starts.length ? starts[starts.length - 1] : '',
    }, `${what} run counts (DescribeInvocationResults shows ${runs.length} runs)`);
  }
}

// A kept command: CreateCommand (Base64), InvokeCommand, DescribeCommands shows it invoked once,
// DeleteCommand; then it is gone and cannot be invoked.
async function checkCaCreateInvoke(client) {
  const instance = caInstance(client);
  const name = `sdk-${client.name}-${RUN_TAG}`;
  const script = `echo 'hello from ${client.name} \u4e2d'\nacs-plugin-manager --list --local\n`;
  const content = base64(script);
  const created = await client.call('CreateCommand', {
    RegionId: REGION, Name: name, Type: 'RunShellScript', CommandContent: content,
    ContentEncoding: 'Base64', Description: 'SDK suite', Timeout: 120,
  });
  const commandId = created.CommandId;
  expectId(commandId, 'c-', 'CommandId');
  expect(created.RequestId, `CreateCommand: no RequestId in ${show(created)}`);
  const invoked = await client.call('InvokeCommand', {
    RegionId: REGION, CommandId: commandId, InstanceId: [instance],
  });
  expectId(invoked.InvokeId, 't-', 'InvokeId');

  let body = await client.call('DescribeCommands', { RegionId: REGION, CommandId: commandId });
  expectEq(body.TotalCount, 1, 'DescribeCommands TotalCount');
  const command = items(body, 'Commands', 'Command')[0];
  expectTypes(command, {
    InvokeTimes: 'integer', Timeout: 'integer', EnableParameter: 'boolean', CreationTime: 'string',
  }, 'Command');
  expectEq(pick(command, ['CommandId', 'Name', 'Type', 'Description', 'CommandContent',
    'InvokeTimes', 'Timeout', 'EnableParameter', 'Provider', 'Category']), {
    CommandId: commandId, Name: name, Type: 'RunShellScript', Description: 'SDK suite',
    CommandContent: content, InvokeTimes: 1, Timeout: 120, EnableParameter: false, Provider: '',
    Category: '',
  }, 'the command (content in Base64, the default)');
  expect(RFC3339.test(command.CreationTime), `CreationTime ${show(command.CreationTime)}`);

  const deleted = await client.call('DeleteCommand', { RegionId: REGION, CommandId: commandId });
  expect(deleted.RequestId, `DeleteCommand: no RequestId in ${show(deleted)}`);
  body = await client.call('DescribeCommands', { RegionId: REGION, CommandId: commandId });
  expectEq([body.TotalCount, items(body, 'Commands', 'Command')], [0, []],
    'DescribeCommands after DeleteCommand');
  const seen = await callActionError(client, 'InvokeCommand', {
    RegionId: REGION, CommandId: commandId, InstanceId: [instance],
  });
  expectCaError(client, seen, 'InvalidCmdId.NotFound');
  // The invocation keeps what it ran.
  body = await client.call('DescribeInvocations', { RegionId: REGION, InvokeId: invoked.InvokeId });
  const invocation = items(body, 'Invocations', 'Invocation')[0];
  expectEq(pick(invocation, ['CommandId', 'CommandName', 'CommandContent']),
    { CommandId: commandId, CommandName: name, CommandContent: content },
    'the invocation of the deleted command');
}

// Calls and returns what the client threw; fails if it did not throw.
async function callActionError(client, action, params) {
  let body;
  try {
    body = await client.call(action, params);
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    const seen = client.error(err);
    if (!seen) throw new CheckFailed(`${action} threw ${err && err.name}: ${err && err.message}`);
    return seen;
  }
  throw new CheckFailed(`${action} answered ${show(body)} instead of an error`);
}

// The client's own error for a refused call, with the code, HTTP status and message (exactly) of
// SPEC Appendix C.
function expectCaError(client, seen, code) {
  const [status, message] = CA_ERRORS[code];
  const what = `${code} (${show(seen)})`;
  expect(seen.typeOk, `error type for ${what}`);
  expectEq(seen.code, code, `code of ${what}`);
  expectEq(seen.status, status, `HTTP status of ${what}`);
  expect(seen.requestId, `no request id in ${what}`);
  expectEq(seen.rawMessage, message, `Message of ${what}`);
  if (client instanceof TeaClient) {
    // openapi-core's text, which @darabonba/typescript's ResponseError prefixes with the code.
    expectEq(seen.message, `${code}: code: ${status}, ${message} request id: ${seen.requestId}`,
      "the error's message");
  } else {
    // pop-core's text: the Message, then the URL it called.
    expect(seen.message.startsWith(`${message}, URL: `),
      `the error's message ${show(seen.message)}`);
  }
}

async function checkCaErrors(client) {
  const own = caInstance(client);
  const run = { RegionId: REGION, Type: 'RunShellScript', CommandContent: 'echo hi' };
  const cases = [
    ['RunCommand', { ...run, Type: 'Nope', InstanceId: [own] }, 'InvalidCmdType.NotFound'],
    ['RunCommand', run, 'MissingParam.InstanceId'],
    ['RunCommand', { ...run, InstanceId: ['i-sdkother01'] }, 'InvalidInstance.NotFound'],
    ['InvokeCommand', { RegionId: REGION, CommandId: 'c-sdknosuchcmd001', InstanceId: [own] },
      'InvalidCmdId.NotFound'],
    ['StopInvocation', { RegionId: REGION, InvokeId: 't-sdknosuchrun001' },
      'InvalidInvokeId.NotFound'],
  ];
  for (const [action, params, code] of cases) {
    expectCaError(client, await callActionError(client, action, params), code);
  }
  // Describe* filters match nothing for an unknown id; only StopInvocation refuses it.
  expectEq(await invocationResults(client, { InvokeId: 't-sdknosuchrun001' }), [],
    'DescribeInvocationResults of an unknown InvokeId');
}

// ---------------------------------------------------------------------------------------------
// The control plane: fault injection and the request journal

class Admin {
  constructor(baseUrl) {
    this.base = new URL('/_emulator', baseUrl);
  }

  // Answers { body: parsed JSON or null, text }; fails unless the status is expected.
  call(method, route, body, expected = [200]) {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = {};
    if (data) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = data.length;
    }
    if (ADMIN_TOKEN) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
    const url = new URL(this.base.pathname + route, this.base);
    const what = `control plane ${method} ${url.pathname}${url.search}`;
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers, agent: false, timeout: 15000 }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', (e) => reject(new CheckFailed(`${what}: ${e.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (!expected.includes(res.statusCode)) {
            reject(new CheckFailed(`${what} answered ${res.statusCode} (expected `
              + `${expected.join('/')}): ${text.slice(0, 300)}`));
            return;
          }
          try {
            resolve({ body: text ? JSON.parse(text) : null, text });
          } catch (e) {
            reject(new CheckFailed(`${what}: not JSON: ${text.slice(0, 200)}`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e) => reject(new CheckFailed(`${what}: ${e.message}`)));
      req.end(data);
    });
  }

  async addFault(spec) {
    const { body } = await this.call('POST', '/faults', spec, [201]);
    expect(body && body.id, `POST /faults answered ${show(body)}`);
    expectEq(body.fired, 0, 'fired of a new rule');
    return body;
  }

  async fired(id) {
    return (await this.call('GET', `/faults/${encodeURIComponent(id)}`)).body.fired;
  }

  async clearFaults() {
    await this.call('DELETE', '/faults', undefined, [200, 204]);
  }

  // The journal, newest first, and the raw JSON text it came in.
  async requests(query = {}) {
    const qs = new URLSearchParams(query).toString();
    const { body, text } = await this.call('GET', `/requests${qs ? `?${qs}` : ''}`);
    expect(body && Array.isArray(body.requests), `GET /requests answered ${text.slice(0, 200)}`);
    return { requests: body.requests, text };
  }

  async clearRequests() {
    await this.call('DELETE', '/requests', undefined, [200, 204]);
  }
}

// RFC 3986, as RPC V1 signatures encode (space as %20, ~ kept, * ' ( ) ! escaped).
const percentEncode = (v) => encodeURIComponent(v)
  .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

// The HMAC-SHA1 signature of an RPC V1 request with these parameters.
function v1Signature(method, params, secret) {
  const canonical = Object.keys(params).filter((k) => k !== 'Signature').sort(byString)
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k])}`).join('&');
  const stringToSign = `${method}&${percentEncode('/')}&${percentEncode(canonical)}`;
  return crypto.createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
}

// Runs fn with the client built with that retry setting.
async function retrying(client, setting, fn) {
  const saved = client.retry;
  client.retry = setting;
  try {
    return await fn();
  } finally {
    client.retry = saved;
  }
}

// A fresh fault rule (and an empty journal) for the duration of fn; every rule is cleared
// afterwards, whatever happened, so a failure does not leak into the next check.
async function withFault(admin, spec, fn) {
  await admin.clearFaults();
  await admin.clearRequests();
  try {
    return await fn(await admin.addFault(spec));
  } finally {
    await admin.clearFaults();
  }
}

function expectFaultError(seen, code, errorType) {
  const [status, message] = FAULT_ERRORS[code];
  expectEq(seen.type, errorType || `${code}Error`, `error type (${show(seen)})`);
  expectEq(seen.code, code, `code (${show(seen)})`);
  expectEq(seen.status, status, `HTTP status (${show(seen)})`);
  expect(seen.requestId, `no request id in ${show(seen)}`);
  expect((seen.message || '').includes(message),
    `message ${show(seen.message)} does not contain ${show(message)}`);
}

function expectFirstPage(page, what) {
  expect(page.RequestId, `${what}: no RequestId`);
  expectRecords(flatten(page), expectedByName(PLUGIN).slice(0, 5), what);
}

// The journal holds exactly these ListPluginStatus requests, newest first: one [request id,
// status, code] each. So the SDK sent each call once: no retry hid the fault.
async function expectJournal(admin, outcomes, what) {
  const { requests } = await admin.requests();
  expectEq(requests.map((r) => [r.requestId, r.action, r.status, r.code]),
    outcomes.map(([id, status, code]) => [id, 'ListPluginStatus', status, code]),
    `journal after ${what} (newest first)`);
}

// A `times: 1` fault fails the first call with the SDK's own error, and only it.
async function checkFault(client, admin, code, errorType) {
  const status = FAULT_ERRORS[code][0];
  const params = { Name: PLUGIN, PageSize: 5 };
  return withFault(admin, { code, times: 1 }, async (rule) => {
    const [seen, page] = await retrying(client, NO_RETRY, async () => {
      const error = await callError(client, params);
      expectFaultError(error, code, errorType);
      expectEq(await admin.fired(rule.id), 1, 'fired after the failed call');
      return [error, await client.page(params)];
    });
    expectFirstPage(page, 'the call after the fault');
    expectEq(await admin.fired(rule.id), 1, 'fired after the next call (times: 1)');
    await expectJournal(admin, [[page.RequestId, 200, ''], [seen.requestId, status, code]],
      'the failed call and the next one');
    return seen;
  });
}

const retryAfterHeader = (seen) => (seen.headers ? seen.headers['x-acs-retry-after'] : undefined);

async function checkDispatchFault(client, admin) {
  await checkFault(client, admin, 'InternalError.Dispatch', client.serverErrorType);
}

async function checkUnavailableFault(client, admin) {
  const seen = await checkFault(client, admin, 'ServiceUnavailable', client.serverErrorType);
  expectEq(retryAfterHeader(seen), undefined, 'x-acs-retry-after on ServiceUnavailable');
}

async function checkThrottlingFault(client, admin) {
  const seen = await checkFault(client, admin, 'Throttling.User', client.throttlingErrorType);
  if (client instanceof TeaClient) {
    expectEq(seen.retryAfter, DEFAULT_RETRY_AFTER_MS, 'ThrottlingError.retryAfter (x-acs-retry-after)');
  } else {
    expectEq(retryAfterHeader(seen), String(DEFAULT_RETRY_AFTER_MS), 'x-acs-retry-after header');
  }
}

// With a retry condition on Throttling.User, the SDK retries on its own, waiting what
// x-acs-retry-after asks (1000 ms), and the call succeeds: the fault fires once, the journal
// shows both attempts.
async function checkThrottlingAutoRetry(client, admin) {
  await withFault(admin, { code: 'Throttling.User', times: 1 }, async (rule) => {
    const started = Date.now();
    const page = await retrying(client, RETRY_THROTTLING,
      () => client.page({ Name: PLUGIN, PageSize: 5 }));
    const elapsed = Date.now() - started;
    expectFirstPage(page, 'the retried call');
    expectEq(await admin.fired(rule.id), 1, 'fired');
    const { requests } = await admin.requests();
    expectEq(requests.map((r) => [r.status, r.code]), [[200, ''], [400, 'Throttling.User']],
      'journal: the attempts, newest first');
    expectEq(requests[0].requestId, page.RequestId, 'request id of the retry');
    expect(elapsed >= DEFAULT_RETRY_AFTER_MS - 50,
      `the SDK retried after ${elapsed} ms; x-acs-retry-after asked for ${DEFAULT_RETRY_AFTER_MS} ms`);
  });
}

// The newest journal entry is the call just made, with the parameters the SDK sent, the
// signature redacted and the secret nowhere.
async function checkJournal(client, admin) {
  await admin.clearRequests();
  const ids = ['i-sdk0001', 'i-sdk0002'];
  const page = await client.page({ Name: PLUGIN, InstanceIds: ids, PageSize: 5 });
  const { requests, text } = await admin.requests({ limit: 1 });
  expectEq(requests.length, 1, 'entries with limit=1');
  const entry = requests[0];
  expectEq(entry.requestId, page.RequestId, 'requestId');
  expectEq(entry.action, 'ListPluginStatus', 'action');
  expectEq(entry.method, client.httpMethod, 'method');
  expectEq([entry.status, entry.code], [200, ''], 'status and code');
  expect(entry.time, 'no time');
  const params = entry.params || {};
  const pick = (want) => Object.fromEntries(Object.keys(want).map((k) => [k, params[k]]));
  const sent = {
    RegionId: REGION, Name: PLUGIN, 'InstanceId.1': ids[0], 'InstanceId.2': ids[1], PageSize: '5',
  };
  expectEq(pick(sent), sent, `params the SDK sent (${show(params)})`);
  if (client.signsInParams) {
    const common = {
      Action: 'ListPluginStatus', Version: '2014-05-26', AccessKeyId: KEY,
      SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0', Signature: '***',
    };
    expectEq(pick(common), common, `V1 common params (${show(params)})`);
    expect(params.SignatureNonce && params.Timestamp, `no SignatureNonce or Timestamp in ${show(params)}`);
    // The signature the SDK computed (the server verified it, so it is this one if the
    // journal kept every other parameter as received) appears nowhere.
    const signature = v1Signature(entry.method, params, SECRET);
    for (const form of [signature, percentEncode(signature), JSON.stringify(signature).slice(1, -1)]) {
      expect(!text.includes(form), `the request's signature ${show(form)} is in the journal`);
    }
  } else {
    expect(!('Signature' in params), `a V3 request has no Signature parameter: ${show(params)}`);
  }
  const all = await admin.requests();
  for (const where of [text, all.text]) {
    expect(!where.includes(SECRET),
      `the AccessKeySecret ${show(SECRET)} is in the journal: ${where.slice(0, 300)}`);
  }
}

async function runClient(client, admin, results) {
  const checks = [
    ['page_models', () => client.checkModels()],
    ['instance_ids', () => checkInstanceIds(client)],
    ['encoding', () => checkEncoding(client)],
    ['token_walk', () => checkTokenWalk(client)],
    ['page_walk', () => checkPageWalk(client)],
  ];
  for (const [name, params, code] of ERROR_CASES) {
    const [status, message] = VENDOR_ERRORS[code];
    checks.push([`error/${name}`,
      async () => expectRefusal(await callError(client, params), code, status, message)]);
  }
  checks.push(
    ['signature/wrong_secret', () => checkWrongSecret(client)],
    ['signature/unknown_key', async () => expectRefusal(
      await callError(client, { Name: PLUGIN }, UNKNOWN_KEY, 'whatever'),
      'InvalidAccessKeyId.NotFound', 404, 'Specified access key is not found.')],
    ['signature/disabled_key', async () => expectRefusal(
      await callError(client, { Name: PLUGIN }, DISABLED_KEY, DISABLED_SECRET),
      'InvalidAccessKeyId.Inactive', 400, 'Specified access key is disabled.')],
    ['other_account', () => checkOtherAccount(client)],
    ['error/InternalError.Dispatch', () => checkDispatchFault(client, admin)],
    ['fault/Throttling.User', () => checkThrottlingFault(client, admin)],
    ['fault/ServiceUnavailable', () => checkUnavailableFault(client, admin)],
    ['journal', () => checkJournal(client, admin)],
  );
  if (client instanceof TeaClient) {
    checks.push(['fault/Throttling.User_auto_retry', () => checkThrottlingAutoRetry(client, admin)]);
  }
  // In this order: the status check counts the runs of the client's instance while none is on its
  // way (the install run has ended; the invoked command has not started yet).
  checks.push(
    ['ca/run_install_poll_list', () => checkCaRunInstall(client)],
    ['ca/cloud_assistant_status', () => checkCaStatus(client)],
    ['ca/create_invoke_describe_delete', () => checkCaCreateInvoke(client)],
    ['ca/errors', () => checkCaErrors(client)],
  );
  for (const [name, check] of checks) {
    try {
      await check();
      results.push(true);
      console.log(`PASS ${client.name} ${name}`);
    } catch (err) {
      results.push(false);
      if (err instanceof CheckFailed) {
        console.log(`FAIL ${client.name} ${name}: ${err.message}`);
      } else {
        const where = ((err && err.stack) || '').split('\n').find((l) => l.includes(__filename)) || '';
        console.log(`FAIL ${client.name} ${name}: unexpected ${err && err.name}: `
          + `${String(err && err.message).replace(/\n/g, ' ').slice(0, 500)} ${where.trim()}`);
      }
    }
  }
}

async function main(argv) {
  if (argv.length < 3 || !argv[2].startsWith('http://')) {
    console.error('usage: node node_clients.js http://127.0.0.1:PORT [CLIENT ...]');
    return 2;
  }
  const endpoint = argv[2].slice('http://'.length).replace(/\/+$/, '');
  const wanted = new Set(argv.slice(3));
  const admin = new Admin(argv[2]);
  const results = [];
  try {
    // Rules left by an earlier run against the same emulator would fail unrelated checks.
    await admin.clearFaults();
  } catch (err) {
    results.push(false);
    console.log(`FAIL node_control_plane setup: ${err.message}`);
  }
  const factories = {
    node_tea_v3: () => new TeaClient('node_tea_v3', endpoint, false),
    node_tea_v1: () => new TeaClient('node_tea_v1', endpoint, true),
    node_popcore_get: () => new PopCoreClient('node_popcore_get', endpoint, 'GET'),
    node_popcore_post: () => new PopCoreClient('node_popcore_post', endpoint, 'POST'),
  };
  for (const [name, factory] of Object.entries(factories)) {
    if (wanted.size && !wanted.has(name)) continue;
    let client;
    try {
      client = factory();
    } catch (err) {
      results.push(false);
      console.log(`FAIL ${name} setup: ${err.name}: ${err.message}`);
      continue;
    }
    await runClient(client, admin, results);
  }
  return results.every(Boolean) ? 0 : 1;
}

main(process.argv).then((code) => { process.exitCode = code; }, (err) => {
  console.log(`FAIL node_clients driver: ${err && err.stack}`);
  process.exitCode = 1;
});
