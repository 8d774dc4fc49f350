import pg from 'pg';
import { Batcher } from '../domain/batcher.js';
import type { Clock } from '../domain/clock.js';

/** The channels instances tell each other things on; payloads are short strings. */
export type Channel =
  /** A queue (`project/model`) has a claimable job: wake a waiting worker. */
  | 'jobs'
  /** Work arrived for a deployment (`id held`): the leader's autoscaler sizes it at once. */
  | 'wake'
  /** A deployment was written through the API: the leader's controller converges it. */
  | 'changed'
  /** The leader's runtime observation of a deployment changed: gateways reload its replicas. */
  | 'observed';

/**
 * Messages between the Gantry instances on one database. Every message is also delivered in
 * this process, so a single instance and several take the same path. Delivery is best effort
 * (a message sent while a listener reconnects is lost): each use also re-reads the store on a
 * timer, and a message only makes that sooner.
 */
export interface Bus {
  publish(channel: Channel, payload: string): void;
  subscribe(channel: Channel, handler: (payload: string) => void): void;
  close(): Promise<void>;
}

export type Handlers = Map<Channel, ((payload: string) => void)[]>;

export function deliverTo(handlers: Handlers, channel: Channel, payload: string) {
  for (const h of handlers.get(channel) ?? []) h(payload);
}

/** One process (SQLite): messages are delivered here only. */
export class LocalBus implements Bus {
  private readonly handlers: Handlers = new Map();

  publish(channel: Channel, payload: string) {
    deliverTo(this.handlers, channel, payload);
  }

  subscribe(channel: Channel, handler: (payload: string) => void) {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }

  async close() {}
}

const PREFIX = 'gantry_';
export const CHANNELS: Channel[] = ['jobs', 'wake', 'changed', 'observed'];

type Send = (messages: { channel: string; payload: string }[]) => Promise<unknown>;
/** Copies of one message a notification may stand for. */
const MAX_COPIES = 10_000;

/**
 * PostgreSQL LISTEN/NOTIFY, as graphile-worker wakes its workers: one dedicated connection
 * listens (reconnecting with backoff when it drops); NOTIFY goes through the store's pool,
 * batched (what is published while a batch is sent goes in the next one statement). A
 * notification reads `<sender>*<copies> <payload>`: the sender, so an instance does not handle
 * its own twice, and how many identical messages it stands for, since PostgreSQL delivers
 * identical notifications of one statement once (a queue's "a job came" three times wakes
 * three workers). One without `*<copies>` (an older Gantry's) counts once.
 */
export class PostgresBus implements Bus {
  private readonly handlers: Handlers = new Map();
  private client: pg.Client | null = null;
  private closed = false;
  private readonly outbox: Batcher<{ channel: Channel; payload: string }, undefined>;

  private constructor(
    private readonly url: string,
    private readonly sender: string,
    send: Send,
    private readonly clock: Clock,
    private readonly log: (msg: string, fields: object) => void,
  ) {
    this.outbox = new Batcher(async (messages) => {
      const copies = new Map<string, { channel: Channel; payload: string; n: number }>();
      for (const m of messages) {
        const key = `${m.channel} ${m.payload}`;
        const seen = copies.get(key);
        if (seen) seen.n++;
        else copies.set(key, { ...m, n: 1 });
      }
      await send([...copies.values()].map((m) => ({ channel: PREFIX + m.channel, payload: `${this.sender}*${m.n} ${m.payload}` })));
      return messages.map(() => undefined);
    });
  }

  static async open(url: string, sender: string, send: Send, clock: Clock, log: (msg: string, fields: object) => void) {
    const bus = new PostgresBus(url, sender, send, clock, log);
    await bus.connect();
    return bus;
  }

  publish(channel: Channel, payload: string) {
    deliverTo(this.handlers, channel, payload);
    this.outbox.add({ channel, payload }).catch((err: Error) => this.log('notify failed', { channel, error: err.message }));
  }

  subscribe(channel: Channel, handler: (payload: string) => void) {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }

  async close() {
    this.closed = true;
    await this.client?.end().catch(() => {});
  }

  private async connect() {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (n) => {
      const space = n.payload?.indexOf(' ') ?? -1;
      if (space < 0 || !n.channel.startsWith(PREFIX)) return;
      const [from, copies] = n.payload!.slice(0, space).split('*');
      if (from === this.sender) return;
      const times = Math.min(Math.max(1, Number(copies) || 1), MAX_COPIES);
      for (let i = 0; i < times; i++) deliverTo(this.handlers, n.channel.slice(PREFIX.length) as Channel, n.payload!.slice(space + 1));
    });
    client.on('error', (err) => {
      this.log('listen connection lost; reconnecting', { error: err.message });
      void this.reconnect(client);
    });
    client.on('end', () => void this.reconnect(client));
    await client.connect();
    for (const c of CHANNELS) await client.query(`LISTEN ${PREFIX}${c}`);
    this.client = client;
  }

  private async reconnect(dead: pg.Client) {
    if (this.closed || this.client !== dead) return;
    this.client = null;
    for (let delayMs = 200; !this.closed; delayMs = Math.min(delayMs * 2, 5000)) {
      await this.clock.sleep(delayMs);
      try {
        await this.connect();
        return;
      } catch {
        // The next attempt waits longer.
      }
    }
  }
}
