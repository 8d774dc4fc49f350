import { systemClock, type Clock } from '../../src/domain/clock.js';

/**
 * The real clock, moved forward by the test: `step(ms)` jumps ahead (a claim lapses, an hour of
 * idleness passes) while real time goes on passing, so long polls and a live runtime's timers
 * behave as in production. Unit tests that own every timer use TestClock (src/domain/clock.ts).
 */
export class SteppedClock implements Clock {
  private offset = 0;

  constructor(start?: Date | number) {
    if (start !== undefined) this.set(start);
  }

  now() {
    return new Date(this.nowMs());
  }

  nowMs() {
    return systemClock.nowMs() + this.offset;
  }

  step(ms: number) {
    this.offset += ms;
  }

  set(at: Date | number) {
    this.offset = (typeof at === 'number' ? at : at.getTime()) - systemClock.nowMs();
  }

  setTimeout = systemClock.setTimeout;
  setInterval = systemClock.setInterval;
  sleep = systemClock.sleep;
}
