import type { Worker } from 'node:cluster';
import { CHANNELS, deliverTo, type Bus, type Channel, type Handlers } from './bus.js';

/** A bus message between a gateway worker and its main process. */
export interface BusMessage {
  bus: Channel;
  payload: string;
}

export const isBusMessage = (m: unknown): m is BusMessage => typeof m === 'object' && m !== null && 'bus' in m && 'payload' in m;

/**
 * A gateway worker's bus: its messages go to the main process, which passes them on (to the
 * other workers, and to other instances on PostgreSQL); what the main process passes on
 * arrives here. Delivered in this process too, as on every bus.
 */
export class IpcBus implements Bus {
  private readonly handlers: Handlers = new Map();

  constructor() {
    process.on('message', (m) => {
      if (isBusMessage(m)) deliverTo(this.handlers, m.bus, m.payload);
    });
  }

  publish(channel: Channel, payload: string) {
    deliverTo(this.handlers, channel, payload);
    process.send?.({ bus: channel, payload } satisfies BusMessage);
  }

  subscribe(channel: Channel, handler: (payload: string) => void) {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }

  async close() {}
}

/**
 * The main process's side: a message from a worker is published on the main bus (so this
 * process and other instances get it), and everything the main bus delivers here, from this
 * process or another instance, goes on to every worker but the one it came from.
 */
export function relayToWorkers(main: Bus, workers: () => Iterable<Worker>) {
  let from: Worker | null = null;
  for (const channel of CHANNELS) {
    main.subscribe(channel, (payload) => {
      for (const w of workers()) if (w !== from && w.isConnected()) w.send({ bus: channel, payload } satisfies BusMessage);
    });
  }
  return (worker: Worker, m: unknown) => {
    if (!isBusMessage(m)) return;
    // Delivery on the main bus is synchronous, so `from` marks this message's relays only.
    from = worker;
    try {
      main.publish(m.bus, m.payload);
    } finally {
      from = null;
    }
  };
}
