/**
 * Docker image references, `[host[:port]/]path[:tag][@sha256:…]`, split the way Docker reads
 * them: the first component is a registry host only when it looks like one (has a dot or a
 * port, or is `localhost`); otherwise the image is on Docker Hub.
 */

/** The registry an image reference names: its first part when that looks like a host, else Docker Hub. */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/** The repository's path inside its registry, without tag or digest: `proj_1/app` for `host:5000/proj_1/app:v1@sha256:…`. */
export function repositoryOf(image: string): string {
  const registry = registryOf(image);
  let path = registry === 'docker.io' && !image.startsWith('docker.io/') ? image : image.slice(registry.length + 1);
  const at = path.indexOf('@');
  if (at >= 0) path = path.slice(0, at);
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) path = path.slice(0, colon);
  return path;
}
