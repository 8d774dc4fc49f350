import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Line {
  label: string;
  values: (number | null)[];
  color: string;
  /** Draw as bars (counts per interval) rather than a line. */
  bars?: boolean;
}

export interface Mark {
  /** Seconds since the epoch. */
  at: number;
  label: string;
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
export const color = (i: number) => PALETTE[i % PALETTE.length]!;

/**
 * A time-series chart (uPlot): x in seconds since the epoch, one or more lines, and vertical
 * marks (the autoscaler's decisions) drawn over it with their text as a tooltip-like title.
 */
export function Chart({
  title,
  times,
  lines,
  range,
  marks = [],
  height = 180,
  unit = '',
}: {
  title: string;
  times: number[];
  lines: Line[];
  /** The time span shown, in seconds since the epoch: the chosen range, not just where points are (one point would span years). */
  range: [number, number];
  marks?: Mark[];
  height?: number;
  unit?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const marksRef = useRef(marks);
  marksRef.current = marks;
  const rangeRef = useRef(range);
  rangeRef.current = range;
  const shape = lines.map((l) => `${l.label}:${l.bars ? 'b' : 'l'}`).join(',');

  useEffect(() => {
    const host = el.current!;
    const opts: uPlot.Options = {
      width: host.clientWidth || 600,
      height,
      scales: { x: { time: true, range: () => rangeRef.current } },
      series: [
        {},
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: 2,
          ...(l.bars ? { fill: `${l.color}55`, paths: uPlot.paths.bars!({ size: [0.8, 40] }) } : {}),
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${Math.round(v * 100) / 100}${unit}`),
        })),
      ],
      axes: [{}, { size: 60 }],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = '#f59e0b';
            ctx.setLineDash([4, 4]);
            for (const m of marksRef.current) {
              const x = u.valToPos(m.at, 'x', true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    };
    plot.current = new uPlot(opts, [times, ...lines.map((l) => l.values)] as uPlot.AlignedData, host);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: host.clientWidth || 600, height }));
    resize.observe(host);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of lines changes; new data goes through setData below.
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData([times, ...lines.map((l) => l.values)] as uPlot.AlignedData);
  });

  return (
    <figure class="chart" data-points={times.length}>
      <figcaption>{title}</figcaption>
      <div ref={el} role="img" aria-label={`${title}: ${times.length} points`} />
      {marks.length > 0 && (
        <ul class="marks" aria-label="Autoscaler decisions">
          {marks.slice(-5).map((m) => (
            <li key={m.at}>
              {new Date(m.at * 1000).toLocaleTimeString()}: {m.label}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}
