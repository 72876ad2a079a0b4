// Spectrogram of what is on screen, drawn from the server's cached log-mel features: a 2-hour file
// costs the same as a 2-second one, and the browser never decodes the audio to draw it.
const BANDS_HEIGHT = 128;

// A perceptual dark-to-bright ramp (close to matplotlib's "magma"), interpolated to 256 entries.
const STOPS = [
  [0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164],
];
const LUT = Array.from({ length: 256 }, (_, i) => {
  const x = (i / 255) * (STOPS.length - 1);
  const lo = Math.floor(x);
  const hi = Math.min(lo + 1, STOPS.length - 1);
  const t = x - lo;
  return STOPS[lo].map((c, k) => Math.round(c + (STOPS[hi][k] - c) * t));
});

export class Spectrogram {
  constructor(canvas, url, durationMs) {
    this.canvas = canvas;
    this.url = url;
    this.durationMs = durationMs;
    this.view = [0, durationMs];
    this.timer = null;
    this.controller = null;
    this.visible = false;
  }

  setVisible(on) {
    this.visible = on;
    this.canvas.hidden = !on;
    if (on) this.refresh();
  }

  // Called with the visible window (seconds) whenever the waveform scrolls or zooms.
  show(startS, endS) {
    this.view = [Math.max(0, Math.floor(startS * 1000)), Math.min(this.durationMs, Math.ceil(endS * 1000))];
    if (!this.visible) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 80);
  }

  async refresh() {
    const [start, end] = this.view;
    if (end <= start) return;
    const width = Math.max(1, Math.round(this.canvas.clientWidth * (window.devicePixelRatio || 1)));
    this.controller?.abort();
    this.controller = new AbortController();
    const query = `start_ms=${start}&end_ms=${end}&columns=${Math.min(width, 4000)}`;
    let body;
    try {
      const response = await fetch(`${this.url}?${query}`, { signal: this.controller.signal, credentials: "same-origin" });
      if (!response.ok) return;
      body = await response.json();
    } catch {
      return; // superseded by a newer window
    }
    this.draw(body);
  }

  draw({ columns, bands, data }) {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    this.canvas.width = columns;
    this.canvas.height = bands;
    const ctx = this.canvas.getContext("2d");
    const image = ctx.createImageData(columns, bands);
    for (let x = 0; x < columns; x++) {
      for (let b = 0; b < bands; b++) {
        const [r, g, bl] = LUT[bytes[x * bands + b]];
        const offset = ((bands - 1 - b) * columns + x) * 4; // low frequencies at the bottom
        image.data[offset] = r;
        image.data[offset + 1] = g;
        image.data[offset + 2] = bl;
        image.data[offset + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    this.canvas.style.height = `${BANDS_HEIGHT}px`;
  }
}
