// A beep (Web Audio) and a vibration for each scan result. Browsers only let a page make
// sound after a user gesture, so the audio context is unlocked on the first tap or key.

let audio = null;

function context() {
  if (!audio) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    try {
      audio = new Ctx();
    } catch {
      return null;
    }
  }
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

export function unlockAudioOnGesture() {
  const unlock = () => {
    context();
    window.removeEventListener("pointerdown", unlock);
    window.removeEventListener("keydown", unlock);
  };
  window.addEventListener("pointerdown", unlock);
  window.addEventListener("keydown", unlock);
}

function tone(ctx, frequency, start, duration, type = "sine", gain = 0.25) {
  const osc = ctx.createOscillator();
  const amp = ctx.createGain();
  osc.type = type;
  osc.frequency.value = frequency;
  amp.gain.setValueAtTime(0.0001, start);
  amp.gain.exponentialRampToValueAtTime(gain, start + 0.01);
  amp.gain.exponentialRampToValueAtTime(0.0001, start + duration);
  osc.connect(amp).connect(ctx.destination);
  osc.start(start);
  osc.stop(start + duration + 0.02);
}

// kind: "ok" (one high beep), "warn" (two short mid beeps), "error" (a low buzz), "queued"
const SOUNDS = {
  ok: (ctx, t) => tone(ctx, 1760, t, 0.12, "square", 0.15),
  warn: (ctx, t) => {
    tone(ctx, 880, t, 0.08, "square", 0.12);
    tone(ctx, 880, t + 0.14, 0.08, "square", 0.12);
  },
  error: (ctx, t) => tone(ctx, 220, t, 0.35, "sawtooth", 0.2),
  queued: (ctx, t) => tone(ctx, 1320, t, 0.06, "sine", 0.12),
};

const VIBRATIONS = {
  ok: [80],
  warn: [40, 60, 40],
  error: [200, 100, 200],
  queued: [30],
};

export function signal(kind) {
  const ctx = context();
  if (ctx && SOUNDS[kind]) {
    try {
      SOUNDS[kind](ctx, ctx.currentTime + 0.01);
    } catch {
      /* no sound is not an error */
    }
  }
  if (navigator.vibrate && VIBRATIONS[kind]) {
    try {
      navigator.vibrate(VIBRATIONS[kind]);
    } catch {
      /* not allowed before a user gesture */
    }
  }
  document.dispatchEvent(new CustomEvent("bipa:signal", { detail: { kind } }));
}
