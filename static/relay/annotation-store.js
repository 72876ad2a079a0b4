// Annotations of one file in one set, kept in step with the server.
//
// Every edit is an operation (create / update / delete) applied locally at once and saved in the
// background, one request at a time per annotation, each PATCH/DELETE carrying the version it edited
// (If-Match). A 409 means someone else changed it first: nothing is overwritten; the conflict is handed
// to `onConflict`, which lets the user keep theirs or re-apply ours. Undo and redo replay the inverse
// operations through the same path, so they are saved like any edit.
import { api, ApiError } from "./api.js";

let nextKey = 1;

export class AnnotationStore extends EventTarget {
  constructor(baseUrl, audioId) {
    super();
    this.baseUrl = baseUrl; // …/annotation-sets/<set_id>/annotations
    this.audioId = audioId;
    this.items = new Map(); // key → {key, id, version, type, start_ms, end_ms}
    this.chains = new Map(); // key → the promise of its last queued save
    this.pending = 0;
    this.state = "saved";
    this.undoStack = [];
    this.redoStack = [];
    this.onConflict = null; // async (conflict) => "mine" | "theirs"
    this.failedSends = [];
  }

  async load() {
    let page = 1;
    for (;;) {
      const url = `${this.baseUrl}?audio_file_id=${this.audioId}&page_size=500&page=${page}`;
      const { body } = await api("GET", url);
      for (const a of body.items) this.put(fromServer(a));
      if (page * 500 >= body.total) break;
      page += 1;
    }
    this.emit("reset");
  }

  put(item) {
    item.key ??= `a${nextKey++}`;
    this.items.set(item.key, item);
    return item;
  }

  list() {
    return [...this.items.values()].sort((a, b) => a.start_ms - b.start_ms || a.end_ms - b.end_ms);
  }

  // --- edits -----------------------------------------------------------------------------------
  create(fields) {
    const item = this.put({ id: null, version: 0, ...fields });
    this.record({ kind: "create", key: item.key, after: snapshot(item) });
    this.emit("change", { key: item.key });
    this.save(item.key, () => this.sendCreate(item.key));
    return item;
  }

  update(key, fields) {
    const item = this.items.get(key);
    if (!item) return;
    const before = snapshot(item);
    Object.assign(item, fields);
    const after = snapshot(item);
    if (same(before, after)) return;
    this.record({ kind: "update", key, before, after });
    this.emit("change", { key });
    // Only what changed is sent, so an edit applied over someone else's keeps their other changes.
    const changes = Object.fromEntries(Object.entries(after).filter(([k, v]) => before[k] !== v));
    this.save(key, () => this.sendUpdate(key, changes));
  }

  remove(key) {
    const item = this.items.get(key);
    if (!item) return;
    this.record({ kind: "delete", key, before: snapshot(item) });
    this.items.delete(key);
    this.emit("change", { key, removed: true });
    this.save(key, () => this.sendDelete(item));
  }

  record(op) {
    if (this.replaying) return;
    this.undoStack.push(op);
    this.redoStack = [];
  }

  undo() {
    this.replay(this.undoStack, this.redoStack, inverse);
  }

  redo() {
    this.replay(this.redoStack, this.undoStack, (op) => op);
  }

  replay(from, to, transform) {
    const op = from.pop();
    if (!op) return;
    const step = transform(op);
    this.replaying = true;
    try {
      if (step.kind === "create") {
        const item = this.put({ id: null, version: 0, key: step.key, ...step.after });
        this.emit("change", { key: item.key });
        this.save(item.key, () => this.sendCreate(item.key));
      } else if (step.kind === "delete") this.remove(step.key);
      else this.update(step.key, step.after);
    } finally {
      this.replaying = false;
    }
    to.push(op);
  }

  // --- saving ----------------------------------------------------------------------------------
  save(key, send) {
    const previous = this.chains.get(key) || Promise.resolve();
    this.setPending(+1);
    const next = previous
      .then(send)
      .catch((error) => {
        this.failedSends.push({ key, send });
        this.failed(error);
      })
      .finally(() => this.setPending(-1));
    this.chains.set(key, next);
  }

  async sendCreate(key) {
    const item = this.items.get(key);
    if (!item) return; // deleted before it was saved: nothing to send
    const { body } = await api("POST", this.baseUrl, { json: { audio_file_id: this.audioId, ...fields(item) } });
    item.id = body.id;
    item.version = body.version;
  }

  async sendUpdate(key, changes, adopt = false) {
    const item = this.items.get(key);
    if (!item || !item.id) return;
    try {
      const { body } = await api("PATCH", `${this.baseUrl}/${item.id}`, {
        json: fields(changes),
        headers: { "If-Match": `"${item.version}"` },
      });
      item.version = body.version;
      if (adopt) this.adoptTheirs(item, fromServer(body)); // the merge of theirs and ours
    } catch (error) {
      if (error.status !== 409) throw error;
      await this.resolveConflict(item, changes, error);
    }
  }

  async sendDelete(item) {
    if (!item.id) return;
    try {
      await api("DELETE", `${this.baseUrl}/${item.id}`, { headers: { "If-Match": `"${item.version}"` } });
    } catch (error) {
      if (error.status === 404) return; // already gone: the outcome the user asked for
      if (error.status !== 409) throw error;
      await this.resolveConflict(item, null, error);
    }
  }

  // Someone else saved first. Show both versions; the user picks, nobody's work is dropped silently.
  async resolveConflict(item, mine, error) {
    let theirs = null;
    try {
      theirs = fromServer((await api("GET", `${this.baseUrl}/${item.id}`)).body);
    } catch (fetchError) {
      if (fetchError.status !== 404) throw fetchError;
    }
    if (theirs && theirs.version === item.version) throw error; // not a version conflict (e.g. published)
    this.setState("conflict", error.message);
    const choice = await this.onConflict({ item, mine, theirs });
    if (choice === "mine") {
      if (!theirs) {
        item.id = null; // they deleted it: bring ours back as a new annotation
        if (mine) return this.sendCreateFrom(item, mine);
        return;
      }
      item.version = theirs.version;
      if (mine) return this.sendUpdate(item.key, mine, true);
      return this.sendDelete(item);
    }
    this.adoptTheirs(item, theirs);
  }

  async sendCreateFrom(item, mine) {
    Object.assign(item, mine);
    this.items.set(item.key, item);
    this.emit("change", { key: item.key });
    await this.sendCreate(item.key);
  }

  adoptTheirs(item, theirs) {
    if (!theirs) {
      this.items.delete(item.key);
      this.emit("change", { key: item.key, removed: true });
      return;
    }
    Object.assign(item, { ...theirs, key: item.key });
    this.items.set(item.key, item);
    this.emit("change", { key: item.key });
  }

  retry() {
    const sends = this.failedSends;
    this.failedSends = [];
    this.setState("saving");
    for (const { key, send } of sends) this.save(key, send);
  }

  failed(error) {
    this.setState("error", error instanceof ApiError ? error.message : `could not save: ${error.message}`);
  }

  setPending(delta) {
    this.pending += delta;
    if (this.state === "error" || this.state === "conflict") {
      if (this.pending === 0 && delta < 0 && this.state === "conflict") this.setState("saved");
      return;
    }
    this.setState(this.pending > 0 ? "saving" : "saved");
  }

  setState(state, message = "") {
    this.state = state;
    this.message = message;
    this.emit("state", { state, message });
  }

  async idle() {
    await Promise.all([...this.chains.values()]);
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function fromServer(a) {
  return { id: a.id, version: a.version, type: a.artifact_type, start_ms: a.start_ms, end_ms: a.end_ms };
}

function snapshot(item) {
  return { type: item.type, start_ms: item.start_ms, end_ms: item.end_ms };
}

// Our field names → the API's (`type` → `artifact_type`), keeping only those present.
function fields(item) {
  const out = {};
  if (item.type !== undefined) out.artifact_type = item.type;
  if (item.start_ms !== undefined) out.start_ms = item.start_ms;
  if (item.end_ms !== undefined) out.end_ms = item.end_ms;
  return out;
}

function same(a, b) {
  return a.type === b.type && a.start_ms === b.start_ms && a.end_ms === b.end_ms;
}

function inverse(op) {
  if (op.kind === "create") return { kind: "delete", key: op.key };
  if (op.kind === "delete") return { kind: "create", key: op.key, after: op.before };
  return { kind: "update", key: op.key, after: op.before };
}
