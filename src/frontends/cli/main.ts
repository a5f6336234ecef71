/**
 * Entry point of the `memweave` command (bin/memweave.js imports the
 * compiled form of this file): runs the command line and sets the exit code.
 */
import { runCli } from './program.js'

// A reader that goes away (`memweave cat … | head`) is not an error worth a message.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  process.stderr.write(`memweave: cannot write output: ${err.message}\n`)
  process.exit(1)
})

process.exitCode = await runCli(process.argv.slice(2))
