import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./shell/App";
import { applyTheme, savedTheme } from "./shell/theme";
import "./theme.css";

applyTheme(savedTheme()); // before the first paint: no flash of the other theme
const root = document.getElementById("root");
if (root) createRoot(root).render(<StrictMode><App /></StrictMode>);
