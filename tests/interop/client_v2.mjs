// The official TypeScript SDK v2 client (@modelcontextprotocol/client@2): `legacy` negotiates
// the handshake era, `modern` pins 2026-07-28 (questions come back as input_required results
// and the client's retry loop answers them through the same elicitation handler).
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { plan, answer, emit, runCalls } from './human.mjs';

const capabilities = plan.elicit ? { elicitation: { form: {} } } : {};
const versionNegotiation = plan.mode === 'modern' ? { mode: { pin: '2026-07-28' } } : { mode: 'legacy' };
const client = new Client({ name: 'interop-v2', version: '2.0.0' }, { capabilities, versionNegotiation });
if (plan.elicit) {
    client.setRequestHandler('elicitation/create', async request => answer(request.params));
}
const transport = new StdioClientTransport({ command: plan.command, args: plan.args, env: plan.env, stderr: 'inherit' });
await client.connect(transport);
emit({ connected: true, protocolVersion: client.getNegotiatedProtocolVersion() ?? null });
await runCalls(client);
await client.close();
