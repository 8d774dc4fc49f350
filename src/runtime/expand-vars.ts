/**
 * Kubernetes-style `$(VAR)` expansion for command and args: a defined variable is replaced,
 * an undefined reference is left as written, and `$$(VAR)` escapes to a literal `$(VAR)`.
 */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && Object.hasOwn(env, name) ? env[name]! : match;
  });
}
