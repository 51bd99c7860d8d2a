import { HttpClient } from '@actions/http-client'
import { createWriteStream, promises as fs } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { ExternalError } from '../errors.js'

export interface DownloadLimits {
  /** No byte for this long (connecting, waiting for headers, or mid-body): the download fails. */
  stallMs: number
  /** The whole download, retries included. */
  totalMs: number
}

const RETRY_DELAYS_MS = [2000, 5000]

/**
 * Downloads `url` to `file` through @actions/http-client (which honours the runner's proxy settings), retrying
 * server errors and dropped connections as @actions/tool-cache does, but with time bounds tool-cache lacks: a
 * stalled connection or a drip-fed body ends in an ExternalError instead of a step that never ends.
 */
export async function downloadFile(url: string, file: string, limits: DownloadLimits): Promise<void> {
  const deadline = Date.now() + limits.totalMs
  for (let attempt = 0; ; attempt++) {
    try {
      await attemptDownload(url, file, limits, deadline)
      return
    } catch (error) {
      await fs.rm(file, { force: true })
      const delay = RETRY_DELAYS_MS[attempt]
      const retriable = !(error instanceof DownloadError) || error.retriable
      if (!retriable || delay === undefined || Date.now() + delay >= deadline) throw asExternal(error)
      await sleep(delay)
    }
  }
}

class DownloadError extends ExternalError {
  constructor(
    message: string,
    readonly retriable: boolean
  ) {
    super(message)
  }
}

async function attemptDownload(
  url: string,
  file: string,
  { stallMs, totalMs }: DownloadLimits,
  deadline: number
): Promise<void> {
  const client = new HttpClient('digest-delivery/scan-gate', [], {
    socketTimeout: stallMs,
    allowRetries: false,
    allowRedirects: true,
    maxRedirects: 5
  })
  const controller = new AbortController()
  const total = setTimeout(
    () => controller.abort(new DownloadError(`it did not finish within ${totalMs / 1000}s`, false)),
    Math.max(0, deadline - Date.now())
  )
  const idle = setTimeout(
    () => controller.abort(new DownloadError(`no data arrived for ${stallMs / 1000}s`, true)),
    stallMs
  )
  try {
    const response = await Promise.race([
      client.get(url),
      new Promise<never>((_, reject) =>
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })
      )
    ])
    const status = response.message.statusCode ?? 0
    if (status !== 200) {
      response.message.resume()
      throw new DownloadError(`HTTP ${status}`, status >= 500 || status === 408 || status === 429)
    }
    response.message.on('data', () => idle.refresh())
    await pipeline(response.message, createWriteStream(file), { signal: controller.signal })
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error
  } finally {
    clearTimeout(total)
    clearTimeout(idle)
    client.dispose()
  }
}

function asExternal(error: unknown): ExternalError {
  if (error instanceof ExternalError) return error
  return new ExternalError((error as Error).message)
}
