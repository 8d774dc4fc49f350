import { Ajv, type ErrorObject } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';
import { GantryError, errors } from '../contract/errors.js';
import { NO_NUL_PATTERN } from '../contract/schemas/common.js';

/**
 * Request validation. Bodies are checked strictly: no type coercion, no silently dropped
 * fields, so `"cpu": "2"` or an unknown field is a 400 that names it. Query strings and
 * path parameters arrive as text and are coerced to the schema's types.
 */
const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false });
const lenient = new Ajv({ allErrors: false, coerceTypes: true, removeAdditional: false, useDefaults: true, strict: false });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const validate = (httpPart === 'body' ? strict : lenient).compile(schema as object);
  return (data: unknown) => (validate(data) ? { value: data } : { error: toApiError(validate.errors ?? [], httpPart) });
};

/** "/environment_variables/0/name" → "environment_variables[0].name" */
function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function toApiError(errs: ErrorObject[], httpPart: string | undefined): GantryError {
  const e = errs[0];
  const where = httpPart === 'body' || !httpPart ? '' : `${httpPart} `;
  if (!e) return errors.invalid(null, 'invalid request');
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const field = fieldPath(e.instancePath, String(p.missingProperty));
      return errors.invalid(field, `${where}${field} is required`, 'missing_field');
    }
    case 'additionalProperties': {
      const field = fieldPath(e.instancePath, String(p.additionalProperty));
      return errors.invalid(field, `${where}${field} is not a known field`, 'unknown_field');
    }
    case 'type': {
      const field = fieldPath(e.instancePath) || 'body';
      return errors.invalid(field, `${where}${field} must be of type ${String(p.type)}`, 'invalid_type');
    }
    case 'enum': {
      const field = fieldPath(e.instancePath);
      return errors.invalid(field, `${where}${field} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`);
    }
    case 'const': {
      const field = fieldPath(e.instancePath);
      return errors.invalid(field, `${where}${field} must be ${JSON.stringify(p.allowedValue)}`);
    }
    case 'pattern': {
      // Never the value itself in the message: it may be a secret.
      const field = fieldPath(e.instancePath);
      if (p.pattern === NO_NUL_PATTERN) return errors.invalid(field, `${where}${field} must not contain NUL bytes: a process environment cannot hold them`);
      return errors.invalid(field, `${where}${field} has characters that are not allowed (it must match ${String(p.pattern)})`);
    }
    default: {
      const field = fieldPath(e.instancePath) || 'body';
      return errors.invalid(field, `${where}${field} ${e.message ?? 'is invalid'}`);
    }
  }
}
