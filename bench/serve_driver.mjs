// The SDK side of bench/serve: E2B's own @e2b/code-interpreter against `sandpit serve` (E2B_* in the environment).
// Prints one JSON object: every sample in ms, and the 20-sandbox concurrency check.
import { Sandbox } from '@e2b/code-interpreter';

import fs from 'node:fs';
import path from 'node:path';

const rounds = Number(process.argv[2] || 30);
// Until `sandpit serve`'s warm pool (session.pool, 2 by default) has its sandboxes ready again: a create
// is timed as an app that does not create faster than the pool refills (~0.7 s a sandbox here) sees it.
const poolDir = path.join(process.env.XDG_STATE_HOME, 'sandpit', 'pool');
const readySlots = () => {
  let n = 0;
  for (const fp of fs.existsSync(poolDir) ? fs.readdirSync(poolDir) : []) {
    const dir = path.join(poolDir, fp);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const slot of fs.readdirSync(dir)) if (slot.startsWith('slot-') && fs.existsSync(path.join(dir, slot, 'socket'))) n++;
  }
  return n;
};
const waitPool = async () => {
  const until = Date.now() + 20000;
  while (readySlots() < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
};
const now = () => performance.now();
const samples = { create: [], 'create + first runCode': [], 'warm runCode': [] };

const warm = await Sandbox.create();
await warm.runCode('1+1');
const expect = (ex, text) => {
  if (ex.error || (text !== undefined && ex.text !== text && ex.logs.stdout.join('') !== text)) {
    throw new Error(`unexpected result: ${JSON.stringify({ text: ex.text, logs: ex.logs, error: ex.error })}`);
  }
};
for (let i = 0; i < 3; i++) expect(await warm.runCode('1+1'), '2'); // untimed warm-up

for (let r = 0; r < rounds; r++) {
  const steps = [
    async () => {
      const t0 = now();
      const sbx = await Sandbox.create();
      const t1 = now();
      expect(await sbx.runCode('print(1)'), '1\n');
      const t2 = now();
      samples.create.push(t1 - t0);
      samples['create + first runCode'].push(t2 - t0);
      await sbx.kill();
    },
    async () => {
      const t0 = now();
      expect(await warm.runCode('1+1'), '2');
      samples['warm runCode'].push(now() - t0);
    },
  ];
  await waitPool();
  if (Math.random() < 0.5) steps.reverse();
  for (const step of steps) await step();
}
await warm.kill();

// 20 sandboxes at once, each running code that prints its own number.
const t0 = now();
const results = await Promise.allSettled(
  Array.from({ length: 20 }, async (_, n) => {
    const sbx = await Sandbox.create();
    try {
      const ex = await sbx.runCode(`import time; time.sleep(0.05); print(${n})`);
      return ex.logs.stdout.join('') === `${n}\n`;
    } finally {
      await sbx.kill();
    }
  }),
);
const concurrency = {
  ms: now() - t0,
  ok: results.filter((r) => r.status === 'fulfilled' && r.value === true).length,
  errors: results.filter((r) => r.status === 'rejected').map((r) => String(r.reason)).slice(0, 3),
};
console.log(JSON.stringify({ samples, concurrency }));
