// Line charts on a canvas, fed by samples the console takes itself every
// five seconds (RabbitMQ's UI draws its own from the rates the API
// gives; queue depths it samples the same way).

export const SAMPLE_MS = 5000;
const KEEP = 120; // ten minutes of samples

// Series is the history of some figures: samples of {t, values}.
export class Series {
  constructor() { this.samples = []; }

  add(values, t = Date.now()) {
    const last = this.samples[this.samples.length - 1];
    if (last && t - last.t < SAMPLE_MS / 2) this.samples[this.samples.length - 1] = {t, values};
    else this.samples.push({t, values});
    if (this.samples.length > KEEP) this.samples.shift();
  }

  latest() { return this.samples[this.samples.length - 1]?.values; }
}

// series keeps one Series per name for the console's lifetime, so that a
// chart's history survives leaving its page.
const all = new Map();
export function series(name) {
  if (!all.has(name)) all.set(name, new Series());
  return all.get(name);
}

const COLORS = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2'];

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// Chart draws a Series: lines named by lines [{key, label}], a legend
// with each line's latest value, a y axis from zero.
export class Chart {
  constructor(canvas, legend, lines, format = String) {
    this.canvas = canvas;
    this.legend = legend;
    this.lines = lines.map((l, i) => ({...l, color: COLORS[i % COLORS.length]}));
    this.format = format;
  }

  draw(s) {
    this.drawLegend(s.latest());
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 600, ht = c.clientHeight || 160;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(ht * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(ht * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, ht);
    const style = getComputedStyle(c);
    const ink = style.color || '#333';
    const pad = {l: 56, r: 8, t: 8, b: 20};
    const pw = w - pad.l - pad.r, ph = ht - pad.t - pad.b;
    const pts = s.samples;
    let max = 0;
    for (const p of pts) for (const l of this.lines) max = Math.max(max, Number(p.values[l.key]) || 0);
    max = niceMax(max);
    // The time axis grows with the history, from a minute to ten.
    const now = Date.now();
    const span = Math.min(KEEP * SAMPLE_MS, Math.max(60000, pts.length ? now - pts[0].t : 0));
    const x = t => pad.l + pw * (1 - (now - t) / span);
    const y = v => pad.t + ph * (1 - v / max);

    g.font = '11px system-ui, sans-serif';
    g.fillStyle = ink;
    g.strokeStyle = ink;
    g.globalAlpha = 0.15;
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const yy = Math.round(y(max * i / 4)) + 0.5;
      g.beginPath(); g.moveTo(pad.l, yy); g.lineTo(w - pad.r, yy); g.stroke();
    }
    g.globalAlpha = 0.8;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) g.fillText(this.format(max * i / 4), pad.l - 6, y(max * i / 4));
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const step = [15000, 30000, 60000, 120000].find(st => span / st <= 5) || 120000;
    for (let ago = 0; ago <= span; ago += step) {
      const label = ago === 0 ? 'now' : ago < 60000 ? `−${ago / 1000} s` : `−${ago / 60000} min`;
      g.fillText(label, Math.min(w - pad.r - 14, Math.max(pad.l + 12, x(now - ago))), ht - pad.b + 4);
    }
    g.globalAlpha = 1;

    g.lineWidth = 2;
    for (const l of this.lines) {
      g.strokeStyle = l.color;
      g.beginPath();
      let started = false;
      for (const p of pts) {
        const v = Number(p.values[l.key]);
        if (!Number.isFinite(v)) { started = false; continue; }
        const px = x(p.t), py = y(v);
        if (started) g.lineTo(px, py); else g.moveTo(px, py);
        started = true;
      }
      g.stroke();
      const last = pts[pts.length - 1];
      const v = Number(last?.values[l.key]);
      if (Number.isFinite(v)) {
        g.fillStyle = l.color;
        g.beginPath();
        g.arc(x(last.t), y(v), 3, 0, 2 * Math.PI);
        g.fill();
      }
    }
  }

  drawLegend(latest) {
    if (!this.legend) return;
    if (!this.items) {
      this.items = this.lines.map(l => {
        const value = document.createElement('strong');
        const li = document.createElement('li');
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.backgroundColor = l.color;
        li.append(swatch, `${l.label} `, value);
        this.legend.append(li);
        return value;
      });
    }
    this.lines.forEach((l, i) => {
      const v = latest?.[l.key];
      const text = typeof v === 'number' ? this.format(v) : '–';
      if (this.items[i].textContent !== text) this.items[i].textContent = text;
    });
  }
}
