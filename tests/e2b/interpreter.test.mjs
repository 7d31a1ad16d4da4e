// The code interpreter through @e2b/code-interpreter: state, results, errors, streaming, env vars, contexts, timeouts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '@e2b/code-interpreter';
import { NotFoundError, TimeoutError } from 'e2b';
import { Served, sleep } from './helpers.mjs';

const served = new Served('interpreter');
let sbx;
before(async () => {
  await served.start();
  sbx = await Sandbox.create();
});
after(async () => {
  await sbx?.kill();
  await served.cleanup();
});

describe('runCode', () => {
  test('state lives on between cells; the last expression is the result', async () => {
    await sbx.runCode('import math\nvalues = [1, 2, 3]');
    const ex = await sbx.runCode('values.append(4)\nsum(values) * math.pi');
    assert.equal(ex.error, undefined);
    assert.equal(ex.text, String(10 * Math.PI));
    assert.equal(ex.results.length, 1);
    assert.equal(ex.results[0].isMainResult, true);
    assert.ok(ex.executionCount >= 2);
  });

  test('stdout and stderr arrive line by line, through the callbacks as they are produced', async () => {
    const seen = [];
    const started = Date.now();
    const ex = await sbx.runCode('import sys, time\nprint("first")\nsys.stdout.flush()\ntime.sleep(1)\nprint("oops", file=sys.stderr)\nprint("last")', {
      onStdout: (m) => seen.push(['out', m.line, Date.now() - started]),
      onStderr: (m) => seen.push(['err', m.line, Date.now() - started]),
    });
    assert.deepEqual(ex.logs.stdout, ['first\n', 'last\n']);
    assert.deepEqual(ex.logs.stderr, ['oops\n']);
    // Within a stream the order is kept; across stdout and stderr (two pipes) it is not promised.
    assert.deepEqual(seen.filter(([k]) => k === 'out').map(([, l]) => l), ['first\n', 'last\n']);
    assert.deepEqual(seen.filter(([k]) => k === 'err').map(([, l]) => l), ['oops\n']);
    assert.ok(seen[0][2] < 900, `the first line arrived after ${seen[0][2]} ms, before the cell ended`);
  });

  test('a DataFrame gives html and text; display() gives extra results', async () => {
    const ex = await sbx.runCode('import pandas as pd\ndf = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})\ndisplay(df.head(1))\ndf');
    assert.equal(ex.error, undefined);
    const main = ex.results.find((r) => r.isMainResult);
    assert.match(main.html, /<table/);
    assert.match(main.text, /a\s+b/);
    const shown = ex.results.filter((r) => !r.isMainResult);
    assert.equal(shown.length, 1);
    assert.match(shown[0].html, /<table/);
  });

  test('a matplotlib figure arrives as a PNG result', async () => {
    const ex = await sbx.runCode('import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()');
    assert.equal(ex.error, undefined);
    const png = ex.results.find((r) => r.png);
    assert.ok(png, `results: ${JSON.stringify(ex.results.map((r) => r.formats()))}`);
    assert.equal(Buffer.from(png.png, 'base64').subarray(1, 4).toString(), 'PNG');
  });

  test('an exception is an ExecutionError with name, value and traceback, and onError hears it', async () => {
    let heard;
    const ex = await sbx.runCode('def f():\n    return 1 / 0\nf()', { onError: (e) => (heard = e) });
    assert.equal(ex.error.name, 'ZeroDivisionError');
    assert.equal(ex.error.value, 'division by zero');
    assert.match(ex.error.traceback, /return 1 \/ 0/);
    assert.equal(heard.name, 'ZeroDivisionError');
  });

  test('envs: per call, and gone after it', async () => {
    const ex = await sbx.runCode('import os\nos.environ.get("PER_CALL")', { envs: { PER_CALL: 'only now' } });
    assert.equal(ex.text, 'only now');
    assert.equal((await sbx.runCode('import os\nstr(os.environ.get("PER_CALL"))')).text, 'None');
  });

  test('javascript and bash run too; JavaScript keeps its state', async () => {
    await sbx.runCode('const greeting = "hi"; let count = 1', { language: 'javascript' });
    assert.equal((await sbx.runCode('count += 1; `${greeting} ${count}`', { language: 'js' })).text, 'hi 2');
    const bash = await sbx.runCode('echo from bash; pwd', { language: 'bash' });
    assert.deepEqual(bash.logs.stdout.join(''), 'from bash\n/home/user\n');
  });

  test('typescript runs in the same Node kernel as javascript', async () => {
    const ts = await sbx.runCode('const typed: number = 20; interface P { x: number }\nconst p: P = { x: 1 }; typed + p.x', { language: 'ts' });
    assert.equal(ts.error, undefined, JSON.stringify(ts.error));
    assert.equal(ts.text, '21');
    assert.equal((await sbx.runCode('typed * 2', { language: 'javascript' })).text, '40');
    const ctx = await sbx.createCodeContext({ language: 'typescript' });
    assert.equal(ctx.language, 'typescript');
    assert.equal((await sbx.runCode('const n: string = "in a context"; n', { context: ctx })).text, 'in a context');
  });

  test('the SDK\'s timeoutMs ends the request, the run is interrupted, and the kernel keeps its state', async () => {
    await sbx.runCode('before_loop = "kept"');
    const started = Date.now();
    await assert.rejects(sbx.runCode('import time\nwhile True:\n    time.sleep(0.1)', { timeoutMs: 1_500 }), TimeoutError);
    assert.ok(Date.now() - started < 5_000);
    await sleep(300);
    const ex = await sbx.runCode('before_loop');
    assert.equal(ex.error, undefined, `the kernel was not free: ${JSON.stringify(ex.error)}`);
    assert.equal(ex.text, 'kept');
    const record = served.auditRecords().find((r) => r.command === 'serve' && r.cancelled);
    assert.match(record.cancelled, /disconnected/);
  });
});

describe('contexts', () => {
  test('a context is a kernel of its own: separate state, the same files, its own cwd', async () => {
    const a = await sbx.createCodeContext({ cwd: '/tmp' });
    const b = await sbx.createCodeContext();
    assert.equal(a.language, 'python');
    assert.equal(a.cwd, '/tmp');
    await sbx.runCode('secret = "a"\nopen("/home/user/shared.txt", "w").write("from a")', { context: a });
    assert.equal((await sbx.runCode('import os; os.getcwd()', { context: a })).text, '/tmp');
    const missing = await sbx.runCode('secret', { context: b });
    assert.equal(missing.error.name, 'NameError');
    assert.equal((await sbx.runCode('open("/home/user/shared.txt").read()', { context: b })).text, 'from a');
    const listed = (await sbx.listCodeContexts()).map((c) => c.id);
    assert.ok(listed.includes(a.id) && listed.includes(b.id));
    await sbx.restartCodeContext(a);
    assert.equal((await sbx.runCode('"secret" in globals()', { context: a })).text, 'False');
    await sbx.removeCodeContext(b);
    assert.ok(!(await sbx.listCodeContexts()).some((c) => c.id === b.id));
    // requestTimeoutMs: the SDK leaves its request timer running when the answer is an error (a 60 s timer would hold the test process).
    await assert.rejects(sbx.runCode('1', { context: b, requestTimeoutMs: 2_000 }), NotFoundError);
  });

  test('a javascript context', async () => {
    const js = await sbx.createCodeContext({ language: 'javascript' });
    await sbx.runCode('var n = 40', { context: js });
    assert.equal((await sbx.runCode('n + 2', { context: js })).text, '42');
  });
});
