package io.sparktf.node

import java.io.{BufferedReader, InputStream, InputStreamReader}
import java.nio.charset.StandardCharsets

import org.slf4j.Logger

/** Copies one output stream of a node process into the executor log, each line prefixed with the
 *  node's role, and keeps the last `tailBytes` of it for error messages. */
final class OutputPump(in: InputStream, prefix: String, log: Logger, isError: Boolean,
    tailBytes: Int = 16 * 1024) extends Thread(s"sparktf-node-$prefix-${
        if (isError) "stderr" else "stdout"
      }") {
  setDaemon(true)
  private val tail = new java.lang.StringBuilder()

  override def run(): Unit = {
    val reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))
    try {
      var line = reader.readLine()
      while (line != null) {
        log.info(s"[$prefix] $line")
        tail.synchronized {
          tail.append(line).append('\n')
          if (tail.length > 2 * tailBytes) tail.delete(0, tail.length - tailBytes)
        }
        line = reader.readLine()
      }
    } catch {
      case _: java.io.IOException => // the process is gone: nothing more to copy
    }
  }

  def lastOutput: String = tail.synchronized {
    if (tail.length > tailBytes) tail.substring(tail.length - tailBytes) else tail.toString
  }
}
