// sandpit's Node.js driver: runs inside the jail, reads cells from fd 3 and answers there.
// Frames in: "exec|check|env <nbytes> <cell id> <filename>\n" + source ("env": a JSON object of
// environment variables for the next cell only; "exec-ts", "check-ts": a TypeScript cell, see
// node_typescript.js, which the build puts ahead of this file). Out: one JSON object per line.
'use strict';
(() => {
  const net = require('net');
  const vm = require('vm');
  const util = require('util');
  const Module = require('module');

  globalThis.require = Module.createRequire('/workspace/');
  // network.allow: fetch() goes through sandpit's proxy like every other client (Node 20's fetch ignores
  // HTTP_PROXY). The proxy agent is set up on the first fetch, not at start-up.
  if (process.env.HTTPS_PROXY || process.env.HTTP_PROXY) {
    const direct = globalThis.fetch;
    let proxied = false;
    globalThis.fetch = function fetch(...args) {
      if (!proxied) {
        proxied = true;
        try {
          const undici = require('internal/deps/undici/undici');
          undici.setGlobalDispatcher(new undici.EnvHttpProxyAgent());
        } catch {}
      }
      return direct.apply(this, args);
    };
  }
  globalThis.module = { exports: {} };
  // Half-open: a --fresh run sends its one cell, then EOF; an async cell answers after that.
  const ctl = new net.Socket({ fd: 3, readable: true, writable: true, allowHalfOpen: true });
  const send = (obj) => ctl.write(JSON.stringify(obj) + '\n');

  const userStack = (err) =>
    String(err && err.stack ? err.stack : err)
      .split('\n')
      .filter((line) => !/\[eval\]|\(node:|at node:|sandpit-driver/.test(line))
      .join('\n');

  // TypeScript's half of the driver, made by the first TypeScript cell.
  let ts = null;
  const typescript = () => (ts = ts || typescriptCells(require));

  const errorOf = (err) => {
    const isError = err instanceof Error;
    return {
      name: isError ? err.name : 'Error',
      value: isError ? err.message : util.inspect(err),
      traceback: isError ? (ts ? ts.mapStack(err, userStack(err)) : userStack(err)) : util.inspect(err),
    };
  };

  // SIGINT (Ctrl-C, a timeout) interrupts the running cell, never the driver:
  // synchronous code through breakOnSigint, a pending promise by giving up on it.
  let interruptCell = null;
  process.on('SIGINT', () => interruptCell && interruptCell());

  // Node's own REPL machinery (run with --expose-internals): acorn to find the
  // top-level declarations, processTopLevelAwait for cells that await. Loaded
  // only when a cell needs it: it costs ~15 ms, more than the rest of start-up.
  let acorn;
  let processTopLevelAwait = null;
  const loadParser = () => {
    if (acorn !== undefined) return acorn;
    try {
      acorn = require('internal/deps/acorn/acorn/dist/acorn');
      ({ processTopLevelAwait } = require('internal/repl/await'));
    } catch {
      acorn = null;
    }
    return acorn;
  };
  const needsParser = /\b(await|let|const|class)\b/;

  const prepare = (source) => {
    if (!needsParser.test(source) || !loadParser()) return { code: source, awaits: false };
    let ast;
    try {
      ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true });
    } catch {
      return { code: source, awaits: false }; // vm reports the syntax error in its own words
    }
    let code = source;
    for (const node of [...ast.body].reverse()) {
      if (node.type === 'VariableDeclaration' && node.kind !== 'var') {
        code = code.slice(0, node.start) + 'var'.padEnd(node.kind.length) + code.slice(node.start + node.kind.length);
      } else if (node.type === 'ClassDeclaration') {
        code = `${code.slice(0, node.start)}var ${node.id.name} = ${code.slice(node.start, node.end)};${code.slice(node.end)}`;
      }
    }
    const wrapped = processTopLevelAwait && processTopLevelAwait(code);
    if (!wrapped) return { code, awaits: false };
    const body = wrapped.indexOf('(async () =>');
    return { code: wrapped.slice(0, body).replace(/\blet /g, 'var ') + wrapped.slice(body), awaits: true };
  };

  const evaluate = (source, filename) => {
    const { code, awaits } = prepare(source);
    const value = vm.runInThisContext(code, { filename, breakOnSigint: true });
    return awaits ? value.then((r) => (r ? r.value : undefined)) : value;
  };

  let scoped = {};
  const run = async (source, filename, cell, typed) => {
    let value = null;
    let error = null;
    const saved = Object.fromEntries(Object.keys(scoped).map((k) => [k, process.env[k]]));
    Object.assign(process.env, scoped);
    scoped = {};
    try {
      let result = evaluate(typed ? await typescript().transpile(source, filename) : source, filename);
      if (result && typeof result.then === 'function') {
        const interrupted = new Promise((_, reject) => {
          interruptCell = () => reject(Object.assign(new Error('interrupted'), { name: 'KeyboardInterrupt' }));
        });
        result = await Promise.race([result, interrupted]);
      }
      if (result !== undefined) value = { 'text/plain': util.inspect(result) };
    } catch (err) {
      error = errorOf(err);
      process.stderr.write(error.traceback + '\n');
    }
    interruptCell = null;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    send({ type: 'result', cell, exit_code: error ? 1 : 0, value, error });
  };

  // "check" frames: is the cell complete? A parse that stops at the end of the
  // input waits for more lines; any other syntax error runs, so it is reported.
  const check = async (source, cell, typed) => {
    let status = 'complete';
    if (typed) {
      try {
        status = await typescript().check(source);
      } catch {} // the execution will say what is wrong
      return send({ type: 'check', cell, status });
    }
    try {
      if (loadParser()) acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true });
      else new vm.Script(source);
    } catch (err) {
      const atEnd = err.raisedAt !== undefined ? err.raisedAt >= source.length : /end of input/.test(err.message);
      status = atEnd || /^Unterminated (template|comment)/.test(err.message) ? 'incomplete' : 'invalid';
    }
    send({ type: 'check', cell, status });
  };

  let pending = Buffer.alloc(0);
  let queue = Promise.resolve();
  const takeFrames = () => {
    for (;;) {
      const newline = pending.indexOf(10);
      if (newline < 0) return;
      const [, op, typed, size, cell, name] = pending.subarray(0, newline).toString().match(/^(\w+)(-ts)? (\d+) (\w+) (.*)$/) || [];
      if (size === undefined || pending.length < newline + 1 + Number(size)) return;
      const source = pending.subarray(newline + 1, newline + 1 + Number(size)).toString();
      pending = pending.subarray(newline + 1 + Number(size));
      if (op === 'refresh') continue; // new packages: Node resolves afresh anyway
      if (op === 'setenv') {
        // The session took a workspace whose profile sets variables (a pool sandbox): from now on.
        queue = queue.then(() => {
          try {
            for (const [k, v] of Object.entries(JSON.parse(source))) process.env[k] = String(v);
          } catch {}
        });
        continue;
      }
      if (op === 'chdir') {
        // A pool sandbox lent to a --fresh run: its workspace was mounted over /workspace just now.
        queue = queue.then(() => {
          try {
            process.chdir(source);
          } catch {}
        });
        continue;
      }
      if (op === 'env') {
        queue = queue.then(() => {
          try {
            for (const [k, v] of Object.entries(JSON.parse(source))) scoped[k] = String(v);
          } catch {}
        });
        continue;
      }
      queue = queue.then(() => (op === 'check' ? check(source, cell, typed) : run(source, name, cell, typed)));
    }
  };
  ctl.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    takeFrames();
  });
  ctl.on('end', () => queue.then(() => ctl.end()));
})();
