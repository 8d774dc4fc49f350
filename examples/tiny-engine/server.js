// A tiny OpenAI-compatible inference engine: CPU only, no weights, deterministic answers. It
// lets you try Gantry's dedicated endpoints without a GPU (`gantry serve --demo` runs it in
// place of vLLM), and the tests use it as the engine. It is started the way vLLM's CLI is:
//   node server.js <model> --served-model-name NAME --tensor-parallel-size N --port P [--host H]
// It answers only for NAME and the LoRA adapters given as `--lora-modules name=path ...` (as
// vLLM does): /v1/chat/completions and /v1/completions (streamed word by word as Server-Sent
// Events with `stream: true`), /v1/embeddings, /v1/models and /health. Its replies say what it
// was started with (weights, tensor parallel size, the GPUs it was given).
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const served = flag('--served-model-name');
const weights = argv[0];
const loraAt = argv.indexOf('--lora-modules');
const adapters = new Map(
  loraAt < 0
    ? []
    : argv
        .slice(loraAt + 1)
        .filter((_, i, rest) => !rest.slice(0, i + 1).some((a) => a.startsWith('--')))
        .map((m) => m.split('=')),
);
const gpus = process.env.CUDA_VISIBLE_DEVICES ?? '';
const port = Number(flag('--port'));
// Uploaded weights are a mounted folder: say whether its config.json is there.
const found = existsSync(join(weights, 'config.json')) ? ' with config.json' : '';
const adapterOf = (name) =>
  adapters.has(name) ? `adapter ${adapters.get(name)}${existsSync(join(adapters.get(name), 'adapter_config.json')) ? ' with adapter_config.json' : ''}, ` : '';
const words = (model) => ['Hello', 'from', model, `(${adapterOf(model)}weights ${weights}${found},`, `tp ${flag('--tensor-parallel-size')},`, `gpus ${gpus})`];
const created = () => Math.floor(Date.now() / 1000);

const json = (res, status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const server = createServer(async (req, res) => {
  if (req.url === '/health') return res.writeHead(200).end();
  if (req.method === 'GET' && req.url === '/v1/models')
    return json(res, 200, { object: 'list', data: [{ id: served, object: 'model', created: created(), owned_by: 'fixture' }] });
  let raw = '';
  for await (const c of req) raw += c;
  let body;
  try {
    body = JSON.parse(raw || '{}');
  } catch {
    return json(res, 400, { error: { message: 'The request body is not valid JSON', type: 'BadRequestError', code: 400 } });
  }
  if (body.model !== served && !adapters.has(body.model))
    return json(res, 404, { error: { message: `The model \`${body.model}\` does not exist.`, type: 'NotFoundError', code: 404 } });
  const usage = { prompt_tokens: 3, completion_tokens: words(body.model).length, total_tokens: 3 + words(body.model).length };
  if (req.url === '/v1/embeddings') {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const vector = (text) => [text.length, 0.5, -0.5, 1];
    // The openai client asks for base64 (little-endian float32s) unless told otherwise.
    const encode = (v) => (body.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v);
    return json(res, 200, {
      object: 'list',
      model: body.model,
      data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: encode(vector(text)) })),
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
  }
  const chat = req.url === '/v1/chat/completions';
  if (!chat && req.url !== '/v1/completions') return json(res, 404, { error: { message: 'not found' } });
  const id = `cmpl-${Math.random().toString(16).slice(2)}`;
  if (body.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const [i, w] of words(body.model).entries()) {
      const text = (i ? ' ' : '') + w;
      const choice = chat
        ? { index: 0, delta: i ? { content: text } : { role: 'assistant', content: text }, finish_reason: null }
        : { index: 0, text, finish_reason: null };
      res.write(
        `data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: created(), model: body.model, choices: [choice] })}\n\n`,
      );
      await new Promise((r) => setTimeout(r, 30));
    }
    const last = chat ? { index: 0, delta: {}, finish_reason: 'stop' } : { index: 0, text: '', finish_reason: 'stop' };
    res.write(
      `data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: created(), model: body.model, choices: [last] })}\n\n`,
    );
    return res.end('data: [DONE]\n\n');
  }
  const text = words(body.model).join(' ');
  const choice = chat ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' } : { index: 0, text, finish_reason: 'stop' };
  return json(res, 200, { id, object: chat ? 'chat.completion' : 'text_completion', created: created(), model: body.model, choices: [choice], usage });
});
server.listen(port, flag('--host') ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
