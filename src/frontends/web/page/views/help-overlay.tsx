/** The keyboard help (`?`). */
const KEYS: ReadonlyArray<readonly [string, string]> = [
  ['Ctrl+G', 'go to a path, an address, or module+0xOFF'],
  ['/', 'filter the table, or search the hex view (scan)'],
  ['← → ↑ ↓', 'move the cursor in the hex view'],
  ['PgUp PgDn', 'scroll the hex view by a screen'],
  ['Enter', 'follow the pointer at the cursor'],
  ['?', 'this help'],
]

export function HelpOverlay(props: { onClose: () => void }) {
  return (
    <div class="overlay" onClick={props.onClose}>
      <div class="dialog" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard</h2>
        <table class="kv">{KEYS.map(([key, what]) => <tr key={key}><th><kbd>{key}</kbd></th><td>{what}</td></tr>)}</table>
        <button onClick={props.onClose}>Close</button>
      </div>
    </div>
  )
}
