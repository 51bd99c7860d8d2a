/** True when a `paths` entry is a glob rather than a literal path. */
export function hasGlob(pattern: string): boolean {
  return /[*?[{]/.test(pattern)
}

/**
 * A regular expression for a glob over '/'-separated relative paths: `*` and `?` stay within one segment,
 * `**` spans any number of segments (zero included), `[abc]` / `[!abc]` are classes, `{a,b}` alternatives.
 */
export function globToRegExp(pattern: string): RegExp {
  const segments = pattern.split('/').filter(segment => segment !== '' && segment !== '.')
  let source = ''
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1
    if (segment === '**') {
      source += last ? '.*' : '(?:[^/]+/)*'
      return
    }
    source += segmentSource(segment) + (last ? '' : '/')
  })
  return new RegExp(`^${source}$`)
}

function segmentSource(segment: string): string {
  let out = ''
  let braces = 0
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!
    if (c === '*') out += '[^/]*'
    else if (c === '?') out += '[^/]'
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2)
      if (close < 0) {
        out += '\\['
        continue
      }
      let body = segment.slice(i + 1, close)
      const negate = body.startsWith('!') || body.startsWith('^')
      if (negate) body = body.slice(1)
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`
      i = close
    } else if (c === '{') {
      braces++
      out += '(?:'
    } else if (c === '}' && braces > 0) {
      braces--
      out += ')'
    } else if (c === ',' && braces > 0) out += '|'
    else out += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return out + ')'.repeat(braces)
}

/** The leading segments of a glob that hold no glob characters: where a walk for it starts. */
export function staticPrefix(pattern: string): string {
  const segments = pattern.split('/').filter(segment => segment !== '' && segment !== '.')
  const fixed: string[] = []
  for (const segment of segments) {
    if (hasGlob(segment)) break
    fixed.push(segment)
  }
  return fixed.join('/')
}

/** How many segments deep a glob can match, or Infinity with `**`. */
export function globDepth(pattern: string): number {
  const segments = pattern.split('/').filter(segment => segment !== '' && segment !== '.')
  return segments.includes('**') ? Infinity : segments.length
}
