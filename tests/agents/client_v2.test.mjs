// @modelcontextprotocol/client 2.4.0 (the v2 SDK): pinned to 2026-07-28, and in its auto mode.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

import { conformance } from './conformance.mjs';
import { SANDPIT, Sandbox } from './helpers.mjs';

const modes = {
  pinned: { mode: { pin: '2026-07-28' } },
  auto: { mode: 'auto', probe: { timeoutMs: 10_000, maxRetries: 0 } },
};

for (const [label, versionNegotiation] of Object.entries(modes)) {
  const sandbox = new Sandbox(`client-v2-${label}`);
  after(() => sandbox.cleanup());

  async function connect() {
    const client = new Client({ name: `client-v2-${label}`, version: '2.4.0' }, { versionNegotiation });
    await client.connect(new StdioClientTransport({ command: SANDPIT, args: ['mcp'], env: sandbox.env(), stderr: 'inherit' }));
    return { client, close: () => client.close() };
  }
  const call = (client, name, args, options = {}) => client.callTool({ name, arguments: args }, options);

  describe(`@modelcontextprotocol/client 2.4.0, ${label}`, () => {
    conformance({ connect, call, sandbox, clientName: `client-v2-${label} 2.4.0`, ping: false });

    test('speaks 2026-07-28 after server/discover', async () => {
      const { client, close } = await connect();
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.deepEqual(client.getDiscoverResult().supportedVersions, ['2026-07-28']);
      await close();
    });
  });
}
