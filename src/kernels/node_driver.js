// sandpit's Node.js driver: runs inside the jail, reads cells from fd 3 and answers there.
// Frames in: "exec <nbytes> <filename>\n" + source. Out: one JSON object per line.
'use strict';
(() => {
  const net = require('net');
  const vm = require('vm');
  const util = require('util');
  const Module = require('module');

  globalThis.require = Module.createRequire('/workspace/');
  globalThis.module = { exports: {} };
  const ctl = new net.Socket({ fd: 3, readable: true, writable: true });
  const send = (obj) => ctl.write(JSON.stringify(obj) + '\n');

  const userStack = (err) =>
    String(err && err.stack ? err.stack : err)
      .split('\n')
      .filter((line) => !/\[eval\]|\(node:|at node:|sandpit-driver/.test(line))
      .join('\n');

  const errorOf = (err) => {
    const isError = err instanceof Error;
    return {
      name: isError ? err.name : 'Error',
      value: isError ? err.message : util.inspect(err),
      traceback: isError ? userStack(err) : util.inspect(err),
    };
  };

  // SIGINT (Ctrl-C, a timeout) interrupts the running cell, never the driver:
  // synchronous code through breakOnSigint, a pending promise by giving up on it.
  let interruptCell = null;
  process.on('SIGINT', () => interruptCell && interruptCell());

  const evaluate = (source, filename) => {
    try {
      return vm.runInThisContext(source, { filename, breakOnSigint: true });
    } catch (err) {
      // Top-level await: run the cell as an async function body.
      if (err instanceof SyntaxError && /await is only valid/.test(err.message)) {
        return vm.runInThisContext(`(async () => {\n${source}\n})()`, { filename, lineOffset: -1, breakOnSigint: true });
      }
      throw err;
    }
  };

  const run = async (source, filename) => {
    let value = null;
    let error = null;
    try {
      let result = evaluate(source, filename);
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
    send({ type: 'result', exit_code: error ? 1 : 0, value, error });
  };

  let pending = Buffer.alloc(0);
  let queue = Promise.resolve();
  const takeFrames = () => {
    for (;;) {
      const newline = pending.indexOf(10);
      if (newline < 0) return;
      const [, , size, name] = pending.subarray(0, newline).toString().match(/^(\w+) (\d+) (.*)$/) || [];
      if (size === undefined || pending.length < newline + 1 + Number(size)) return;
      const source = pending.subarray(newline + 1, newline + 1 + Number(size)).toString();
      pending = pending.subarray(newline + 1 + Number(size));
      queue = queue.then(() => run(source, name));
    }
  };
  ctl.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    takeFrames();
  });
  ctl.on('end', () => queue.then(() => ctl.end()));
})();
