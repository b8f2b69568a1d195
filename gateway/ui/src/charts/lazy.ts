// Only what comes near the view is mounted and fetched (a tab of 200 charts stays light).
import { useEffect, useState, type RefObject } from "react";

export function useNear(ref: RefObject<Element>, margin = "300px"): boolean {
  const [near, setNear] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || near) return;
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setNear(true);
    }, { rootMargin: margin });
    seen.observe(el);
    return () => seen.disconnect();
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
