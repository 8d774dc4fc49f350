import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultEngine, engineCommand, engineTemplate } from '../../src/endpoints/engine.js';

const inputs = { model: 'org/m', servedModelName: 'p/org/m-1', gpuCount: 2, disablePromptCache: false, disableSpeculativeDecoding: false, adapters: [] };

test("the config's engine replaces parts of the template; a command without args runs as written (Kubernetes' rule)", () => {
  const template = defaultEngine('process');
  assert.deepEqual(engineTemplate('process', {}), template, 'nothing given: the template');

  const own = engineTemplate('process', { command: ['my-server', '--model', '{model}', '--port', '$(PORT)'] });
  assert.deepEqual(own.args, [], 'the template args are not appended to a command of its own');
  assert.deepEqual(engineCommand(own, inputs), { command: ['my-server', '--model', 'org/m', '--port', '$(PORT)'], args: [] });

  const both = engineTemplate('process', { command: ['my-server'], args: ['--name', '{served_model_name}', '--tp', '{gpu_count}'] });
  assert.deepEqual(engineCommand(both, inputs).args, ['--name', 'p/org/m-1', '--tp', '2']);

  const image = engineTemplate('docker', { image: 'my/vllm:1' });
  assert.equal(image.image, 'my/vllm:1');
  assert.deepEqual(image.args, defaultEngine('docker').args, 'only the image replaced: the args stay');
});
