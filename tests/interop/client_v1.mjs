// The official TypeScript SDK v1 client (@modelcontextprotocol/sdk@1, handshake era).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { plan, answer, emit, runCalls } from './human.mjs';

const capabilities = plan.elicit ? { elicitation: { form: {} } } : {};
const client = new Client({ name: 'interop-v1', version: '1.0.0' }, { capabilities });
if (plan.elicit) {
    client.setRequestHandler(ElicitRequestSchema, async request => answer(request.params));
}
const transport = new StdioClientTransport({ command: plan.command, args: plan.args, env: plan.env, stderr: 'inherit' });
await client.connect(transport);
emit({ connected: true, protocolVersion: transport._protocolVersion ?? null });
await runCalls(client);
await client.close();
