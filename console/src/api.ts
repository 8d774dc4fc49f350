/**
 * The console's only way to Gantry: the public API under /v1 with the key the user signed in
 * with, kept in this tab's session storage (gone when the tab closes) and sent as a bearer token.
 */
const KEY = 'gantry.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key: string) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

/** An API error as Together shapes it: `{"error":{"message",…}}`, or the queue's flat `{"message",…}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const message = typeof body.error === 'object' ? body.error.message : (body.message ?? body.error);
    return new ApiError(res.status, message ?? `${res.status} ${res.statusText}`);
  } catch {
    return new ApiError(res.status, text || `${res.status} ${res.statusText}`);
  }
}

function headers(body?: unknown, key = session.key()): HeadersInit {
  return { authorization: `Bearer ${key ?? ''}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
}

/** A JSON call; throws ApiError with the API's own message on any non-2xx answer. */
export async function api<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
  const res = await fetch(`/v1${path}`, { method, headers: headers(body, key), body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** Follows an NDJSON stream (deployment logs with follow=true) until `signal` aborts. */
export async function follow(path: string, signal: AbortSignal, onItem: (item: unknown) => void): Promise<void> {
  const res = await fetch(`/v1${path}`, { headers: headers(), signal });
  if (!res.ok || !res.body) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line) onItem(JSON.parse(line));
  }
}

export const q = (params: Record<string, string | number | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : '';
};
