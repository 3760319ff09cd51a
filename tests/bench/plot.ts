// A small SVG line plot for the bench's figures: log or linear x, linear y from 0,
// one polyline per series with its points marked, axes with ticks and labels.

export interface PlotSpec {
  xLabel: string;
  yLabel: string;
  lines: { name: string; points: { x: number; y: number }[] }[];
  logX?: boolean;
}

const W = 560, H = 340, L = 70, R = 130, T = 20, B = 50;
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

/** Returns the SVG text of a plot. */
export function linePlot(spec: PlotSpec): string {
  const xs = spec.lines.flatMap((l) => l.points.map((p) => p.x)).filter((x) => x > 0);
  const ys = spec.lines.flatMap((l) => l.points.map((p) => p.y));
  const xMin = Math.min(...xs, 1), xMax = Math.max(...xs, 2);
  const yMax = niceMax(Math.max(...ys, 0));
  const fx = spec.logX
    ? (x: number) => L + (Math.log(x / xMin) / Math.log(xMax / xMin || 2)) * (W - L - R)
    : (x: number) => L + ((x - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const fy = (y: number) => H - B - (y / yMax) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5;
    out.push(
      `<line x1="${L - 4}" y1="${fy(y)}" x2="${L}" y2="${fy(y)}" stroke="black"/>`,
      `<text x="${L - 6}" y="${fy(y) + 4}" text-anchor="end">${+y.toPrecision(3)}</text>`,
    );
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(
      `<line x1="${fx(x)}" y1="${H - B}" x2="${fx(x)}" y2="${H - B + 4}" stroke="black"/>`,
      `<text x="${fx(x)}" y="${H - B + 16}" text-anchor="middle">${x}</text>`,
    );
  }
  out.push(
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${
      (T + H - B) / 2
    })">${esc(spec.yLabel)}</text>`,
  );
  spec.lines.forEach((line, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = line.points.filter((p) => p.x > 0).sort((a, b) => a.x - b.x);
    out.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2" points="${
        pts.map((p) => `${fx(p.x).toFixed(1)},${fy(p.y).toFixed(1)}`).join(" ")
      }"/>`,
      ...pts.map((p) =>
        `<circle cx="${fx(p.x).toFixed(1)}" cy="${fy(p.y).toFixed(1)}" r="3" fill="${c}"/>`
      ),
      `<line x1="${W - R + 10}" y1="${T + 10 + 18 * i}" x2="${W - R + 30}" y2="${
        T + 10 + 18 * i
      }" stroke="${c}" stroke-width="2"/>`,
      `<text x="${W - R + 36}" y="${T + 14 + 18 * i}">${esc(line.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
