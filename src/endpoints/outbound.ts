import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';

/**
 * Outbound fetches made for a user (model sources) must not reach into the machine or its
 * network: an upload naming `http://127.0.0.1:<port>` would otherwise fetch another tenant's
 * replica or Gantry's own metrics and hand the body back through storage. The guard sits in
 * the connector, so it judges the address actually dialled: after DNS resolution (no rebinding
 * between a check and the connect), and on every redirect hop.
 */
const PRIVATE_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, with the clouds' metadata service at 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
const PRIVATE_V6 = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const;

class OutboundRefused extends Error {}

/**
 * `allow`: addresses or CIDR ranges an operator lets fetches reach although they are private
 * (`--fetch-allow`); an entry that is neither is refused here, where the list is read.
 */
export function outboundPolicy(allow: readonly string[]): (address: string) => boolean {
  const blocked = new BlockList();
  for (const [net, bits] of PRIVATE_V4) blocked.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of PRIVATE_V6) blocked.addSubnet(net, bits, 'ipv6');
  const allowed = new BlockList();
  for (const entry of allow) {
    const [net, bits, extra] = entry.split('/');
    const version = isIP(net!);
    if (!version || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (version === 6 ? 128 : 32)))) {
      throw new Error(`'${entry}' is not an IP address or a CIDR range (for example 10.0.0.0/8 or 127.0.0.1)`);
    }
    const family = version === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) allowed.addAddress(net!, family);
    else allowed.addSubnet(net!, Number(bits), family);
  }
  return (address) => {
    // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is judged as the IPv4 one.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const [addr, family] = v4 ? [v4, 'ipv4' as const] : [address, isIP(address) === 6 ? ('ipv6' as const) : ('ipv4' as const)];
    return allowed.check(addr, family) || !blocked.check(addr, family);
  };
}

/** A dispatcher whose connections go only to addresses `permitted` accepts. */
export function guardedDispatcher(permitted: (address: string) => boolean): Agent {
  const connect = buildConnector({});
  return new Agent({
    connect: (opts, callback) => {
      const host = opts.hostname.replace(/^\[(.*)\]$/, '$1');
      const dial = (address: string) => {
        if (!permitted(address)) {
          return callback(
            new OutboundRefused(`${opts.hostname} is a private address (${address}); Gantry fetches only public addresses unless --fetch-allow names it`),
            null,
          );
        }
        // Dial the address that was judged; TLS still checks the certificate against the name.
        connect({ ...opts, hostname: address, servername: isIP(host) ? undefined : host } as typeof opts, callback);
      };
      if (isIP(host)) return dial(host);
      lookup(host).then(
        (r) => dial(r.address),
        (err: Error) => callback(err, null),
      );
    },
  });
}
