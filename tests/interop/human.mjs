// Shared by both TypeScript clients: reads the plan (tests/test_interop.py writes it; it holds
// no secret) and plays the human at the MCP client: answers form questions from a queue.
import { readFileSync } from 'node:fs';

export const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const answers = [...(plan.answers ?? [])];

export function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

// An elicitation/create request -> the result the human gives.
export function answer(params) {
    emit({ prompt: params.message, schema: params.requestedSchema ?? null });
    const next = answers.shift();
    if (next === undefined || next === 'decline' || next === 'cancel') {
        return { action: next ?? 'cancel' };
    }
    return { action: 'accept', content: { value: next } };
}

// Call the plan's tools in order with the client's DEFAULT request options (the 60 s timeout
// included: that is what the slow-human cases are about).
export async function runCalls(client) {
    for (const call of plan.calls) {
        const started = Date.now();
        try {
            const res = await client.callTool({ name: call.tool, arguments: call.args ?? {} });
            const text = (res.content ?? []).map(c => c.text ?? '').join('');
            emit({ tool: call.tool, isError: Boolean(res.isError), text, seconds: (Date.now() - started) / 1000 });
        } catch (err) {
            emit({ tool: call.tool, failed: true, error: String(err?.message ?? err), code: err?.code ?? null,
                   seconds: (Date.now() - started) / 1000 });
        }
    }
}
