import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import OpenAI from 'openai';
import Together from 'together-ai';
import { eventually } from '../helpers/app.js';
import { assertMatchesContract } from '../helpers/contract.js';
import type { UsageReportView } from '../../src/contract/schemas/usage.js';
import { serveWithClient, stopServed, type GantryProcess, type ServedGantry } from '../helpers/gantry-process.js';

/**
 * Dedicated endpoints end to end: `gantry serve` on the process runtime with two declared
 * H100s and a catalog; the official `together-ai` SDK drives hardware and endpoints, the
 * official `openai` client sends inference to an endpoint whose engine is an OpenAI-compatible
 * server fixture started like vLLM's CLI.
 */
describe('dedicated endpoints', () => {
  let dir: string;
  let g: GantryProcess;
  let client: Together;
  let openai: OpenAI;
  let key: string;

  let served: ServedGantry;
  before(async () => {
    // The Hub is unreachable here (and in CI): point it at a closed port so the failure is certain.
    served = await serveWithClient(
      'gantry-ep-',
      (d) => {
        const config = join(d, 'config.json');
        writeFileSync(
          config,
          JSON.stringify({
            models: [
              { id: 'acme/tiny-chat', type: 'chat', context_length: 2048, memory_gb: 60 },
              { id: 'acme/big-chat', type: 'chat', memory_gb: 150 },
              { id: 'acme/huge-chat', type: 'chat', memory_gb: 1000 },
            ],
            // The example engine (examples/tiny-engine) in place of vLLM, as a user without GPUs would.
            demo: true,
            gpu_prices: { 'h100-80gb': 6 },
            availability_zones: ['local-a', 'local-b'],
            local_model_dirs: [join(d, 'imports')],
          }),
        );
        mkdirSync(join(d, 'imports', 'my-model', 'shards'), { recursive: true });
        writeFileSync(join(d, 'imports', 'my-model', 'config.json'), '{"architectures": ["Tiny"]}');
        writeFileSync(join(d, 'imports', 'my-model', 'shards', 'w.bin'), Buffer.alloc(4096, 7));
        mkdirSync(join(d, 'imports', 'my-adapter'));
        writeFileSync(join(d, 'imports', 'my-adapter', 'adapter_config.json'), '{"r": 8, "base_model_name_or_path": "acme/tiny-chat"}');
        writeFileSync(join(d, 'imports', 'my-adapter', 'adapter_model.safetensors'), Buffer.alloc(1024, 1));
        return ['--data-dir', d, '--config', config, '--gpus', 'h100-80gb:2', '--fetch-allow', '127.0.0.1/32'];
      },
      { HF_ENDPOINT: 'http://127.0.0.1:9' },
    );
    ({ dir, g, key, client } = served);
    openai = new OpenAI({ apiKey: key, baseURL: `${g.url}/v1`, maxRetries: 0 });
  });
  after(() => stopServed(served));

  const state = (id: string) => client.endpoints.retrieve(id).then((e) => e.state);
  const until = (id: string, want: string) =>
    eventually(
      () => state(id),
      (s) => s === want,
      15000,
    );

  test('hardware comes from the GPUs the runtime knows, priced per GPU; ?model= keeps what fits, with availability', async () => {
    const all = await client.endpoints.listHardware();
    assertMatchesContract('/hardware', 'get', all);
    assert.deepEqual(
      all.data.map((h) => [h.id, h.pricing.cents_per_minute, h.specs.gpu_count, h.specs.gpu_memory, h.specs.gpu_type, h.specs.gpu_link]),
      [
        ['1x_nvidia_h100_80gb_sxm', 6, 1, 80, 'h100-80gb', 'sxm'],
        ['2x_nvidia_h100_80gb_sxm', 12, 2, 80, 'h100-80gb', 'sxm'],
      ],
    );
    assert.ok(all.data.every((h) => h.availability === undefined));
    const fits = await client.endpoints.listHardware({ model: 'acme/big-chat' });
    assert.deepEqual(
      fits.data.map((h) => [h.id, h.availability?.status]),
      [['2x_nvidia_h100_80gb_sxm', 'available']],
    );
    assert.deepEqual((await client.endpoints.listHardware({ model: 'acme/huge-chat' })).data, []);
    assert.deepEqual(await client.endpoints.listAvzones(), { avzones: ['local-a', 'local-b'] });
  });

  test('an endpoint starts, serves chat completions (streamed and not), completions and embeddings, stops and starts', async () => {
    const created = await client.endpoints.create({
      model: 'acme/tiny-chat',
      hardware: '1x_nvidia_h100_80gb_sxm',
      autoscaling: { min_replicas: 1, max_replicas: 1 },
      display_name: 'Tiny',
    });
    assertMatchesContract('/endpoints', 'post', created);
    assert.match(created.id, /^endpoint-/);
    assert.match(created.name, /^default\/acme\/tiny-chat-[0-9a-f]{8}$/);
    assert.equal(created.type, 'dedicated');
    assert.equal(created.owner, 'default');
    assert.equal(created.display_name, 'Tiny');
    assert.ok(['PENDING', 'STARTING', 'STARTED'].includes(created.state), created.state);
    assert.equal(await until(created.id, 'STARTED'), 'STARTED');
    assert.equal(
      (await client.endpoints.listHardware({ model: 'acme/big-chat' })).data[0]?.availability?.status,
      'insufficient',
      'one of the two GPUs is taken',
    );

    const chat = await openai.chat.completions.create({ model: created.name, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(chat.model, created.name);
    assert.match(chat.choices[0]!.message.content!, /^Hello from .* \(weights acme\/tiny-chat, tp 1, gpus 0\)$/);

    const stream = await openai.chat.completions.create({ model: created.name, messages: [{ role: 'user', content: 'hi' }], stream: true });
    const pieces: string[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces.push(chunk.choices[0].delta.content);
    assert.ok(pieces.length >= 5, 'token by token');
    assert.equal(pieces.join(''), chat.choices[0]!.message.content);

    const completion = await openai.completions.create({ model: created.name, prompt: 'Once' });
    assert.match(completion.choices[0]!.text, /^Hello from/);
    const embedding = await openai.embeddings.create({ model: created.name, input: ['four'] });
    assert.deepEqual(embedding.data[0]!.embedding, [4, 0.5, -0.5, 1]);

    const unknown = await openai.chat.completions.create({ model: 'default/nope-12345678', messages: [] }).catch((e) => e);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.error?.param, 'model');

    const stopped = await client.endpoints.update(created.id, { state: 'STOPPED' });
    assert.ok(['STOPPING', 'STOPPED'].includes(stopped.state));
    // At once, though the name was just looked up for the requests above.
    const refused = await openai.chat.completions.create({ model: created.name, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    assert.equal(refused.status, 400);
    assert.match(refused.message, /not started/);
    assert.equal(await until(created.id, 'STOPPED'), 'STOPPED');

    await client.endpoints.update(created.id, { state: 'STARTED' });
    assert.equal(await until(created.id, 'STARTED'), 'STARTED');
    const again = await openai.chat.completions.create({ model: created.name, messages: [{ role: 'user', content: 'hi' }] });
    assert.match(again.choices[0]!.message.content!, /^Hello/);

    const listed = await client.endpoints.list({ type: 'dedicated' });
    assertMatchesContract('/endpoints', 'get', listed);
    assertMatchesContract('/endpoints/{endpointId}', 'get', await client.endpoints.retrieve(created.id));
    assert.deepEqual(
      listed.data.map((e) => [e.id, e.name, e.type, e.state]),
      [[created.id, created.name, 'dedicated', 'STARTED']],
    );
    assert.deepEqual((await client.endpoints.list({ type: 'serverless' })).data, []);

    // gantry serve meters the engine's replicas itself: the endpoint is on the usage report at its price.
    const usage = await eventually(
      () => client.get<UsageReportView>('/usage'),
      (u) => u.endpoints.length > 0,
      15000,
    );
    assert.deepEqual(
      usage.endpoints.map((e) => [e.name, e.hardware.map((h) => h.hardware)]),
      [[created.name, ['1x_nvidia_h100_80gb_sxm']]],
    );
    const [metered] = usage.endpoints;
    assert.ok(metered && metered.replica_minutes >= 1);
    assert.equal(metered.cost_cents, metered.replica_minutes * 6);
    await client.endpoints.delete(created.id);
    const gone = await client.endpoints.retrieve(created.id).catch((e) => e);
    assert.equal(gone.status, 404);
  });

  test('the engine gets tensor parallel size = GPU count and the prompt-cache flag; busy hardware waits in PENDING', async () => {
    const big = await client.endpoints.create({
      model: 'acme/big-chat',
      hardware: '2x_nvidia_h100_80gb_sxm',
      autoscaling: { min_replicas: 1, max_replicas: 1 },
      disable_prompt_cache: true,
    });
    await until(big.id, 'STARTED');
    const engineDeployment = await client.beta.jig.retrieve((big as unknown as { deployment: string }).deployment);
    assert.ok(engineDeployment.args!.join(' ').includes('--tensor-parallel-size 2'), engineDeployment.args!.join(' '));
    assert.ok(engineDeployment.args!.includes('--no-enable-prefix-caching'));
    // Both GPUs are taken: a second endpoint on one of them waits.
    assert.equal((await client.endpoints.listHardware({ model: 'acme/tiny-chat' })).data[0]?.availability?.status, 'unavailable', 'no GPU is free');
    const waiting = await client.endpoints.create({
      model: 'acme/tiny-chat',
      hardware: '1x_nvidia_h100_80gb_sxm',
      autoscaling: { min_replicas: 1, max_replicas: 1 },
    });
    assert.equal(await until(waiting.id, 'PENDING'), 'PENDING');
    // The older guide's stop path (seed 002) does what PATCH state does.
    const stopping = await client.post<{ state: string }>(`/endpoints/${big.id}/stop`);
    assert.ok(['STOPPING', 'STOPPED'].includes(stopping.state), stopping.state);
    assert.equal(await until(waiting.id, 'STARTED'), 'STARTED', 'it starts once the GPUs are free');
    await client.post(`/endpoints/${big.id}/start`);
    assert.equal(await until(big.id, 'PENDING'), 'PENDING', 'started again by the older path, it waits for its GPUs');
    for (const id of [big.id, waiting.id]) await client.endpoints.delete(id);
  });

  type Job = { job_id: string; status: string; status_updates: { status: string; message: string }[]; args: object };
  // This SDK version has no jobs resource; its generic get() calls the contract's /jobs routes.
  const job = (id: string) =>
    eventually(
      () => client.get<Job>(`/jobs/${id}`),
      (j) => j.status === 'Complete' || j.status === 'Failed',
      15000,
    );

  test('models: the catalog lists; an upload from a local folder completes, is listed, and serves on an endpoint', async () => {
    const listed = await client.models.list();
    assertMatchesContract('/models', 'get', listed);
    // The config file's models join the built-in catalog.
    const ids = listed.map((m) => m.id);
    assert.deepEqual(ids.slice(-3), ['acme/tiny-chat', 'acme/big-chat', 'acme/huge-chat']);
    assert.ok(ids.includes('meta-llama/Llama-3.1-8B-Instruct'), ids.join(', '));
    assert.equal(listed.find((m) => m.id === 'acme/tiny-chat')!.context_length, 2048);

    const upload = await client.models.upload({ model_name: 'my-model', model_source: join(dir, 'imports', 'my-model'), description: 'mine' });
    assertMatchesContract('/models', 'post', upload);
    assert.equal(upload.data.model_name, 'default/my-model');
    assert.equal(upload.data.model_source, 'local');
    const done = await job(upload.data.job_id);
    assert.equal(done.status, 'Complete', JSON.stringify(done.status_updates));
    assertMatchesContract('/jobs/{jobId}', 'get', done);
    assert.deepEqual(
      done.status_updates.map((u) => u.status),
      ['Queued', 'Running', 'Complete'],
    );
    assert.deepEqual(done.args, { description: 'mine', modelName: 'default/my-model', modelSource: join(dir, 'imports', 'my-model') });
    assert.ok((await client.models.list()).some((m) => m.id === 'default/my-model'));
    const v0 = await fetch(`${g.url}/v0/models`, { headers: { authorization: `Bearer ${key}` } });
    assert.deepEqual(await v0.json(), await client.models.list(), "the older guide's /v0/models");
    assert.ok((await client.get<{ data: Job[] }>('/jobs')).data.some((j) => j.job_id === upload.data.job_id));

    const e = await client.endpoints.create({
      model: 'default/my-model',
      hardware: '1x_nvidia_h100_80gb_sxm',
      autoscaling: { min_replicas: 1, max_replicas: 1 },
    });
    await until(e.id, 'STARTED');
    const chat = await openai.chat.completions.create({ model: e.name, messages: [{ role: 'user', content: 'hi' }] });
    assert.match(chat.choices[0]!.message.content!, /weights \.\/models\/model-[^ ]+ with config\.json/, 'the engine sees the uploaded files');
    await client.endpoints.delete(e.id);
  });

  test('a model uploads from an http(s) URL of a file', async () => {
    const weights = Buffer.alloc(10_000, 3);
    const server = createServer((req, res) => (req.url === '/files/tiny.safetensors' ? res.end(weights) : res.writeHead(404).end()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const upload = await client.models.upload({ model_name: 'from-url', model_source: `http://127.0.0.1:${port}/files/tiny.safetensors` });
      assert.equal(upload.data.model_source, 'url');
      const done = await job(upload.data.job_id);
      assert.equal(done.status, 'Complete', JSON.stringify(done.status_updates));
      assert.match(done.status_updates.at(-1)!.message, /1 file\(s\), 10000 bytes/);
      const missing = await client.models.upload({ model_name: 'from-url-404', model_source: `http://127.0.0.1:${port}/nope` });
      assert.match((await job(missing.data.job_id)).status_updates.at(-1)!.message, /answered 404/);
    } finally {
      server.close();
    }
  });

  test('uploads that cannot be fetched fail with a status update saying why, and never hang', async () => {
    const hub = await client.models.upload({ model_name: 'from-hub', model_source: 'acme/remote-model', hf_token: 'hf_secret_token' });
    assert.equal(hub.data.model_source, 'huggingface');
    const failed = await job(hub.data.job_id);
    assert.equal(failed.status, 'Failed');
    assert.match(failed.status_updates.at(-1)!.message, /cannot reach http:\/\/127\.0\.0\.1:9/);
    assert.ok(!JSON.stringify(failed).includes('hf_secret_token'), 'the token never shows');

    // A failed upload does not take the name: the same model may be uploaded again.
    const retry = await client.models.upload({ model_name: 'from-hub', model_source: 'acme/remote-model' });
    assert.equal(retry.data.model_id, hub.data.model_id);
    assert.notEqual(retry.data.job_id, hub.data.job_id);
    assert.equal((await job(retry.data.job_id)).status, 'Failed');
    const taken = await client.models.upload({ model_name: 'my-model', model_source: 'acme/other' }).catch((err) => err);
    assert.equal(taken.status, 409, 'a model that is ready keeps its name');

    // Outside the allowed folders, an existing path and a missing one fail alike: no existence oracle.
    const failure = async (name: string, source: string) =>
      (await job((await client.models.upload({ model_name: name, model_source: source })).data.job_id)).status_updates.at(-1)!.message;
    const existing = await failure('outside', '/etc');
    const missing = await failure('outside-missing', '/no/such/dir');
    assert.match(existing, /outside the folders local models may come from/);
    assert.equal(existing.replace('/etc', 'X'), missing.replace('/no/such/dir', 'X'));
    assert.match(await failure('inside-missing', join(dir, 'imports', 'nope')), /does not exist in the folders local models may come from/);

    const bad = await client.models.upload({ model_name: 'bad', model_source: 'not a source' }).catch((err) => err);
    assert.equal(bad.status, 400);
    assert.equal(bad.error?.error?.param, 'model_source');
    assert.ok(!(await client.models.list()).some((m) => m.id === 'default/from-hub'), 'a failed upload is not servable');
  });

  test('bad requests are 400s naming the field', async () => {
    const cases: [object, string][] = [
      [{ model: 'acme/tiny-chat', hardware: '8x_nvidia_b200_192gb_sxm', autoscaling: { min_replicas: 1, max_replicas: 1 } }, 'hardware'],
      [{ model: 'acme/huge-chat', hardware: '2x_nvidia_h100_80gb_sxm', autoscaling: { min_replicas: 1, max_replicas: 1 } }, 'hardware'],
      [{ model: 'nobody/unknown', hardware: '1x_nvidia_h100_80gb_sxm', autoscaling: { min_replicas: 1, max_replicas: 1 } }, 'model'],
      [{ model: 'acme/tiny-chat', hardware: '1x_nvidia_h100_80gb_sxm', autoscaling: { min_replicas: 3, max_replicas: 1 } }, 'autoscaling.min_replicas'],
      [
        { model: 'acme/tiny-chat', hardware: '1x_nvidia_h100_80gb_sxm', autoscaling: { min_replicas: 1, max_replicas: 1 }, availability_zone: 'mars-1' },
        'availability_zone',
      ],
    ];
    for (const [body, param] of cases) {
      const err = await client.endpoints.create(body as never).catch((e) => e);
      assert.equal(err.status, 400, JSON.stringify(body));
      assert.equal(err.error?.error?.param ?? err.error?.param, param, JSON.stringify(err.error));
    }
    assert.deepEqual((await client.endpoints.list()).data, [], 'nothing half-made stays behind');
  });

  test('a LoRA adapter uploaded for a model is bound to an endpoint of it, answers under its own name, and is unbound', async () => {
    const source = join(dir, 'imports', 'my-adapter');
    for (const [model_name, base_model] of [
      ['my-adapter', 'acme/tiny-chat'],
      ['big-adapter', 'acme/big-chat'],
    ]) {
      const up = await client.models.upload({ model_name: model_name!, model_source: source, model_type: 'adapter', base_model: base_model! });
      assert.equal((await job(up.data.job_id)).status, 'Complete');
    }
    const notAdapter = await client.models.upload({ model_name: 'x', model_source: source, base_model: 'acme/tiny-chat' }).catch((e) => e);
    assert.equal(notAdapter.error?.error?.param, 'base_model', 'base_model is for adapters only');
    const asEndpoint = await client.endpoints
      .create({ model: 'default/my-adapter', hardware: '1x_nvidia_h100_80gb_sxm', autoscaling: { min_replicas: 1, max_replicas: 1 } })
      .catch((e) => e);
    assert.equal(asEndpoint.error?.error?.param, 'model', 'an adapter is not an endpoint model');

    const e = await client.endpoints.create({
      model: 'acme/tiny-chat',
      hardware: '1x_nvidia_h100_80gb_sxm',
      autoscaling: { min_replicas: 1, max_replicas: 1 },
    });
    await until(e.id, 'STARTED');
    const modelId = `${e.name}:default/my-adapter`;
    assert.deepEqual(await client.endpoints.adapters.add(e.id, { model_id: modelId }), { model_id: modelId });
    assert.deepEqual((await client.endpoints.adapters.list(e.id)).data, [{ adapter_name: 'default/my-adapter', endpoint_name: e.name, model_id: modelId }]);
    const engine = await client.beta.jig.retrieve((e as unknown as { deployment: string }).deployment);
    assert.ok(engine.args!.join(' ').includes('--enable-lora --lora-modules default/my-adapter=./adapters/model-'), engine.args!.join(' '));

    // The engine rolls to a revision that loads the adapter; then its name is served by the endpoint.
    const ask = (model: string) => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
    const chat = await eventually(
      () => ask('default/my-adapter').catch((err) => err),
      (c) => !(c instanceof Error),
      20_000,
    );
    assert.match(
      chat.choices?.[0]?.message.content ?? String(chat),
      /^Hello from default\/my-adapter \(adapter \.\/adapters\/model-\S+ with adapter_config\.json, weights acme\/tiny-chat/,
    );
    assert.match((await ask(e.name)).choices[0]!.message.content!, /^Hello from .*\(weights acme\/tiny-chat/, 'the endpoint still serves its model');

    for (const [model_id, why] of [
      [`${e.name}x:default/my-adapter`, 'another endpoint'],
      [`${e.name}:default/big-adapter`, 'made for acme/big-chat'],
      [`${e.name}:default/nope`, 'not uploaded'],
    ]) {
      const err = await client.endpoints.adapters.add(e.id, { model_id: model_id! }).catch((x) => x);
      assert.equal(err.status, 400, why);
      assert.equal(err.error?.error?.param, 'model_id', why);
    }

    // Bound here, it cannot be bound to another endpoint too (a stopped one holds no GPU).
    const other = await client.endpoints.create({
      model: 'acme/tiny-chat',
      hardware: '1x_nvidia_h100_80gb_sxm',
      autoscaling: { min_replicas: 1, max_replicas: 1 },
      state: 'STOPPED',
    });
    const twice = await client.endpoints.adapters.add(other.id, { model_id: `${other.name}:default/my-adapter` }).catch((x) => x);
    assert.equal(twice.status, 409);
    assert.match(twice.error?.error?.message, /bound to another endpoint/);
    await client.endpoints.delete(other.id);

    assert.deepEqual(await client.endpoints.adapters.remove(e.id, { model_id: modelId }), { deleted: true, model_id: modelId });
    assert.deepEqual((await client.endpoints.adapters.list(e.id)).data, []);
    const gone = await ask('default/my-adapter').catch((err) => err);
    assert.equal(gone.status, 404, 'an unbound adapter no longer routes');
    const again = await client.endpoints.adapters.remove(e.id, { model_id: modelId }).catch((err) => err);
    assert.equal(again.status, 404);
    await client.endpoints.delete(e.id);
  });
});
