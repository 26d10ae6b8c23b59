package io.sparktf.ml

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path}
import java.util.concurrent.TimeUnit

import com.fasterxml.jackson.databind.ObjectMapper
import org.slf4j.LoggerFactory

import io.sparktf.SparkTFException
import io.sparktf.node.{NodeLauncher, NodeProcess, OutputPump}
import io.sparktf.rpc.ClusterSecret

/** A model server process on this executor: `python -m sparktf.serving` holding one SavedModel
 *  signature, answering on `host:port` behind its own secret. Tasks hand it their batches as
 *  files in `sharedDir` (shared memory) when this machine has one.
 *  {{{
 *  val server = ModelServerProcess.start(ModelKey("/tmp/export", "serving_default", "v1"),
 *    "python3", "127.0.0.1", 120)
 *  try println(server.port) finally server.stop()
 *  }}}
 */
final class ModelServerProcess private (val key: ModelKey, val host: String, val port: Int,
    val secret: ClusterSecret, process: Process, workDir: Path, out: OutputPump, err: OutputPump,
    val sharedDir: Option[Path]) {
  def isAlive: Boolean = process.isAlive
  def pid: Long = process.pid()
  def stderrTail: String = err.lastOutput

  def stop(): Unit = {
    process.destroy()
    if (!process.waitFor(5, TimeUnit.SECONDS)) {
      process.destroyForcibly()
      process.waitFor(10, TimeUnit.SECONDS)
    }
    out.join(2000)
    err.join(2000)
    NodeProcess.deleteTree(workDir)
    sharedDir.foreach(NodeProcess.deleteTree)
  }
}

/** What a model server holds: a SavedModel's signature, at one version of its files. */
final case class ModelKey(exportDir: String, signature: String, version: String)

object ModelServerProcess {
  private val log = LoggerFactory.getLogger("io.sparktf.serving")
  private val mapper = new ObjectMapper()

  def start(key: ModelKey, python: String, host: String, readyTimeoutSeconds: Double): ModelServerProcess = {
    val workDir = NodeLauncher.workingDir("model", "server")
    val sharedDir = NodeLauncher.sharedDir("model", "server")
    val secret = ClusterSecret.create(s"model-${System.nanoTime()}", None)
    val ready = workDir.resolve("ready.json")
    val boot = workDir.resolve("bootstrap.json")
    val conf = mapper.createObjectNode()
      .put("export_dir", key.exportDir).put("signature", key.signature)
      .put("secret", secret.value).put("host", host).put("ready_file", ready.toString)
      .put("shared_dir", sharedDir.map(_.toString).orNull)
    Files.write(boot, mapper.writeValueAsBytes(conf))
    val pb = NodeLauncher.pythonModule(python, "sparktf.serving", boot.toString, workDir)
    pb.environment().putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2")
    val label = s"model-server ${key.signature}@${key.exportDir}"
    val (process, out, err) = NodeLauncher.startPumped(pb, "the model server", label, python, log)
    log.info(s"started $label, pid ${process.pid()}")
    val deadline = System.nanoTime() + (readyTimeoutSeconds * 1e9).toLong
    def fail(why: String): Nothing = {
      process.destroyForcibly()
      process.waitFor(10, TimeUnit.SECONDS)
      err.join(2000)
      NodeProcess.deleteTree(workDir)
      sharedDir.foreach(NodeProcess.deleteTree)
      throw new SparkTFException(s"the model server for signature '${key.signature}' of " +
        s"'${key.exportDir}' $why; its stderr ends with:\n${err.lastOutput}")
    }
    while (!Files.exists(ready)) {
      if (!process.isAlive) {
        process.waitFor()
        err.join(2000)
        fail(s"exited with code ${process.exitValue()} before it was ready")
      }
      if (System.nanoTime() > deadline) fail(s"was not ready within $readyTimeoutSeconds s")
      Thread.sleep(50)
    }
    val port = mapper.readTree(new String(Files.readAllBytes(ready), StandardCharsets.UTF_8))
      .get("port").asInt()
    new ModelServerProcess(key, host, port, secret, process, workDir, out, err, sharedDir)
  }
}
