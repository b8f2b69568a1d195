// Only what comes near the view is mounted and fetched (a tab of 200 charts stays light).
import { useEffect, useState, type RefObject } from "react";

export function useNear(ref: RefObject<Element>, margin = "300px"): boolean {
  const [near, setNear] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || near) return;
    let later: ReturnType<typeof setTimeout> | undefined;
    // In the window: at once. Only near it (within the margin): a moment later, so that what is
    // in view is fetched and drawn first and the rest is ready before a scroll reaches it.
    const seen = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        const box = e.boundingClientRect;
        const inView = box.bottom > 0 && box.top < window.innerHeight && box.right > 0 && box.left < window.innerWidth;
        if (inView) setNear(true);
        else later ??= setTimeout(() => setNear(true), 600);
      }
    }, { rootMargin: margin });
    seen.observe(el);
    return () => { seen.disconnect(); if (later) clearTimeout(later); };
  }, [near, ref, margin]);
  return near;
}

/** Saves ``blob`` under ``name`` in the person's downloads. */
export function download(name: string, blob: Blob): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** A file name from the parts of what is downloaded. */
export function fileBase(...parts: string[]): string {
  return parts.filter(Boolean).join("-").replace(/[^\w.-]+/g, "_").slice(0, 120);
}
