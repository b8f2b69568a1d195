// Markdown -> sanitized HTML, one renderer for reports and notes (editor preview, read-only
// view, share page). markdown-it parses (raw HTML allowed, so <details>, <iframe> embeds and
// images with sizes work); DOMPurify then keeps only an allow-list: the markdown constructs,
// <details>/<summary>, images, and iframes to this gateway's /widget/ alone.
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import yaml from "highlight.js/lib/languages/yaml";
import MarkdownIt from "markdown-it";
import type StateCore from "markdown-it/lib/rules_core/state_core.mjs";

hljs.registerLanguage("python", python);
hljs.registerLanguage("bash", bash);
hljs.registerLanguage("json", json);
hljs.registerLanguage("yaml", yaml);

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const md = new MarkdownIt({
  html: true,
  linkify: true,
  highlight: (code, lang) => {
    const language = hljs.getLanguage(lang) ? lang : null;
    try {
      return language ? hljs.highlight(code, { language, ignoreIllegals: true }).value : escapeHtml(code);
    } catch {
      return escapeHtml(code);
    }
  },
});

/** GitHub's task lists: a list item starting with "[ ] " or "[x] " gets a (disabled) checkbox. */
md.core.ruler.after("inline", "task-lists", (state: StateCore) => {
  const tokens = state.tokens;
  for (let i = 2; i < tokens.length; i++) {
    const inline = tokens[i];
    const item = tokens[i - 2];
    if (!inline || !item || inline.type !== "inline" || tokens[i - 1]?.type !== "paragraph_open" || item.type !== "list_item_open") continue;
    const first = inline.children?.[0];
    const m = first && first.type === "text" ? /^\[([ xX])\]\s/.exec(first.content) : null;
    if (!first || !m) continue;
    first.content = first.content.slice(m[0].length);
    const box = new state.Token("html_inline", "", 0);
    box.content = m[1] === " " ? `<input type="checkbox" disabled aria-label="to do"> ` : `<input type="checkbox" disabled checked aria-label="done"> `;
    inline.children?.unshift(box);
    item.attrJoin("class", "task");
  }
  return false;
});

const TAGS = [
  "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "strong", "b", "em", "i", "s", "del", "code", "pre",
  "blockquote", "ul", "ol", "li", "input", "table", "thead", "tbody", "tr", "th", "td", "a", "img", "details",
  "summary", "span", "iframe", "sup", "sub", "kbd", "mark",
];
const ATTRS = ["href", "src", "title", "alt", "width", "height", "type", "checked", "disabled", "class", "style", "start", "open", "id", "aria-label"];
const WIDGET_PATH = "/widget/";

export interface RenderOptions {
  /** A share link's token: the report's widgets and images are read through it. */
  share?: string;
  /** Printing: every chart and image loads at once (nothing waits to be scrolled to). */
  print?: boolean;
}

/** Whether an iframe's src is this gateway's /widget/ (relative, or absolute on this origin). */
export function isWidget(src: string): boolean {
  try {
    const url = new URL(src, window.location.origin);
    return url.origin === window.location.origin && url.pathname === WIDGET_PATH && (url.protocol === "http:" || url.protocol === "https:");
  } catch {
    return false;
  }
}

let hooked: RenderOptions = {};
DOMPurify.addHook("uponSanitizeAttribute", (node, data) => {
  if (data.attrName === "style") {
    // only table alignment (markdown-it writes it), nothing that could position or load
    const m = /^\s*text-align:\s*(left|right|center)\s*;?\s*$/.exec(data.attrValue);
    data.keepAttr = m !== null && (node.nodeName === "TH" || node.nodeName === "TD");
    if (m) data.attrValue = `text-align:${m[1]}`;
  } else if (data.attrName === "class") {
    data.attrValue = data.attrValue.split(/\s+/).filter((c) => /^(hljs[\w-]*|language-[\w-]+|task)$/.test(c)).join(" ");
  } else if (data.attrName === "type") {
    data.keepAttr = node.nodeName === "INPUT" && data.attrValue === "checkbox";
  } else if (data.attrName === "id") {
    data.keepAttr = false;
  }
});
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  const el = node as Element;
  if (el.nodeName === "INPUT") {
    if (el.getAttribute("type") !== "checkbox") el.remove();
    else el.setAttribute("disabled", "");
  } else if (el.nodeName === "IFRAME") {
    const src = el.getAttribute("src") ?? "";
    if (!isWidget(src)) {
      el.remove();
      return;
    }
    const url = new URL(src, window.location.origin);
    url.searchParams.delete("token");
    if (hooked.share) url.searchParams.set("token", hooked.share);
    el.setAttribute("src", url.pathname + url.search);
    el.setAttribute("loading", "lazy");
    el.setAttribute("class", "report-widget");
    el.setAttribute("referrerpolicy", "no-referrer");
  } else if (el.nodeName === "A") {
    const href = el.getAttribute("href") ?? "";
    if (/^https?:/i.test(href)) {
      el.setAttribute("target", "_blank");
      el.setAttribute("rel", "noopener noreferrer");
    }
  } else if (el.nodeName === "IMG") {
    const src = el.getAttribute("src") ?? "";
    if (hooked.share && /^\/api\/v1\/reports\/r[0-9a-f]{24}\/images\//.test(src)) {
      el.setAttribute("src", `${src.split("?")[0]}?share=${encodeURIComponent(hooked.share)}`);
    }
    el.setAttribute("loading", hooked.print ? "eager" : "lazy");
    el.setAttribute("referrerpolicy", "no-referrer");
  }
});

/** The HTML of ``markdown``, sanitized: safe to set as innerHTML. */
export function renderMarkdown(markdown: string, options: RenderOptions = {}): string {
  hooked = options;
  try {
    return DOMPurify.sanitize(md.render(markdown), {
      ALLOWED_TAGS: TAGS,
      ALLOWED_ATTR: ATTRS,
      ALLOW_DATA_ATTR: false,
      ADD_TAGS: [],
      FORBID_TAGS: ["style", "script", "svg", "math", "form", "object", "embed"],
    });
  } finally {
    hooked = {};
  }
}

/** The /widget/ URLs a report's markdown shows (for "Return to resource" and counting). */
export function widgetSources(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/<iframe\b[^>]*?\bsrc\s*=\s*("[^"]*"|'[^']*')/gi)) {
    const src = (m[1] ?? "").slice(1, -1).replace(/&amp;/g, "&");
    if (isWidget(src)) out.push(src);
  }
  return out;
}
