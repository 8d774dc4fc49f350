import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

/**
 * Validates response bodies against Together's official contract, loaded from
 * contract/together-openapi.yaml (a dated copy of the official file).
 */
const specPath = fileURLToPath(new URL('../../contract/together-openapi.yaml', import.meta.url));
const spec = parse(readFileSync(specPath, 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const cache = new Map<string, ValidateFunction>();

/** The 200 response schema of a contract route, e.g. ('/deployments/{id}', 'get'). */
export function responseValidator(path: string, method: string, status = '200'): ValidateFunction {
  const key = `${method} ${path} ${status}`;
  let v = cache.get(key);
  if (!v) {
    const schema = spec.paths[path]?.[method]?.responses?.[status]?.content?.['application/json']?.schema;
    if (!schema) throw new Error(`the contract has no ${status} JSON response for ${method.toUpperCase()} ${path}`);
    v = ajv.compile({ ...schema, components: spec.components });
    cache.set(key, v);
  }
  return v;
}

export function assertMatchesContract(path: string, method: string, body: unknown) {
  const validate = responseValidator(path, method);
  if (!validate(body)) {
    throw new Error(`response of ${method.toUpperCase()} ${path} does not match the contract: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
  }
}
