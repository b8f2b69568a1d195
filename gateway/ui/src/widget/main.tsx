// The /widget/ page: the gateway puts the widget's data in the page (script#tl-data, JSON) and
// the theme on <html data-theme>; this draws it with the web UI's own charts and colours and
// reads it again every 5 s while any experiment it shows is running.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "../theme.css";
import "./widget.css";
import { WidgetApp, type WidgetData } from "./WidgetApp";

const data = JSON.parse(document.getElementById("tl-data")?.textContent ?? "{}") as WidgetData;
createRoot(document.getElementById("tl-root")!).render(<StrictMode><WidgetApp initial={data} /></StrictMode>);
