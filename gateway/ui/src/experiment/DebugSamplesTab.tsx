// The Debug samples tab: a card per metric/variant with its latest sample; on each card
// previous / next / play, a slider over the iterations that still have their file, and a box to
// jump to an iteration. Images open in a viewer with zoom, pan and pixel coordinates; audio
// plays with its waveform drawn; video plays; HTML shows in a sandboxed frame (no scripts).
// While someone browses a card, the tab stops refreshing it, and says so.
import { useEffect, useRef, useState, type PointerEvent as ReactPointerEvent, type WheelEvent } from "react";
import { ApiError, api, type Experiment, type Schemas } from "../api";
import { useEmbed } from "../charts/EmbedBox";
import { bytes, datetime } from "../format";
import { useTick } from "../live";
import { navigate, withParams } from "../route";
import { Dialog } from "../ui/Dialog";

type Sample = Schemas["Sample"];

export function DebugSamplesTab({ experiment }: { experiment: Experiment }) {
  const tick = useTick();
  const url = new URL(window.location.href);
  const filter = url.searchParams.get("samples") ?? "";
  const regex = url.searchParams.get("samples_re") === "1";
  const atRaw = url.searchParams.get("samples_at") ?? "";
  const at = /^\d+$/.test(atRaw) ? Number(atRaw) : null; // every card at this iteration
  const [atText, setAtText] = useState(atRaw);
  const [latest, setLatest] = useState<Sample[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const live = experiment.status === "running";
  useEffect(() => {
    api.debugSamples(experiment.id, {}).then((s) => { setLatest(s.samples); setProblem(null); },
      (e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e)));
  }, [experiment.id, live ? Math.floor(tick / 3) : 0]); // eslint-disable-line react-hooks/exhaustive-deps
  const set = (change: Record<string, string>) => navigate(withParams(new URL(window.location.href), change), true);
  let match: (name: string) => boolean = (name) => !filter || name === filter || name.split(" / ").includes(filter);
  let badPattern = "";
  if (regex && filter) {
    try {
      const re = new RegExp(filter, "i");
      match = (name) => re.test(name);
    } catch (e) {
      badPattern = e instanceof Error ? e.message : String(e);
    }
  }
  if (problem && !latest) return <p role="alert" className="notice">{problem}</p>;
  if (!latest) return <p className="muted" aria-busy="true">Loading…</p>;
  if (!latest.length) return <p className="muted">No debug samples. run.log_image, log_audio, log_video and log_html report them.</p>;
  const shown = latest.filter((s) => match(`${s.metric} / ${s.variant}`));
  return (
    <div className="samples-tab">
      <div className="toolbar" role="group" aria-label="Find samples">
        <label>Metric or variant
          <input type="search" value={filter} placeholder={regex ? "regular expression" : "exact name"} onChange={(e) => set({ samples: e.target.value })}
            aria-invalid={badPattern ? true : undefined} />
        </label>
        <label className="check-label"><input type="checkbox" checked={regex} onChange={(e) => set({ samples_re: e.target.checked ? "1" : "" })} />regular expression</label>
        <form className="inline" onSubmit={(e) => { e.preventDefault(); set({ samples_at: /^\d+$/.test(atText.trim()) ? atText.trim() : "" }); }}>
          <label>At iteration
            <input inputMode="numeric" size={8} value={atText} placeholder="latest" onChange={(e) => setAtText(e.target.value)} />
          </label>
          <button type="submit">Show</button>
          {at !== null && <button type="button" onClick={() => { setAtText(""); set({ samples_at: "" }); }}>Latest</button>}
        </form>
        <span className="muted">{shown.length} of {latest.length}</span>
        {badPattern && <span role="alert" className="error">{badPattern}</span>}
      </div>
      <ul className="sample-grid">
        {shown.map((s) => <SampleCard key={`${s.metric}\u0000${s.variant}`} experiment={experiment} latest={s} atIteration={at} />)}
      </ul>
    </div>
  );
}

function SampleCard({ experiment, latest, atIteration }: { experiment: Experiment; latest: Sample; atIteration: number | null }) {
  const [shown, setShown] = useState<Sample>(latest);
  const [browsing, setBrowsing] = useState(false); // the person chose an iteration: stop following the latest
  const [playing, setPlaying] = useState(false);
  const [jump, setJump] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => { if (!browsing) setShown(latest); }, [latest, browsing]);
  useEffect(() => { // the tab's "at iteration": every card there (or saying it has none)
    if (atIteration !== null) go(atIteration);
    else { setBrowsing(false); setNote(null); }
  }, [atIteration]); // eslint-disable-line react-hooks/exhaustive-deps
  const iterations = shown.stored_iterations.length ? shown.stored_iterations : [shown.iteration];
  const at = Math.max(0, iterations.indexOf(shown.iteration));
  const go = (iteration: number, byPerson = true) => {
    setNote(null);
    api.debugSamples(experiment.id, { metric: latest.metric, variant: latest.variant, iteration }).then((answer) => {
      const found = answer.samples[0];
      if (!found) {
        setNote(`No sample at iteration ${iteration}${iterations.length ? `: stored are ${iterations[0]}–${iterations[iterations.length - 1]}` : ""}.`);
        return;
      }
      setShown(found);
      if (byPerson) setBrowsing(found.iteration !== latest.iteration || found.next_iteration !== null);
    }, (e: unknown) => setNote(e instanceof Error ? e.message : String(e)));
  };
  useEffect(() => { // play: the next stored iteration every second, stopping at the last
    if (!playing) return;
    const next = iterations[at + 1];
    if (next === undefined) { setPlaying(false); return; }
    const timer = setTimeout(() => go(next), 1000);
    return () => clearTimeout(timer);
  }, [playing, shown]); // eslint-disable-line react-hooks/exhaustive-deps
  const title = `${shown.metric} / ${shown.variant}`;
  const embed = useEmbed(() => ({ objects: experiment.id, type: "sample", metrics: shown.metric, variants: shown.variant }));
  const sliderId = `slider-${shown.metric}-${shown.variant}`.replace(/\W+/g, "-");
  return (
    <li className="sample-card" aria-label={title} data-iteration={shown.iteration} data-kind={shown.kind}>
      <div className="title-row">
        <h3 title={title}>{title}</h3>
        <span className="muted small">iteration {shown.iteration}</span>
        <span className="chart-actions">{embed.button}</span>
      </div>
      {embed.box}
      <div className="sample-media">
        <Media sample={shown} onOpen={() => setOpen(true)} />
      </div>
      <div className="sample-controls">
        <button type="button" aria-label="Previous iteration" disabled={shown.previous_iteration === null} onClick={() => shown.previous_iteration !== null && go(shown.previous_iteration)}>‹ Prev</button>
        <button type="button" aria-label={playing ? "Pause" : "Play the iterations"} aria-pressed={playing} disabled={iterations.length < 2} onClick={() => {
          if (!playing && at === iterations.length - 1 && iterations[0] !== undefined) go(iterations[0]);
          setPlaying(!playing);
        }}>{playing ? "Pause" : "Play"}</button>
        <button type="button" aria-label="Next iteration" disabled={shown.next_iteration === null} onClick={() => shown.next_iteration !== null && go(shown.next_iteration)}>Next ›</button>
        <label className="visually-hidden" htmlFor={sliderId}>Iteration of {title}</label>
        <input id={sliderId} type="range" min={0} max={Math.max(0, iterations.length - 1)} step={1} value={at} disabled={iterations.length < 2}
          aria-valuetext={`iteration ${iterations[at] ?? shown.iteration}`}
          onChange={(e) => { const it = iterations[Number(e.target.value)]; if (it !== undefined) go(it); }} />
        <form className="inline" onSubmit={(e) => { e.preventDefault(); const n = Number(jump); if (jump.trim() && Number.isInteger(n) && n >= 0) go(n); }}>
          <label className="visually-hidden" htmlFor={`${sliderId}-jump`}>Jump to an iteration of {title}</label>
          <input id={`${sliderId}-jump`} inputMode="numeric" placeholder="iteration" size={7} value={jump} onChange={(e) => setJump(e.target.value)} />
          <button type="submit">Go</button>
        </form>
      </div>
      {browsing && (
        <p className="muted small" role="status">
          Paused on iteration {shown.iteration}: new samples are not shown while you browse. <button type="button" className="link" onClick={() => { setBrowsing(false); setPlaying(false); }}>Follow the latest</button>
        </p>
      )}
      {note && <p role="alert" className="notice small">{note}</p>}
      <p className="muted small">{shown.content_type} · {bytes(shown.size)} · {datetime(shown.ts)} · {shown.iterations} stored</p>
      {shown.kind === "image" && (
        <Dialog title={`${title}, iteration ${shown.iteration}`} open={open} onClose={() => setOpen(false)}>
          <ImageViewer src={shown.url} />
          <div className="dialog-actions"><a className="button" href={shown.url} download>Download</a><button type="button" onClick={() => setOpen(false)}>Close</button></div>
        </Dialog>
      )}
    </li>
  );
}

export function Media({ sample, onOpen }: { sample: Sample; onOpen: () => void }) {
  switch (sample.kind) {
    case "image":
      return (
        <button type="button" className="thumb" onClick={onOpen} aria-label={`Open ${sample.metric} / ${sample.variant} at iteration ${sample.iteration}`}>
          <img src={sample.url} alt={`${sample.metric} / ${sample.variant}, iteration ${sample.iteration}`} />
        </button>
      );
    case "audio":
      return <><Waveform src={sample.url} /><audio controls src={sample.url} preload="metadata" aria-label={`${sample.metric} / ${sample.variant} audio`} /></>;
    case "video":
      return <video controls src={sample.url} preload="metadata" aria-label={`${sample.metric} / ${sample.variant} video`} />;
    case "html":
      return <iframe sandbox="" src={sample.url} title={`${sample.metric} / ${sample.variant}, iteration ${sample.iteration}`} />;
    default:
      return <a className="button" href={sample.url} download>Download ({sample.content_type})</a>;
  }
}

/** An image with zoom (wheel or buttons), pan (drag) and the pixel under the pointer. */
export function ImageViewer({ src }: { src: string }) {
  const [scale, setScale] = useState(1);
  const [offset, setOffset] = useState({ x: 0, y: 0 });
  const [pixel, setPixel] = useState<{ x: number; y: number } | null>(null);
  const drag = useRef<{ x: number; y: number } | null>(null);
  const img = useRef<HTMLImageElement>(null);
  const viewport = useRef<HTMLDivElement>(null);
  const [fitted, setFitted] = useState<{ width: number; height: number } | null>(null);
  const fit = () => { // the whole image in the viewport, however small it was logged (28×28 digits)
    const el = img.current;
    const box = viewport.current;
    if (!el || !box || !el.naturalWidth || box.clientWidth < 32 || box.clientHeight < 32) return; // not shown yet
    const by = Math.min((box.clientWidth - 16) / el.naturalWidth, (box.clientHeight - 16) / el.naturalHeight);
    setFitted({ width: el.naturalWidth * by, height: el.naturalHeight * by });
  };
  useEffect(() => { // the viewport gets its size when the dialog opens, and when the window resizes
    const box = viewport.current;
    if (!box || typeof ResizeObserver === "undefined") return;
    const watch = new ResizeObserver(fit);
    watch.observe(box);
    return () => watch.disconnect();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  const zoom = (by: number) => setScale((s) => Math.min(64, Math.max(0.25, s * by)));
  const onWheel = (e: WheelEvent) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1.25 : 0.8); };
  const onMove = (e: ReactPointerEvent) => {
    const el = img.current;
    if (el) {
      const box = el.getBoundingClientRect();
      const x = Math.floor(((e.clientX - box.left) / box.width) * el.naturalWidth);
      const y = Math.floor(((e.clientY - box.top) / box.height) * el.naturalHeight);
      setPixel(x >= 0 && y >= 0 && x < el.naturalWidth && y < el.naturalHeight ? { x, y } : null);
    }
    if (drag.current) {
      setOffset((o) => ({ x: o.x + e.clientX - drag.current!.x, y: o.y + e.clientY - drag.current!.y }));
      drag.current = { x: e.clientX, y: e.clientY };
    }
  };
  return (
    <div className="image-viewer">
      <div className="toolbar">
        <button type="button" onClick={() => zoom(1.5)} aria-label="Zoom in">+</button>
        <button type="button" onClick={() => zoom(1 / 1.5)} aria-label="Zoom out">−</button>
        <button type="button" onClick={() => { setScale(1); setOffset({ x: 0, y: 0 }); }}>Fit</button>
        <span className="muted" aria-live="polite" data-testid="pixel" title="Zoom, relative to the image fitted in the window">{Math.round(scale * 100)}%{img.current?.naturalWidth ? ` of fit · ${img.current.naturalWidth}×${img.current.naturalHeight} px` : ""}{pixel ? ` · x ${pixel.x}, y ${pixel.y}` : ""}</span>
      </div>
      <div className="viewport" ref={viewport} onWheel={onWheel} onPointerMove={onMove} onPointerLeave={() => setPixel(null)}
        onPointerDown={(e) => { drag.current = { x: e.clientX, y: e.clientY }; (e.target as Element).setPointerCapture?.(e.pointerId); }}
        onPointerUp={() => { drag.current = null; }}>
        <img ref={img} src={src} alt="The sample, zoomable" draggable={false} onLoad={fit}
          style={{ ...(fitted ?? {}), transform: `translate(${offset.x}px, ${offset.y}px) scale(${scale})` }} />
      </div>
    </div>
  );
}

/** The audio's waveform: decoded in the browser, drawn as min/max per pixel column. */
function Waveform({ src }: { src: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [state, setState] = useState("drawing");
  useEffect(() => {
    let current = true;
    const Ctx = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Ctx) { setState("unavailable"); return; }
    fetch(src).then((r) => r.arrayBuffer()).then(async (buffer) => {
      const context = new Ctx(); // browsers allow only a few at once: close it once decoded
      try { return await context.decodeAudioData(buffer); } finally { void context.close(); }
    }).then((audio) => {
      const el = canvas.current;
      if (!current || !el) return;
      const data = audio.getChannelData(0);
      const g = el.getContext("2d");
      if (!g) return;
      const { width, height } = el;
      g.clearRect(0, 0, width, height);
      g.fillStyle = getComputedStyle(el).color;
      const per = Math.max(1, Math.floor(data.length / width));
      const y = (v: number) => ((1 - Math.max(-1, Math.min(1, v))) / 2) * height;
      for (let x = 0; x < width; x += 1) { // the peaks faint, the loudness (RMS) solid inside them
        let lo = 1;
        let hi = -1;
        let squares = 0;
        const end = Math.min(data.length, (x + 1) * per);
        for (let i = x * per; i < end; i += 1) {
          const v = data[i]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
          squares += v * v;
        }
        if (hi < lo) continue;
        const rms = Math.sqrt(squares / Math.max(1, end - x * per));
        g.globalAlpha = 0.35;
        g.fillRect(x, y(hi), 1, Math.max(1, y(lo) - y(hi)));
        g.globalAlpha = 1;
        g.fillRect(x, y(rms), 1, Math.max(1, y(-rms) - y(rms)));
      }
      setState("drawn");
    }).catch(() => current && setState("unavailable"));
    return () => { current = false; };
  }, [src]);
  return <canvas ref={canvas} className="waveform" width={320} height={60} data-state={state} role="img" aria-label="Waveform" />;
}
