/**
 * qlog → SVG: congestion window, bytes in flight, RTT (smoothed / min / latest) and packet losses over time, as one
 * self-contained SVG (hand-written: three stacked panels sharing a time axis, each with axes, labels and a legend).
 * Input is the records of one JSON-SEQ qlog file (what Petrel's `qlog` option writes); only
 * recovery:metrics_updated and recovery:packet_lost are read, so any qlog 0.3 trace with those events works.
 */

export interface Sample {
  /** ms since the trace's reference time */
  t: number;
  v: number;
}

export interface PlotSeries {
  cwnd: Sample[];
  bytesInFlight: Sample[];
  smoothedRtt: Sample[];
  minRtt: Sample[];
  latestRtt: Sample[];
  /** times of recovery:packet_lost events */
  losses: number[];
  /** first and last event time */
  start: number;
  end: number;
  title: string;
}

const METRICS: ReadonlyArray<[string, keyof PlotSeries]> = [
  ['congestion_window', 'cwnd'],
  ['bytes_in_flight', 'bytesInFlight'],
  ['latest_rtt', 'latestRtt'], // first: the other two count only from the first measurement on
  ['smoothed_rtt', 'smoothedRtt'],
  ['min_rtt', 'minRtt'],
];

/** Pulls the plotted series out of parsed qlog records (the header first, then events; others are skipped). */
export function extractSeries(records: readonly unknown[]): PlotSeries {
  const s: PlotSeries = {
    cwnd: [],
    bytesInFlight: [],
    smoothedRtt: [],
    minRtt: [],
    latestRtt: [],
    losses: [],
    start: Infinity,
    end: -Infinity,
    title: '',
  };
  for (const r of records) {
    if (typeof r !== 'object' || r === null) continue;
    const rec = r as Record<string, unknown>;
    if (rec['qlog_version'] !== undefined) {
      const trace = rec['trace'] as Record<string, unknown> | undefined;
      const vp = trace?.['vantage_point'] as Record<string, unknown> | undefined;
      s.title = [rec['title'], vp?.['type']].filter((x) => typeof x === 'string' && x !== '').join(' — ');
      continue;
    }
    const t = rec['time'];
    if (typeof t !== 'number' || !Number.isFinite(t)) continue;
    s.start = Math.min(s.start, t);
    s.end = Math.max(s.end, t);
    const data = rec['data'] as Record<string, unknown> | undefined;
    if (rec['name'] === 'recovery:metrics_updated' && data) {
      for (const [field, key] of METRICS) {
        const v = data[field];
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        // RTT estimates before the first sample are the configured initial RTT, not a measurement: skip them.
        if ((key === 'smoothedRtt' || key === 'minRtt') && s.latestRtt.length === 0) continue;
        if (key === 'latestRtt' && v <= 0) continue;
        (s[key] as Sample[]).push({ t, v });
      }
    } else if (rec['name'] === 'recovery:packet_lost') s.losses.push(t);
  }
  if (s.start > s.end) s.start = s.end = 0;
  return s;
}

/** 1, 2 or 5 times a power of ten, giving about `count` steps over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function ticks(lo: number, hi: number, count: number): number[] {
  const step = niceStep(hi - lo, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(4));
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Line {
  label: string;
  color: string;
  samples: Sample[];
  dash?: string;
  /** step (held until the next sample) rather than straight segments */
  step?: boolean;
}

interface Panel {
  title: string;
  unit: string;
  lines: Line[];
  /** scale applied to values before plotting (e.g. bytes → KiB) */
  scale: number;
}

export interface PlotOptions {
  width?: number;
  /** height of one panel's plotting area */
  panelHeight?: number;
}

/** The SVG document. */
export function renderSvg(s: PlotSeries, opts: PlotOptions = {}): string {
  const W = opts.width ?? 960;
  const PH = opts.panelHeight ?? 190;
  const L = 72;
  const R = 24;
  const TOP = 56;
  const GAP = 62;
  const plotW = W - L - R;
  const panels: Panel[] = [
    {
      title: 'Congestion window and bytes in flight',
      unit: 'KiB',
      scale: 1 / 1024,
      lines: [
        { label: 'cwnd', color: '#1f77b4', samples: s.cwnd, step: true },
        { label: 'bytes in flight', color: '#ff7f0e', samples: s.bytesInFlight, step: true },
      ],
    },
    {
      title: 'Round-trip time',
      unit: 'ms',
      scale: 1,
      lines: [
        { label: 'latest', color: '#9aa5b1', samples: s.latestRtt },
        { label: 'smoothed', color: '#2ca02c', samples: s.smoothedRtt, step: true },
        { label: 'min', color: '#6b3fa0', samples: s.minRtt, dash: '6 4', step: true },
      ],
    },
  ];
  const LOSS_H = 46;
  const H = TOP + 20 + panels.length * (PH + GAP) + LOSS_H + 28;
  const t0 = s.start;
  const t1 = s.end > s.start ? s.end : s.start + 1;
  const useSeconds = t1 - t0 >= 5000;
  const tUnit = useSeconds ? 's' : 'ms';
  const x = (t: number): number => L + ((t - t0) / (t1 - t0)) * plotW;
  const xTicks = ticks(t0, t1, 10);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${L}" y="26" font-size="16" font-weight="600" fill="#111">${esc(s.title === '' ? 'qlog' : s.title)}</text>`,
    `<text x="${L}" y="44" fill="#555">${s.cwnd.length + s.smoothedRtt.length} metric samples, ${s.losses.length} packets lost, ${fmt((t1 - t0) / (useSeconds ? 1000 : 1))} ${tUnit}</text>`,
  );

  const xAxis = (y: number, labels: boolean): void => {
    for (const t of xTicks) {
      const px = x(t).toFixed(1);
      out.push(`<line x1="${px}" y1="${y}" x2="${px}" y2="${y + 4}" stroke="#333"/>`);
      if (labels) out.push(`<text x="${px}" y="${y + 17}" text-anchor="middle" fill="#333">${fmt(useSeconds ? t / 1000 : t)}</text>`);
    }
    out.push(`<line x1="${L}" y1="${y}" x2="${L + plotW}" y2="${y}" stroke="#333"/>`);
  };

  panels.forEach((p, i) => {
    const top = TOP + 20 + i * (PH + GAP);
    const bottom = top + PH;
    let hi = 0;
    for (const l of p.lines) for (const smp of l.samples) hi = Math.max(hi, smp.v * p.scale);
    hi = hi > 0 ? hi * 1.08 : 1;
    const y = (v: number): number => bottom - (v * p.scale * PH) / hi;
    out.push(`<text x="${L}" y="${top - 8}" font-size="13" font-weight="600" fill="#222">${esc(p.title)}</text>`);
    // Grid and y axis.
    for (const v of ticks(0, hi, 5)) {
      const py = (bottom - (v * PH) / hi).toFixed(1);
      out.push(`<line x1="${L}" y1="${py}" x2="${L + plotW}" y2="${py}" stroke="#e6e6e6"/>`);
      out.push(`<text x="${L - 6}" y="${(+py + 4).toFixed(1)}" text-anchor="end" fill="#333">${fmt(v)}</text>`);
    }
    out.push(`<line x1="${L}" y1="${top}" x2="${L}" y2="${bottom}" stroke="#333"/>`);
    out.push(`<text transform="translate(${L - 52},${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(p.unit)}</text>`);
    // Losses as faint vertical marks behind the lines.
    if (i === 0) {
      for (const t of s.losses) {
        out.push(`<line x1="${x(t).toFixed(1)}" y1="${top}" x2="${x(t).toFixed(1)}" y2="${bottom}" stroke="#d62728" stroke-opacity="0.12"/>`);
      }
    }
    for (const l of p.lines) {
      if (l.samples.length === 0) continue;
      const pts: string[] = [];
      let prevY: string | null = null;
      for (const smp of l.samples) {
        const px = x(smp.t).toFixed(1);
        const py = y(smp.v).toFixed(1);
        if (l.step && prevY !== null) pts.push(`${px},${prevY}`);
        pts.push(`${px},${py}`);
        prevY = py;
      }
      if (l.step && prevY !== null) pts.push(`${x(t1).toFixed(1)},${prevY}`);
      out.push(
        `<polyline fill="none" stroke="${l.color}" stroke-width="${l.label === 'latest' ? 1 : 1.6}"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''} stroke-linejoin="round" points="${pts.join(' ')}"/>`,
      );
    }
    // Legend, top right.
    let lx = L + plotW;
    for (const l of [...p.lines].reverse()) {
      const w = 40 + l.label.length * 7;
      lx -= w;
      out.push(
        `<line x1="${lx.toFixed(1)}" y1="${top - 12}" x2="${(lx + 22).toFixed(1)}" y2="${top - 12}" stroke="${l.color}" stroke-width="2.5"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''}/>`,
      );
      out.push(`<text x="${(lx + 26).toFixed(1)}" y="${top - 8}" fill="#333">${esc(l.label)}${l.samples.length === 0 ? ' (none)' : ''}</text>`);
    }
    xAxis(bottom, true);
  });

  // Loss events: one tick per lost packet.
  const lt = TOP + 20 + panels.length * (PH + GAP);
  out.push(`<text x="${L}" y="${lt - 8}" font-size="13" font-weight="600" fill="#222">Packets declared lost (${s.losses.length})</text>`);
  out.push(`<rect x="${L}" y="${lt}" width="${plotW}" height="${LOSS_H - 20}" fill="#fafafa" stroke="#ddd"/>`);
  for (const t of s.losses) {
    out.push(`<line x1="${x(t).toFixed(1)}" y1="${lt + 3}" x2="${x(t).toFixed(1)}" y2="${lt + LOSS_H - 23}" stroke="#d62728" stroke-width="1.2"/>`);
  }
  xAxis(lt + LOSS_H - 20, true);
  out.push(`<text x="${L + plotW / 2}" y="${lt + LOSS_H + 16}" text-anchor="middle" fill="#333">time (${tUnit})</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
