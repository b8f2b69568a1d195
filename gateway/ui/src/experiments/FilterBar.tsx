// The filter box: the table's query language with completion of identifiers and keywords
// (arrows choose, Enter or Tab takes, Escape closes) and the server's error shown where it is.
import { useId, useRef, useState } from "react";
import { complete, errorPosition, suggest, wordAt } from "./querylang";

export function FilterBar({ value, identifiers, error, errorOffset, onApply }: {
  value: string;
  identifiers: readonly string[];
  error: string | null;
  errorOffset: number;
  onApply: (text: string) => void;
}) {
  const [text, setText] = useState(value);
  const [cursor, setCursor] = useState(0);
  const [active, setActive] = useState(0);
  const [open, setOpen] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const listId = useId();
  const [seen, setSeen] = useState(value);
  if (seen !== value) { // the URL changed under us (back button, a quick filter): follow it
    setSeen(value);
    setText(value);
  }
  const choices = open ? suggest(wordAt(text, cursor).word, identifiers) : [];
  const take = (choice: string) => {
    const next = complete(text, cursor, choice);
    setText(next.text);
    setOpen(false);
    requestAnimationFrame(() => {
      input.current?.setSelectionRange(next.cursor, next.cursor);
      setCursor(next.cursor);
    });
  };
  const position = error ? errorPosition(error) : null;
  const at = position === null ? null : Math.max(0, position - errorOffset);
  return (
    <form className="filterbar" role="search" onSubmit={(e) => { e.preventDefault(); setOpen(false); onApply(text.trim()); }}>
      <label htmlFor={`${listId}-input`}>Filter</label>
      <div className="combo">
        <input
          id={`${listId}-input`} ref={input} value={text} spellCheck={false} autoComplete="off"
          role="combobox" aria-expanded={choices.length > 0} aria-controls={listId} aria-autocomplete="list"
          aria-activedescendant={choices.length ? `${listId}-${active}` : undefined}
          aria-invalid={error ? true : undefined} aria-describedby={error ? `${listId}-error` : undefined}
          placeholder="metrics.loss/val < 0.2 AND attributes.status = 'completed'"
          onChange={(e) => { setText(e.target.value); setCursor(e.target.selectionStart ?? e.target.value.length); setOpen(true); setActive(0); }}
          onKeyUp={(e) => setCursor(e.currentTarget.selectionStart ?? 0)}
          onClick={(e) => setCursor(e.currentTarget.selectionStart ?? 0)}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
          onKeyDown={(e) => {
            if (!choices.length) return;
            if (e.key === "ArrowDown") { e.preventDefault(); setActive((active + 1) % choices.length); }
            else if (e.key === "ArrowUp") { e.preventDefault(); setActive((active - 1 + choices.length) % choices.length); }
            else if (e.key === "Tab" || (e.key === "Enter" && open)) { e.preventDefault(); take(choices[active] ?? choices[0]!); }
            else if (e.key === "Escape") { e.preventDefault(); setOpen(false); }
          }}
        />
        {choices.length > 0 && (
          <ul id={listId} role="listbox" className="suggestions" aria-label="Completions">
            {choices.map((choice, i) => (
              <li
                key={choice} id={`${listId}-${i}`} role="option" aria-selected={i === active}
                onMouseDown={(e) => { e.preventDefault(); take(choice); }}
              >{choice}</li>
            ))}
          </ul>
        )}
      </div>
      <button type="submit">Apply</button>
      {value && <button type="button" onClick={() => { setText(""); onApply(""); }}>Clear</button>}
      {error && (
        <div id={`${listId}-error`} role="alert" className="filter-error">
          {at !== null && at <= text.length && (
            <code className="filter-caret" aria-hidden="true">
              {text.slice(0, at)}<mark>{text.slice(at, at + 1) || " "}</mark>{text.slice(at + 1)}
            </code>
          )}
          <span>{error.replace(/at position \d+/, (m) => (at === null ? m : `at position ${at}`))}</span>
        </div>
      )}
    </form>
  );
}
