package io.sparktf.ml

import scala.collection.mutable

import org.slf4j.LoggerFactory

/** The model servers of this executor JVM: one process per model, started by the first task
 *  that needs it and reused by every later task and job, until the model's files change or the
 *  JVM exits. At most [[MaxIdleModels]] models are kept; the least recently used idle one goes.
 *  {{{
 *  val server = ModelServers.acquire(key, "python3", "127.0.0.1", 120)
 *  try useIt(server) finally ModelServers.release(server)
 *  }}}
 */
object ModelServers {
  private val log = LoggerFactory.getLogger("io.sparktf.serving")
  val MaxIdleModels = 2

  private final class Entry(val server: ModelServerProcess) {
    var users = 0
    var lastUsed: Long = System.nanoTime()
  }

  private val servers = mutable.LinkedHashMap[(String, String), Entry]()

  sys.addShutdownHook(stopAll())

  def acquire(key: ModelKey, python: String, host: String,
      readyTimeoutSeconds: Double): ModelServerProcess = synchronized {
    val slot = (key.exportDir, key.signature)
    servers.get(slot) match {
      case Some(e) if e.server.key == key && e.server.isAlive =>
        e.users += 1
        e.lastUsed = System.nanoTime()
        e.server
      case existing =>
        existing.foreach { e =>
          // The model was exported again, or its process died: the old one serves no more.
          log.info(s"replacing the model server pid ${e.server.pid} of ${key.exportDir} " +
            (if (e.server.isAlive) "(the model's files changed)" else "(its process ended)"))
          if (e.users == 0) e.server.stop()
          servers.remove(slot)
        }
        evictIdle()
        val e = new Entry(ModelServerProcess.start(key, python, host, readyTimeoutSeconds))
        e.users = 1
        servers(slot) = e
        e.server
    }
  }

  def release(server: ModelServerProcess): Unit = synchronized {
    servers.get((server.key.exportDir, server.key.signature)).filter(_.server eq server) match {
      case Some(e) =>
        e.users = math.max(0, e.users - 1)
        e.lastUsed = System.nanoTime()
      case None => server.stop() // replaced while in use: its last user stops it
    }
  }

  private def evictIdle(): Unit = {
    val idle = servers.toSeq.filter(_._2.users == 0).sortBy(_._2.lastUsed)
    idle.take(math.max(0, servers.size - MaxIdleModels + 1)).foreach { case (slot, e) =>
      e.server.stop()
      servers.remove(slot)
    }
  }

  def stopAll(): Unit = synchronized {
    servers.values.foreach(e =>
      try e.server.stop()
      catch { case _: Throwable => () })
    servers.clear()
  }
}
