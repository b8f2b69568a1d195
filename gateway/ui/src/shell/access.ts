// Who is looking, and what they may do: pages read it to disable what a role cannot do, with
// the reason on the control.
import { createContext, useContext } from "react";
import type { SessionInfo } from "../api";

export interface Access {
  session: SessionInfo | null; // null: browsing public projects without signing in
  workspace: string;
  canWrite: boolean;
  isAdmin: boolean;
  readOnlyReason: string;
}

export function accessOf(session: SessionInfo | null, workspace: string): Access {
  const role = session?.role ?? "";
  const canWrite = role === "member" || role === "admin";
  return {
    session,
    workspace: session?.workspace ?? workspace,
    canWrite,
    isAdmin: role === "admin",
    readOnlyReason: !session
      ? "Sign in to change anything: public projects are read-only"
      : canWrite ? "" : "Your role is viewer: the workspace is read-only for you",
  };
}

export const AccessContext = createContext<Access>(accessOf(null, ""));
export const useAccess = (): Access => useContext(AccessContext);
