// The scanner's offline outbox: scans made without a network wait in IndexedDB (photos as
// Blobs) and are sent later with the idempotency key they were given when made, so a scan
// that did reach the server before the connection dropped is never applied twice.

const DB_NAME = "bipa-scanner";
const STORE = "outbox";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class Outbox {
  constructor() {
    this.db = null;
    this.memory = null; // fallback when IndexedDB is unavailable (private modes)
    this.listeners = new Set();
  }

  async open() {
    if (this.db || this.memory) return;
    try {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: "idempotencyKey" });
        store.createIndex("createdAt", "createdAt");
      };
      this.db = await request(req);
    } catch {
      this.memory = new Map();
    }
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  async _changed() {
    const n = await this.count();
    for (const listener of this.listeners) listener(n);
  }

  async _store(mode) {
    await this.open();
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  async put(job) {
    await this.open();
    if (this.memory) this.memory.set(job.idempotencyKey, job);
    else {
      const store = await this._store("readwrite");
      await request(store.put(job));
    }
    await this._changed();
  }

  async remove(key) {
    await this.open();
    if (this.memory) this.memory.delete(key);
    else {
      const store = await this._store("readwrite");
      await request(store.delete(key));
    }
    await this._changed();
  }

  /** Every waiting scan, oldest first. */
  async all() {
    await this.open();
    if (this.memory) return [...this.memory.values()].sort((a, b) => a.createdAt - b.createdAt);
    const store = await this._store("readonly");
    return request(store.index("createdAt").getAll());
  }

  async count() {
    await this.open();
    if (this.memory) return this.memory.size;
    const store = await this._store("readonly");
    return request(store.count());
  }
}
