/** The path of the current view as links, one per segment. */
import { formatRoute } from '../route.js'

export function Breadcrumbs(props: { path: string }) {
  const parts = props.path.split('/').filter((s) => s !== '')
  return (
    <nav class="crumbs">
      <a href="#/">/</a>
      {parts.map((part, i) => (
        <span key={i}>{i > 0 ? <span class="sep">/</span> : null}<a href={formatRoute({ path: parts.slice(0, i + 1).join('/') })}>{part}</a></span>
      ))}
    </nav>
  )
}
