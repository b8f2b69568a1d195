// Rendered markdown with live widgets, and the editor (markdown beside its live preview) that
// reports and notes share.
import { useEffect, useMemo, useRef, useState, type ClipboardEvent, type DragEvent } from "react";
import { renderMarkdown, type RenderOptions } from "./markdown";

type Block = { kind: "html"; html: string } | { kind: "widget"; src: string; width: string; height: string };

/** The sanitized HTML cut into blocks: a top-level widget iframe is its own block, so React
 * keeps it (and its chart) while the text around it changes. */
export function blocksOf(html: string): Block[] {
  const template = document.createElement("template");
  template.innerHTML = html;
  const out: Block[] = [];
  let pending = "";
  const flush = () => { if (pending.trim()) out.push({ kind: "html", html: pending }); pending = ""; };
  for (const node of Array.from(template.content.childNodes)) {
    const frame = node instanceof HTMLElement
      ? (node.tagName === "IFRAME" ? node : node.tagName === "P" && node.children.length === 1 && node.textContent?.trim() === "" ? node.querySelector(":scope > iframe") : null)
      : null;
    if (frame) {
      flush();
      out.push({ kind: "widget", src: frame.getAttribute("src") ?? "", width: frame.getAttribute("width") ?? "100%", height: frame.getAttribute("height") ?? "400" });
    } else {
      pending += node instanceof Element ? node.outerHTML : node.textContent ?? "";
    }
  }
  flush();
  return out;
}

/** Where a widget's data comes from, in the web UI: one experiment, several (Compare), or the
 * project of a dynamic query. */
export function resourceOf(src: string): string | null {
  const url = new URL(src, window.location.origin);
  const objects = url.searchParams.getAll("objects").flatMap((o) => o.split(",")).filter(Boolean);
  if (objects.length === 1) return `/experiments/${encodeURIComponent(objects[0] ?? "")}`;
  if (objects.length > 1) return `/compare?ids=${objects.map(encodeURIComponent).join(",")}`;
  const project = url.searchParams.get("project");
  return project ? `/projects/${project.split("/").map(encodeURIComponent).join("/")}` : null;
}

/** Whether the page is drawn light (the theme switch, or the system's when it follows it). */
function lightPage(): boolean {
  const theme = document.documentElement.dataset.theme;
  return theme === "light" || (theme !== "dark" && window.matchMedia("(prefers-color-scheme: light)").matches);
}

function Widget({ src, width, height, share, eager }: { src: string; width: string; height: string; share: boolean; eager: boolean }) {
  const back = share ? null : resourceOf(src);
  const shown = lightPage() && !src.includes("light=") ? `${src}&light=1` : src;
  const w = /^\d+$/.test(width) ? `${width}px` : /^\d+%$/.test(width) ? width : "100%";
  const h = /^\d+$/.test(height) ? Math.min(Number(height), 2000) : 400;
  return (
    <figure className="report-widget">
      <iframe src={shown} title="Live chart" loading={eager ? "eager" : "lazy"} referrerPolicy="no-referrer" style={{ width: w, height: h }} />
      {back && <figcaption><a href={back}>Return to resource</a></figcaption>}
    </figure>
  );
}

/** A report's or a note's markdown, rendered and sanitized, widgets live. */
export function MarkdownView({ text, options = {}, label }: { text: string; options?: RenderOptions; label: string }) {
  const blocks = useMemo(() => blocksOf(renderMarkdown(text, options)), [text, options]);
  const seen = new Map<string, number>();
  return (
    <article className="markdown" aria-label={label}>
      {blocks.length === 0 && <p className="muted">Nothing written yet.</p>}
      {blocks.map((b, i) => {
        if (b.kind === "html") return <div key={`h${i}`} dangerouslySetInnerHTML={{ __html: b.html }} />;
        const n = (seen.get(b.src) ?? 0) + 1;
        seen.set(b.src, n);
        return <Widget key={`w${b.src}#${n}`} src={b.src} width={b.width} height={b.height} share={Boolean(options.share)} eager={Boolean(options.print)} />;
      })}
    </article>
  );
}

/** Markdown beside its live preview. ``onImage`` stores a pasted or dropped image and gives its URL. */
export function MarkdownEditor({ text, onChange, onImage, label }: {
  text: string; onChange: (text: string) => void; onImage?: (file: File) => Promise<string>; label: string;
}) {
  const area = useRef<HTMLTextAreaElement>(null);
  const [shown, setShown] = useState(text);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const t = setTimeout(() => setShown(text), 150);
    return () => clearTimeout(t);
  }, [text]);
  /** Puts ``snippet`` at the cursor as a paragraph of its own (after raw HTML such as an
   * embedded chart, markdown on the next line would be read as more HTML). */
  const insert = (snippet: string) => {
    const el = area.current;
    const at = el ? el.selectionStart : text.length;
    const end = el ? el.selectionEnd : text.length;
    const before = text.slice(0, at);
    const after = text.slice(end);
    const lead = before === "" || before.endsWith("\n\n") ? "" : before.endsWith("\n") ? "\n" : "\n\n";
    const trail = after === "" || after.startsWith("\n\n") ? "" : after.startsWith("\n") ? "\n" : "\n\n";
    onChange(before + lead + snippet + trail + after);
  };
  const images = (files: FileList | null): boolean => {
    const list = Array.from(files ?? []).filter((f) => f.type.startsWith("image/"));
    if (!onImage || list.length === 0) return false;
    setProblem(null);
    for (const file of list) {
      onImage(file).then(
        (url) => insert(`![${file.name.replace(/[[\]]/g, "")}](${url})`),
        (e: unknown) => setProblem(`The image could not be stored: ${e instanceof Error ? e.message : String(e)}`),
      );
    }
    return true;
  };
  return (
    <div className="md-editor">
      <div className="md-source">
        <textarea
          ref={area} value={text} spellCheck aria-label={`${label} (markdown)`}
          onChange={(e) => onChange(e.target.value)}
          onPaste={(e: ClipboardEvent<HTMLTextAreaElement>) => { if (images(e.clipboardData.files)) e.preventDefault(); }}
          onDrop={(e: DragEvent<HTMLTextAreaElement>) => { if (images(e.dataTransfer.files)) e.preventDefault(); }}
        />
        <p className="muted hint">Markdown. Paste or drop images; paste a chart's “Embed in report” code to show it live.</p>
        {problem && <p role="alert" className="notice">{problem}</p>}
      </div>
      <MarkdownView text={shown} label={`${label} (preview)`} />
    </div>
  );
}
