// Live views: a tick every two seconds while the page is visible. Each view re-reads what it
// shows on the tick; the API answers with ETags, so an unchanged answer is a 304 without a body
// and the same object (React does not render again).
import { createContext, useContext, useEffect, useState } from "react";

export const LIVE_INTERVAL_MS = 2000;

export function useTicker(): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let timer: ReturnType<typeof setInterval> | null = null;
    const start = () => {
      if (timer === null) timer = setInterval(() => setTick((t) => t + 1), LIVE_INTERVAL_MS);
    };
    const stop = () => {
      if (timer !== null) clearInterval(timer);
      timer = null;
    };
    const visibility = () => (document.hidden ? stop() : (setTick((t) => t + 1), start()));
    if (!document.hidden) start();
    document.addEventListener("visibilitychange", visibility);
    return () => {
      stop();
      document.removeEventListener("visibilitychange", visibility);
    };
  }, []);
  return tick;
}

export const Tick = createContext(0);
export const useTick = (): number => useContext(Tick);
