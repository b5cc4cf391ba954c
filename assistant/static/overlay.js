// The OBS overlay: the anchor's audio through Web Audio, subtitles in time with it, the product
// card and the latest answered question.
import { RoomSocket, api, makeI18n, price, roomPath } from "/static/common.js";

const i18n = makeI18n({
  onStage: ["正在讲解", "On stage"],
  enableSound: ["点击开启声音", "Click to enable sound"],
});
i18n.apply();

const $ = (id) => document.getElementById(id);
const LEAD_S = 0.12; // the first chunk after silence starts this far ahead, to absorb jitter
const LATE_S = 0.02; // a chunk that should have started this long ago is a gap, not jitter
const SUBTITLE_WAIT_MS = 3000; // a subtitle whose audio never comes is shown anyway
const SUBTITLE_HOLD_MS = 10000; // and cleared once nothing new has been said for this long

// Read by the end-to-end tests and by anyone checking a broadcast setup in the browser console.
const stats = {
  chunksReceived: 0,
  chunksScheduled: 0,
  chunksDropped: 0,
  underruns: 0,
  scheduledSeconds: 0,
  subtitlesShown: 0,
  lastSeq: -1,
  contextState: "none",
};
window.lcaOverlay = stats;

class Player {
  constructor() {
    this.ctx = null;
    this.next = 0; // context time at which the scheduled audio runs out
  }

  context() {
    if (!this.ctx) {
      this.ctx = new AudioContext({ latencyHint: "playback" });
      this.ctx.onstatechange = () => this.showState();
      this.showState();
    }
    return this.ctx;
  }

  showState() {
    stats.contextState = this.ctx.state;
    $("sound").hidden = this.ctx.state === "running";
  }

  // Returns the context time the chunk starts at, or null when it could not be scheduled.
  play(header, data) {
    stats.chunksReceived += 1;
    if (header.seq <= stats.lastSeq && stats.lastSeq - header.seq < 64) {
      stats.chunksDropped += 1; // a repeat, e.g. around a reconnect
      return null;
    }
    stats.lastSeq = header.seq;
    const ctx = this.context();
    if (ctx.state !== "running") {
      // Until someone clicks (browsers) the clock stands still; queueing would replay stale audio.
      stats.chunksDropped += 1;
      this.next = 0;
      return null;
    }
    const pcm = new Int16Array(data, 0, Math.floor(data.byteLength / 2));
    if (pcm.length === 0) return null;
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i += 1) samples[i] = pcm[i] / 32768;
    const buffer = ctx.createBuffer(1, samples.length, header.sample_rate);
    buffer.copyToChannel(samples, 0);
    const now = ctx.currentTime;
    if (this.next > 0 && now > this.next + LATE_S) stats.underruns += 1;
    // After silence (or on joining mid-stream) start where the room's clock places the chunk.
    const start = this.next > now ? this.next : now + Math.max(LEAD_S, header.lead_s || 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    source.start(start);
    this.next = start + buffer.duration;
    stats.chunksScheduled += 1;
    stats.scheduledSeconds += buffer.duration;
    return start;
  }

  delayMs(start) {
    return Math.max(0, (start - this.ctx.currentTime) * 1000);
  }
}

class Subtitles {
  constructor(player) {
    this.player = player;
    this.pending = new Map(); // utterance id -> timer showing it if its audio never comes
    this.clearTimer = null;
  }

  onSubtitle(ev) {
    if (stats.chunksReceived === 0) {
      this.show(ev.text); // no audio on this token (a viewer overlay): show it as it is said
      return;
    }
    const timer = setTimeout(() => this.flush(ev.utterance_id, ev.text), SUBTITLE_WAIT_MS);
    this.pending.set(ev.utterance_id, { text: ev.text, timer });
  }

  onAudioStart(utteranceId, start) {
    const entry = this.pending.get(utteranceId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(utteranceId);
    // Unscheduled audio (sound not enabled yet) still moves the subtitles on.
    setTimeout(() => this.show(entry.text), start === null ? 0 : this.player.delayMs(start));
  }

  flush(utteranceId, text) {
    if (this.pending.delete(utteranceId)) this.show(text);
  }

  show(text) {
    $("subtitle").textContent = text;
    stats.subtitlesShown += 1;
    clearTimeout(this.clearTimer);
    this.clearTimer = setTimeout(() => {
      $("subtitle").textContent = "";
    }, SUBTITLE_HOLD_MS);
  }
}

function showCard(card) {
  if (!card) return;
  $("card").hidden = false;
  $("card").dataset.sku = card.sku;
  $("card-title").textContent = card.title;
  $("card-price").textContent = price(card.price);
  $("card-list").textContent = card.list_price && card.list_price > card.price ? price(card.list_price) : "";
  $("card-point").textContent = card.point;
}

function showAnswer(answer) {
  if (!answer) return;
  $("qa").hidden = false;
  $("qa").dataset.chatId = answer.chat_id;
  $("qa-question").textContent = answer.question || "";
  $("qa-answer").textContent = answer.text;
}

const player = new Player();
const subtitles = new Subtitles(player);
$("sound").addEventListener("click", () => player.context().resume());
document.addEventListener("click", () => player.ctx?.resume());

const socket = new RoomSocket({
  onOpen: async () => {
    try {
      const live = await api(roomPath("/live"));
      showCard(live.card);
      showAnswer(live.answer);
      if (live.subtitle && !$("subtitle").textContent) subtitles.show(live.subtitle.text);
    } catch (err) {
      console.error("overlay catch-up failed", err);
    }
  },
  onEvent: (ev) => {
    if (ev.type === "subtitle") subtitles.onSubtitle(ev);
    else if (ev.type === "product.card") showCard(ev);
    else if (ev.type === "answer") showAnswer(ev);
  },
  onAudio: (header, data) => {
    subtitles.onAudioStart(header.utterance_id, player.play(header, data));
  },
});
socket.connect();
