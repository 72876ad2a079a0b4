// The transcript under the waveform: one span per word (click to seek, the word being played is
// highlighted) with the script check's findings marked on it: words heard but not in the script,
// words heard instead of a script word (the script's word in the tooltip), and script words that
// were not heard, shown where they should have been.
const FINDING_CLASS = { hallucination: "ins", mispronunciation: "sub" };

function wordSpan(word, index, onSeek) {
  const span = document.createElement("span");
  span.className = "word";
  span.textContent = word.word;
  span.dataset.index = String(index);
  span.dataset.start = String(word.start_ms);
  span.title = `${(word.start_ms / 1000).toFixed(2)} s · ${Math.round(word.probability * 100)}% sure`;
  span.addEventListener("click", () => onSeek(word.start_ms / 1000));
  return span;
}

function missing(finding) {
  const span = document.createElement("span");
  span.className = "word missing";
  span.textContent = finding.details.expected;
  span.title = `not heard (${Math.round(finding.confidence * 100)}%)`;
  return span;
}

export class Transcript {
  constructor(container, onSeek) {
    this.container = container;
    this.onSeek = onSeek;
    this.spans = [];
    this.words = [];
    this.current = -1;
  }

  render(words, findings) {
    this.words = words;
    this.current = -1;
    const omissions = findings.filter((f) => f.artifact_type === "omission").sort((a, b) => a.start_ms - b.start_ms);
    const marks = findings.filter((f) => FINDING_CLASS[f.artifact_type]);
    const nodes = [];
    let o = 0;
    this.spans = words.map((word, i) => {
      while (o < omissions.length && omissions[o].start_ms < word.start_ms) nodes.push(missing(omissions[o++]));
      const span = wordSpan(word, i, this.onSeek);
      const mark = marks.find((f) => word.start_ms >= f.start_ms && word.end_ms <= f.end_ms);
      if (mark) {
        span.classList.add(FINDING_CLASS[mark.artifact_type]);
        if (mark.details.expected) span.title = `script: “${mark.details.expected}” · ${span.title}`;
      }
      nodes.push(span, " ");
      return span;
    });
    while (o < omissions.length) nodes.push(missing(omissions[o++]));
    this.container.replaceChildren(...nodes);
    if (!words.length) this.container.textContent = "No speech was heard.";
  }

  // The word under the playhead (binary search over start times).
  highlight(seconds) {
    const ms = seconds * 1000;
    let lo = 0;
    let hi = this.words.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.words[mid].start_ms <= ms) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found >= 0 && ms > this.words[found].end_ms) found = -1;
    if (found === this.current) return;
    this.spans[this.current]?.classList.remove("current");
    this.spans[found]?.classList.add("current");
    this.current = found;
  }
}
